"""The sender: claims due outbox rows, sends them over one SMTP connection, records outcomes.

Three short steps, none holding a transaction across network I/O: claim (mark a batch
`sending` under a lease, `FOR UPDATE SKIP LOCKED` so concurrent workers on PostgreSQL take
disjoint batches), deliver (no database), record (sent, retry later, or dead letter). A worker
that dies mid-batch leaves rows `sending` until their lease runs out; then any worker claims
them again, with the same Message-ID.
"""

import asyncio
import logging
import os
import random
import socket
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from enum import StrEnum
from functools import lru_cache
from typing import Protocol

import aiosmtplib
from sqlalchemy import Engine, and_, or_, update
from sqlmodel import Session, col, select

from notifications.models import DevMailboxMessage, OutboxMessage, OutboxStatus
from notifications.outbox import expand_pending
from notifications.rendering import envelope_sender, message_for
from plumbing.database import DATABASE_AWAY
from plumbing.settings import Settings
from workflow import audit
from workflow.models import as_utc, utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DeliveryPolicy:
    """Retry and lease timings; tests pass small ones so nothing sleeps for real."""

    max_attempts: int = 12
    backoff_seconds: float = 60
    backoff_max_seconds: float = 3600
    # The delay is drawn from [(1 - jitter) * d, d], so failed batches do not retry in step.
    jitter: float = 0.5
    lease_seconds: float = 300
    batch_size: int = 100
    smtp_timeout_seconds: float = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> "DeliveryPolicy":
        return cls(
            max_attempts=settings.email_max_attempts,
            backoff_seconds=settings.email_backoff_seconds,
            backoff_max_seconds=settings.email_backoff_max_seconds,
            lease_seconds=settings.email_lease_seconds,
            batch_size=settings.email_batch_size,
            smtp_timeout_seconds=settings.smtp_timeout_seconds,
        )

    def backoff(self, attempts: int, rng: random.Random) -> float:
        """Seconds to wait after the given number of failed attempts."""
        ceiling = min(self.backoff_max_seconds, self.backoff_seconds * 2 ** max(attempts - 1, 0))
        return ceiling * (1 - self.jitter * rng.random())


# --- transports -----------------------------------------------------------------------------


class Result(StrEnum):
    SENT = "sent"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    # Not tried before the lease ran short: back to the queue without costing an attempt.
    NOT_TRIED = "not_tried"


@dataclass(frozen=True)
class Mail:
    sender: str  # "" is the null sender <>
    recipient: str
    message: EmailMessage


@dataclass(frozen=True)
class Attempt:
    result: Result
    error: str | None = None


NOT_TRIED = Attempt(Result.NOT_TRIED)
SENT = Attempt(Result.SENT)


def refused(code: int, text: str) -> Attempt:
    """5xx is permanent; 4xx, and anything else odd, is worth another try."""
    return Attempt(Result.PERMANENT if 500 <= code < 600 else Result.TRANSIENT, f"{code} {text}")


def address_problem(address: str) -> str | None:
    """Why `address` may not go into a MAIL FROM or RCPT TO command, or None if it may.

    Only a bare `local@domain` passes. A line break would end the command and start another
    one of the row's choosing; a display name, angle brackets or a space would make the server
    (or aiosmtplib, which keeps what `parseaddr` finds) read an address other than the row's.
    """
    if any(unicodedata.category(char).startswith("C") for char in address):
        return "contains a control character (such as CR or LF)"
    if any(char.isspace() for char in address):
        return "contains white space"
    local, _, domain = address.rpartition("@")
    if not local or not domain or "<" in address or ">" in address \
            or parseaddr(address) != ("", address):
        return "is not a plain address (local@domain)"
    return None


def envelope_problem(sender: str, recipient: str) -> str | None:
    """Why a message's envelope cannot be sent as it is; the null sender "" is allowed."""
    if problem := address_problem(recipient):
        return f"recipient {recipient!r} {problem}: not sent"
    if sender and (problem := address_problem(sender)):
        return f"envelope sender {sender!r} {problem}: not sent"
    return None


class ConnectFailed(Exception):
    """The SMTP server could not be reached or refused us before any message."""


class Transport(Protocol):
    async def open(self) -> None: ...

    async def send_all(self, mails: Sequence[Mail], deadline: float) -> list[Attempt]:
        """Try each mail in order until `deadline` (time.monotonic); one Attempt per mail."""
        ...

    async def close(self) -> None: ...


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

    async def send_all(self, mails: Sequence[Mail], deadline: float) -> list[Attempt]:
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


class MailboxTransport:
    """The dev mailbox: messages land in a table that admins read at /mailbox."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.received: list[DevMailboxMessage] = []

    async def open(self) -> None:
        self.received = []

    async def send_all(self, mails: Sequence[Mail], deadline: float) -> list[Attempt]:
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


def transport_for(settings: Settings, engine: Engine) -> Callable[[], Transport]:
    """SMTP when MICROCRED_SMTP_HOST is set, else the dev mailbox."""
    if settings.smtp_host:
        return lambda: SMTPTransport(settings)
    return lambda: MailboxTransport(engine)


# --- the sender -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    row: OutboxMessage
    result: Result
    error: str | None = None


@dataclass
class DrainReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    batches: int = 0
    # Kept out of the repr: `asyncio.run` formats the finished task (its result too) when it
    # restores the SIGINT handler, and every row of a long drain would be formatted.
    outcomes: list[Outcome] = field(default_factory=list, repr=False)

    def add(self, other: "DrainReport") -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.dead += other.dead
        self.outcomes += other.outcomes


def audit_sent(session: Session, rows: Sequence[OutboxMessage], at: datetime) -> None:
    """One `email_sent` entry per message, all of a batch's in one statement."""
    audit.append_many(session, at, [
        {"channel": "system", "action": "email_sent", "proposal_id": row.proposal_id,
         "detail": {"outbox_id": row.id, "event": row.event, "to": row.recipient,
                    "message_id": row.message_id}}
        for row in rows
    ])


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{random.randrange(16**4):04x}"


class Sender:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        transport: Callable[[], Transport] | None = None,
        policy: DeliveryPolicy | None = None,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        name: str | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.transport = transport or transport_for(settings, engine)
        self.policy = policy or DeliveryPolicy.from_settings(settings)
        self.clock = clock
        self.rng = rng or random.Random()
        self.name = name or worker_name()

    def claim(self) -> list[OutboxMessage]:
        """Lease the next due batch to this worker."""
        now = self.clock()
        due = or_(
            and_(col(OutboxMessage.status) == OutboxStatus.PENDING.value,
                 col(OutboxMessage.next_attempt_at) <= now),
            # A worker that died mid-batch gives its rows up when the lease runs out.
            and_(col(OutboxMessage.status) == OutboxStatus.SENDING.value,
                 col(OutboxMessage.lease_until) < now),
        )
        with Session(self.engine, expire_on_commit=False) as session:
            ids = list(session.exec(
                select(OutboxMessage.id).where(due).order_by(col(OutboxMessage.id))
                .limit(self.policy.batch_size).with_for_update(skip_locked=True)
            ).all())
            if not ids:
                session.commit()
                return []
            session.execute(
                update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(
                    status=OutboxStatus.SENDING.value, leased_by=self.name,
                    lease_until=now + timedelta(seconds=self.policy.lease_seconds),
                    attempts=OutboxMessage.attempts + 1,
                )
            )
            rows = list(session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(ids))
                                     .order_by(col(OutboxMessage.id))).all())
            session.commit()
            return rows

    async def deliver(self, rows: Sequence[OutboxMessage]) -> list[Outcome]:
        """Send a claimed batch over one connection; no database work here."""
        lease = self.policy.lease_seconds
        # Stop early enough that a slow last message still ends inside the lease.
        deadline = time.monotonic() + max(lease - 2 * self.policy.smtp_timeout_seconds, lease / 2)
        mail_from = self.settings.mail_from
        # An unsafe envelope is a dead letter here, before any connection: it never reaches
        # the server, and the rest of the batch goes out as if it had not been queued.
        refusals: dict[int, Attempt] = {}
        mails: list[Mail] = []
        for index, row in enumerate(rows):
            sender = envelope_sender(row, mail_from)
            if problem := envelope_problem(sender, row.recipient):
                refusals[index] = Attempt(Result.PERMANENT, problem)
            else:
                mails.append(Mail(sender, row.recipient, message_for(row, mail_from)))
        attempts = iter(await self._send(mails, deadline))
        outcomes: list[Outcome] = []
        for index, row in enumerate(rows):
            attempt = refusals[index] if index in refusals else next(attempts)
            outcomes.append(Outcome(row, attempt.result, attempt.error))
        return outcomes

    async def _send(self, mails: Sequence[Mail], deadline: float) -> list[Attempt]:
        """One Attempt per mail, in order, over one transport."""
        if not mails:
            return []
        transport = self.transport()
        try:
            await transport.open()
        except ConnectFailed as error:
            return [Attempt(Result.TRANSIENT, str(error))] * len(mails)
        attempts: list[Attempt] = []
        try:
            attempts = await transport.send_all(mails, deadline)
        finally:
            try:
                await transport.close()
            except Exception as error:
                # The dev mailbox could not store them: nothing was delivered after all.
                log.warning("closing the mail transport failed: %s", error)
                attempts = [Attempt(Result.TRANSIENT, str(error)) if a.result is Result.SENT
                            else a for a in attempts]
        return attempts

    def record(self, outcomes: Sequence[Outcome]) -> DrainReport:
        """Write what happened, only for rows this worker still holds."""
        report = DrainReport(outcomes=list(outcomes))
        now = self.clock()
        mine = and_(col(OutboxMessage.leased_by) == self.name,
                    col(OutboxMessage.status) == OutboxStatus.SENDING.value)
        with Session(self.engine, expire_on_commit=False) as session:
            sent = [o.row for o in outcomes if o.result is Result.SENT]
            if sent:
                done = set(session.execute(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id).in_([r.id for r in sent]), mine)
                    .values(status=OutboxStatus.SENT.value, sent_at=now, lease_until=None,
                            leased_by=None, last_error=None)
                    .returning(col(OutboxMessage.id))
                ).scalars().all())
                sent_now = [row for row in sent if row.id in done]
                report.sent = len(sent_now)
                audit_sent(session, sent_now, now)
            for outcome in outcomes:
                result, message = outcome.result, outcome.row
                if result is Result.SENT:
                    continue
                values: dict[str, object]
                if result is Result.NOT_TRIED:
                    values = {"status": OutboxStatus.PENDING.value, "lease_until": None,
                              "leased_by": None, "attempts": message.attempts - 1}
                elif result is Result.TRANSIENT and message.attempts < self.policy.max_attempts:
                    delay = self.policy.backoff(message.attempts, self.rng)
                    values = {"status": OutboxStatus.PENDING.value, "lease_until": None,
                              "leased_by": None, "last_error": (outcome.error or "")[:1000],
                              "next_attempt_at": now + timedelta(seconds=delay)}
                    report.retried += 1
                else:
                    values = {"status": OutboxStatus.DEAD.value, "lease_until": None,
                              "leased_by": None, "last_error": (outcome.error or "")[:1000]}
                changed = session.execute(
                    update(OutboxMessage).where(col(OutboxMessage.id) == message.id, mine)
                    .values(**values)).rowcount  # type: ignore[attr-defined]
                if changed and values["status"] == OutboxStatus.DEAD.value:
                    report.dead += 1
                    audit.append(session, actor=None, role=None, channel="system",
                                 action="email_dead", proposal_id=message.proposal_id,
                                 detail={"outbox_id": message.id, "event": message.event,
                                         "to": message.recipient,
                                         "message_id": message.message_id,
                                         "attempts": message.attempts,
                                         "error": outcome.error})
            session.commit()
        return report

    async def drain(self, max_batches: int | None = None) -> DrainReport:
        """Turn recorded events into emails, then send batches until nothing is due.

        While one batch is on the wire, the previous one is recorded and the next one claimed
        (in threads): the sender mostly waits for the server's replies, so the database work
        costs no time of its own.
        """
        total = DrainReport()
        # Recorded events become rendered messages first (notifications.outbox.expand_pending).
        await asyncio.to_thread(expand_pending, self.engine, self.settings)
        rows = await asyncio.to_thread(self.claim)
        recording: asyncio.Future[DrainReport] | None = None
        try:
            while rows:
                total.batches += 1
                more = max_batches is None or total.batches < max_batches
                claiming = asyncio.ensure_future(asyncio.to_thread(self.claim)) if more else None
                outcomes = await self.deliver(rows)
                if recording is not None:
                    done, recording = recording, None
                    total.add(await done)
                recording = asyncio.ensure_future(self.record_until_stored(rows, outcomes))
                rows = await claiming if claiming is not None else []
        finally:
            # Even when claiming the next batch failed: what was sent must be recorded.
            if recording is not None:
                total.add(await recording)
        return total

    async def record_until_stored(self, rows: Sequence[OutboxMessage],
                                  outcomes: Sequence[Outcome]) -> DrainReport:
        """Record a sent batch, waiting out a database that is briefly away.

        Giving up at once would leave the rows `sending` until their lease ran out, and then
        send them a second time. Past the lease another worker may already have them.
        """
        leases = [row.lease_until for row in rows if row.lease_until is not None]
        give_up = min(leases) if leases else self.clock()
        pause = 0.25
        while True:
            try:
                return await asyncio.to_thread(self.record, outcomes)
            except DATABASE_AWAY as error:
                if self.clock() + timedelta(seconds=pause) >= as_utc(give_up):
                    raise
                log.warning("recording a sent batch failed, trying again: %s", error)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5)
