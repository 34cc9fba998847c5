"""Email: the outbox, who gets what, templates, the sender, reminders, the dev mailbox, and
the email actions (action links and replies).

Importing the package registers its listeners with the door, so every process that can
change a proposal also writes that change's emails, with their action links.
"""

from notifications import action_tokens
from notifications.outbox import install

install()
action_tokens.install()
