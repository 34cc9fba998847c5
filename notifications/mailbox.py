"""The dev mailbox of the embedded default: messages land in a table admins read at /mailbox."""

import asyncio
from collections.abc import Sequence

from sqlalchemy import Engine
from sqlmodel import Session

from notifications.models import DevMailboxMessage
from notifications.transport import SENT, Attempt, Mail, OnSent


class MailboxTransport:
    """The dev mailbox: messages land in a table that admins read at /mailbox."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.received: list[DevMailboxMessage] = []

    async def open(self) -> None:
        self.received = []

    async def send_all(self, mails: Sequence[Mail], deadline: float,
                       on_sent: OnSent | None = None) -> list[Attempt]:
        # Stored when the transport closes: nothing is delivered before, so nothing to report.
        for mail in mails:
            message = mail.message
            self.received.append(DevMailboxMessage(
                message_id=str(message["Message-ID"]), envelope_from=mail.sender,
                recipient=mail.recipient, subject=str(message["Subject"])[:500],
                raw=message.as_bytes()))
        return [SENT] * len(mails)

    async def close(self) -> None:
        received, self.received = self.received, []
        if received:
            await asyncio.to_thread(self._store, received)

    def _store(self, received: list[DevMailboxMessage]) -> None:
        with Session(self.engine) as session:
            session.add_all(received)
            session.commit()
