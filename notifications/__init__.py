"""Email: the outbox, who gets what, templates, the sender, reminders and the dev mailbox.

Importing the package registers its listeners with the door, so every process that can
change a proposal also writes that change's emails.
"""

from notifications.outbox import install

install()
