"""The SMTP transport: aiosmtplib, one connection per batch."""

import socket
import time
from collections.abc import Sequence
from functools import lru_cache

import aiosmtplib

from notifications.transport import (
    NOT_TRIED,
    SENT,
    Attempt,
    ConnectFailed,
    Mail,
    OnSent,
    Result,
    refused,
)
from plumbing.settings import Settings


@lru_cache(maxsize=1)
def local_hostname() -> str:
    # aiosmtplib otherwise resolves our name again on every connection.
    return socket.getfqdn()


class SMTPTransport:
    """aiosmtplib's SMTP client, one connection per batch (or, `reuse=False`, one per message).

    The connection is opened once (connect, EHLO, STARTTLS and login as the settings say), then
    each message goes out with `send_message`: its own MAIL, RCPT and DATA, and its own reply.
    A message that leaves the connection unusable (dropped, timed out, or closed by the server
    after a 421) is a transient failure of that message alone; the next one reconnects.
    """

    def __init__(self, settings: Settings, *, reuse: bool = True) -> None:
        self.settings = settings
        self.reuse = reuse
        self.client: aiosmtplib.SMTP | None = None

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host, port=s.smtp_port, timeout=s.smtp_timeout_seconds,
            start_tls=s.smtp_starttls, local_hostname=local_hostname(),
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
        )
        try:
            await client.connect()
            # EHLO now, not with the first message: a server that refuses it is unreachable
            # for the whole batch, not a refusal of that message.
            if client.last_ehlo_response is None:
                await client.ehlo()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            client.close()
            raise ConnectFailed(f"{type(error).__name__}: {error}") from error
        return client

    async def open(self) -> None:
        if self.reuse:
            self.client = await self._connect()

    async def send_all(self, mails: Sequence[Mail], deadline: float,
                       on_sent: OnSent | None = None) -> list[Attempt]:
        attempts: list[Attempt] = []
        for index, mail in enumerate(mails):
            if time.monotonic() > deadline:
                return attempts + [NOT_TRIED] * (len(mails) - index)
            if self.client is None:
                try:
                    self.client = await self._connect()
                except ConnectFailed as error:
                    failed = Attempt(Result.TRANSIENT, str(error))
                    return attempts + [failed] * (len(mails) - index)
            client = self.client
            attempts.append(await self._send(client, mail))
            if on_sent is not None and attempts[-1].result is Result.SENT:
                on_sent(index)
            if not client.is_connected:
                self.client = None
            elif not self.reuse:
                await self.close()
        return attempts

    @staticmethod
    async def _send(client: aiosmtplib.SMTP, mail: Mail) -> Attempt:
        """One message; whatever happens to it is its own outcome, not the next message's."""
        try:
            await client.send_message(mail.message, sender=mail.sender,
                                      recipients=[mail.recipient])
        except aiosmtplib.SMTPRecipientsRefused as error:
            first = error.recipients[0]
            return refused(first.code, first.message)
        except aiosmtplib.SMTPResponseException as error:
            return refused(error.code, error.message)
        except aiosmtplib.SMTPNotSupported as error:
            # Raised before any command (an address that needs SMTPUTF8): the connection is fine.
            return Attempt(Result.TRANSIENT, f"{type(error).__name__}: {error}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            # Whether the server kept the message is unknown; a retry carries the same
            # Message-ID, so the recipient can tell.
            client.close()
            return Attempt(Result.TRANSIENT, f"{type(error).__name__}: {error}")
        except ValueError as error:
            # aiosmtplib refuses an address it cannot put on a command line, before writing.
            return Attempt(Result.PERMANENT, f"not sent: {error}")
        return SENT

    async def close(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
