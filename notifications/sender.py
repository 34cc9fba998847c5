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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, and_, or_, update
from sqlmodel import Session, col, select

from notifications.expand import expand_pending
from notifications.mailbox import MailboxTransport
from notifications.models import OutboxMessage, OutboxStatus
from notifications.rendering import envelope_sender, message_for
from notifications.smtp import SMTPTransport
from notifications.transport import (
    Attempt,
    ConnectFailed,
    Mail,
    OnSent,
    Result,
    Transport,
    envelope_problem,
)
from plumbing.database import DATABASE_AWAY
from plumbing.retry import Clock, DeliveryPolicy
from plumbing.settings import Settings
from workflow import audit
from workflow.fields import as_utc, utcnow

log = logging.getLogger(__name__)


def transport_for(settings: Settings, engine: Engine) -> Callable[[], Transport]:
    """SMTP when MICROCRED_SMTP_HOST is set, else the dev mailbox."""
    if settings.smtp_host:
        return lambda: SMTPTransport(settings)
    return lambda: MailboxTransport(engine)


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
        # Rows marked sent the moment their 250 arrived, not yet counted by `record`.
        self.marked: set[int] = set()

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

    def renew(self, rows: Sequence[OutboxMessage]) -> list[OutboxMessage]:
        """Lease a batch claimed ahead (while the previous one was on the wire) from now on,
        for as long as sending it may take; answer the rows still this worker's."""
        ids = [row.id for row in rows]
        if not ids:
            return []
        until = self.clock() + timedelta(seconds=self.policy.lease_seconds)
        with Session(self.engine, expire_on_commit=False) as session:
            kept = set(session.execute(
                update(OutboxMessage).where(col(OutboxMessage.id).in_(ids), self._mine())
                .values(lease_until=until).returning(col(OutboxMessage.id))).scalars().all())
            session.commit()
        for row in rows:
            row.lease_until = until
        return [row for row in rows if row.id in kept]

    def _mine(self) -> ColumnElement[bool]:
        return and_(col(OutboxMessage.leased_by) == self.name,
                    col(OutboxMessage.status) == OutboxStatus.SENDING.value)

    def mark_sent(self, rows: Sequence[OutboxMessage]) -> None:
        """Mark messages the server has taken as sent, with their audit entries, at once: a
        worker that dies later in the batch does not send them again."""
        now = self.clock()
        with Session(self.engine, expire_on_commit=False) as session:
            done = self._sent(session, rows, now)
            session.commit()
        self.marked.update(row.id for row in done if row.id is not None)

    def _sent(self, session: Session, rows: Sequence[OutboxMessage], now: datetime
              ) -> list[OutboxMessage]:
        done = set(session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_([r.id for r in rows]), self._mine())
            .values(status=OutboxStatus.SENT.value, sent_at=now, lease_until=None,
                    leased_by=None, last_error=None)
            .returning(col(OutboxMessage.id))
        ).scalars().all())
        sent_now = [row for row in rows if row.id in done]
        audit_sent(session, sent_now, now)
        return sent_now

    async def deliver(self, rows: Sequence[OutboxMessage]) -> list[Outcome]:
        """Send a claimed batch over one connection; each message the server takes is marked
        sent as its 250 arrives (in a thread, while the next one goes out)."""
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
        sendable = [row for index, row in enumerate(rows) if index not in refusals]
        taken: list[OutboxMessage] = []
        writing: asyncio.Future[None] | None = None

        async def write_taken() -> None:
            while taken:
                batch = taken[:]
                del taken[:]
                try:
                    await asyncio.to_thread(self.mark_sent, batch)
                except Exception as error:  # the batch's `record` writes them instead
                    log.warning("marking sent messages failed, recording them with the "
                                "batch: %s", error)

        def on_sent(index: int) -> None:
            nonlocal writing
            taken.append(sendable[index])
            if writing is None or writing.done():
                writing = asyncio.ensure_future(write_taken())

        attempts = iter(await self._send(mails, deadline, on_sent))
        if writing is not None:
            await writing
        await write_taken()
        outcomes: list[Outcome] = []
        for index, row in enumerate(rows):
            attempt = refusals[index] if index in refusals else next(attempts)
            outcomes.append(Outcome(row, attempt.result, attempt.error))
        return outcomes

    async def _send(self, mails: Sequence[Mail], deadline: float,
                    on_sent: OnSent | None = None) -> list[Attempt]:
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
            attempts = await transport.send_all(mails, deadline, on_sent)
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
        mine = self._mine()
        with Session(self.engine, expire_on_commit=False) as session:
            sent = [o.row for o in outcomes if o.result is Result.SENT]
            early = {row.id for row in sent if row.id in self.marked}
            self.marked.difference_update(early)
            report.sent = len(early)
            late = [row for row in sent if row.id not in early]
            if late:
                report.sent += len(self._sent(session, late, now))
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
        # Recorded events become rendered messages first (notifications.expand.expand_pending).
        await asyncio.to_thread(expand_pending, self.engine, self.settings)
        rows = await asyncio.to_thread(self.claim)
        recording: asyncio.Future[DrainReport] | None = None
        try:
            while rows:
                total.batches += 1
                more = max_batches is None or total.batches < max_batches
                if total.batches > 1:
                    rows = await asyncio.to_thread(self.renew, rows)
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
