"""The worker's first step: recorded events (`workflow.events`) become rendered messages."""

import logging
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, delete, select, update

from notifications.compose import notify
from notifications.matrix import Audience
from notifications.recipients import Recipient
from plumbing.database import DATABASE_AWAY, read_session, write_session
from plumbing.logs import Throttled
from plumbing.settings import Settings
from workflow.accounts.models import User
from workflow.awards.models import Award
from workflow.awards.service import award_url
from workflow.credentials.models import Credential
from workflow.events import Event, OutboxEvent
from workflow.fields import as_utc
from workflow.machine import State
from workflow.proposals.models import Proposal

log = logging.getLogger(__name__)
database_away = Throttled(log, 10)


def expand(session: Session, row: OutboxEvent, settings: Settings) -> int:
    """Queue the emails of one recorded event; answer how many."""
    proposal = session.get(Proposal, row.proposal_id)
    if proposal is None:
        return 0
    actor = session.get(User, row.actor_id) if row.actor_id is not None else None
    named = list(session.exec(select(User).where(col(User.id).in_(row.named))
                              .order_by(col(User.email))).all()) if row.named else []
    learner, context = None, None
    if row.award_id is not None:
        award = session.get(Award, row.award_id)
        if award is None:
            return 0
        learner = Recipient(email=award.recipient_email, name=award.recipient_name,
                            role=Audience.LEARNER.value)
        context = {"award": award_facts(session, award, actor, settings)}
    return notify(session, Event(row.event), proposal, actor=actor, comment=row.comment,
                  named=named, as_of=(State(row.state), row.version), settings=settings,
                  learner=learner, context=context)


def award_facts(session: Session, award: Award, awarder: User | None, settings: Settings
                ) -> dict[str, Any]:
    """What the learner's email says of their award."""
    credential = session.get(Credential, award.credential_id)
    assert credential is not None
    return {"title": credential.title, "department": credential.department_name,
            "issuer": settings.issuer_name, "url": award_url(settings, award.public_id),
            "awarder": awarder.name if awarder else settings.issuer_name,
            "expires": (f"{as_utc(award.expires_at).day} {as_utc(award.expires_at):%B %Y}"
                        if award.expires_at else None)}


# Passes an event may fail before the worker parks it (it stays, with its error, for an admin).
MAX_EVENT_ATTEMPTS = 5


def expand_pending(engine: Engine, settings: Settings, limit: int = 500) -> int:
    """Turn recorded events into emails, oldest first; answer how many emails were queued.

    Each event is expanded and deleted in its own short transaction, so web requests never
    wait long for SQLite's one writer; on PostgreSQL a worker skips the events another worker
    holds, so each is expanded once. An event that fails stays for the next pass, counting its
    failures; after MAX_EVENT_ATTEMPTS it is parked: kept with its last error, logged once as
    an error, and no longer tried (an admin fixes the cause and sets `attempts` back to 0).
    """
    with read_session(engine) as session:
        ids = list(session.exec(
            select(OutboxEvent.id).where(col(OutboxEvent.attempts) < MAX_EVENT_ATTEMPTS)
            .order_by(col(OutboxEvent.id)).limit(limit)).all())
    queued = 0
    for event_id in ids:
        with write_session(engine) as session:
            row = session.exec(select(OutboxEvent).where(OutboxEvent.id == event_id)
                               .with_for_update(skip_locked=True)).first()
            if row is None:  # another worker has it, or had it
                session.rollback()
                continue
            attempt = row.attempts + 1
            try:
                count = expand(session, row, settings)
                session.execute(delete(OutboxEvent).where(col(OutboxEvent.id) == event_id))
                session.commit()
            except DATABASE_AWAY:
                # The database's trouble (a restart, a lost connection), not the event's: it is
                # not counted against the event. A refused value (DataError) is the event's.
                # The rest would fail the same way: this pass ends, saying so once.
                session.rollback()
                database_away.warning("could not expand outbox events: the database failed; "
                                      "trying again on the next pass")
                return queued
            except Exception as error:
                session.rollback()
                _count_failure(session, event_id, attempt, error)
                continue
            queued += count
    return queued


def _count_failure(session: Session, event_id: int | None, attempt: int,
                   error: Exception) -> None:
    try:
        session.execute(update(OutboxEvent).where(col(OutboxEvent.id) == event_id).values(
            attempts=col(OutboxEvent.attempts) + 1,
            last_error=f"{type(error).__name__}: {error}"[:1000]))
        session.commit()
    except DATABASE_AWAY:
        session.rollback()
        log.warning("could not count the failure of outbox event %s: the database failed",
                    event_id)
    if attempt >= MAX_EVENT_ATTEMPTS:
        log.error("outbox event %s failed %s times and is parked in outbox_event with its "
                  "error; its emails wait until it is fixed", event_id, attempt, exc_info=error)
    else:
        log.warning("could not turn outbox event %s into emails (attempt %s of %s); trying "
                    "again on the next pass", event_id, attempt, MAX_EVENT_ATTEMPTS,
                    exc_info=error)
