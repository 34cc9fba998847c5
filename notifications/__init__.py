"""Email: the outbox, who gets what, templates, the sender, reminders, the dev mailbox, and
the email actions (action links and replies)."""
