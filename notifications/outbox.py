"""The outbox: emails written in the same transaction as the change that causes them.

Nothing here sends. The door's transition listener and the scheduler put rendered
messages into `outbox_message`; `notifications.delivery` sends them after commit.
"""

import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from notifications.matrix import MATRIX, Event, event_for
from notifications.models import EmailPreference, OutboxMessage, OutboxStatus
from notifications.recipients import Recipient, Resolver, unique
from notifications.rendering import mail_domain, render, subject_line
from plumbing.settings import Settings, get_settings
from workflow import audit
from workflow.errors import Conflict, NotFound
from workflow.machine import State
from workflow.models import (
    Credential,
    Department,
    Proposal,
    ReviewerAssignment,
    User,
    as_utc,
    utcnow,
)
from workflow.queries import decode_cursor, encode_cursor
from workflow.service import TransitionApplied

ROLE_PHRASES = {
    "owner": "the proposal's submitter",
    "co_author": "a co-author of the proposal",
    "department_lead": "a lead of the proposal's department",
    "badge_office": "the badge office",
    "reviewer": "one of the proposal's reviewers",
    "approver": "one of the proposal's approvers",
    "user": "a user who asked to sign in",
}


@dataclass(frozen=True)
class Envelope:
    """One message about to be rendered, as a context hook sees it."""

    event: str
    proposal: Proposal | None
    recipient: Recipient
    action_needed: bool


ContextHook = Callable[[Session, Envelope], Mapping[str, Any]]
# Hooks add to each recipient's template context inside the caller's transaction (the email
# actions add `actions`: [{"label", "url"}], shown as buttons, and `headers`: {"Reply-To": ...}).
context_hooks: list[ContextHook] = []


def stage_label(state: str) -> str:
    return state.replace("_", " ")


def links(proposal: Proposal | None, settings: Settings,
          credential_id: str | None = None) -> dict[str, str]:
    base = settings.base_url.rstrip("/")
    if proposal is None:
        return {"home": base}
    return {
        "home": base,
        "proposal": f"{base}/proposals/{proposal.id}",
        "edit": f"{base}/proposals/{proposal.id}/edit",
        "credential": f"{base}/credentials/{credential_id or proposal.id}",
    }


def published_id(session: Session, proposal: Proposal | None) -> str | None:
    """The public id of the proposal's published credential, once there is one."""
    if proposal is None or proposal.state not in (State.PUBLISHED, State.RETIRED):
        return None
    return session.exec(select(Credential.public_id)
                        .where(Credential.proposal_id == proposal.id)).first()


def proposal_facts(session: Session, proposal: Proposal) -> dict[str, Any]:
    """The key facts every email about a proposal shows."""
    department = session.get(Department, proposal.department_id)
    owner = session.get(User, proposal.owner_id)
    return {
        "id": proposal.id,
        "title": proposal.title,
        "department": f"{department.name} ({department.code})" if department else "",
        "owner": f"{owner.name} <{owner.email}>" if owner else "",
        "level": stage_label(proposal.level) if proposal.level else "not given",
        "credit_bearing": proposal.credit_bearing,
        "credits": f"{proposal.credits:g}" if proposal.credits is not None else "not given",
        "hours": f"{proposal.hours:g}" if proposal.hours is not None else "not given",
        "modality": stage_label(proposal.modality) if proposal.modality else "not given",
        "stage": stage_label(proposal.state),
        "state": proposal.state,
    }


def thread_root(proposal: Proposal, domain: str) -> str:
    """A stable Message-ID every email about this proposal replies to."""
    created = int(as_utc(proposal.created_at).timestamp())
    return f"<proposal-{proposal.id}.{created}@{domain}>"


def new_message_id(proposal: Proposal | None, domain: str) -> str:
    about = f"p{proposal.id}" if proposal is not None else "mc"
    return f"<{about}.{secrets.token_hex(12)}@{domain}>"


def digest_users(session: Session, user_ids: Iterable[int | None]) -> set[int]:
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return set()
    return set(session.exec(select(EmailPreference.user_id).where(
        col(EmailPreference.user_id).in_(ids), col(EmailPreference.daily_digest))).all())


def enqueue(
    session: Session,
    *,
    event: str,
    proposal: Proposal | None,
    recipients: Iterable[Recipient | str],
    context: Mapping[str, Any] | None = None,
    what: str | None = None,
    subject: str | None = None,
    action_needed: bool = False,
    dedupe_key: str | None = None,
    headers: Mapping[str, str] | None = None,
    envelope_sender: str | None = None,
    settings: Settings | None = None,
) -> int:
    """Render `templates/<event>.{txt,html}` for each recipient and queue the messages in the
    caller's transaction (the caller commits); answer how many were queued.

    The subject is `[Micro-credential] <title>: <what>` for a proposal, else `subject`.
    "Action needed" messages skip users who chose the daily digest (it lists them instead).
    With a `dedupe_key`, a message already queued under the same key and recipient is not
    queued again, so a scheduler that runs twice queues nothing twice.
    """
    settings = settings or get_settings()
    people = [r if isinstance(r, Recipient) else Recipient(email=r.strip().lower())
              for r in recipients]
    if action_needed:
        batched = digest_users(session, (r.user_id for r in people))
        people = [r for r in people if r.user_id not in batched]
    if not people:
        return 0
    if proposal is not None:
        title_line = subject_line(proposal.title, what or event.replace("_", " "))
    elif subject is not None:
        title_line = subject
    else:
        raise ValueError("a message about no proposal needs a subject")
    domain = mail_domain(settings.mail_from)
    thread = thread_root(proposal, domain) if proposal is not None else None
    shared: dict[str, Any] = {
        "event": event,
        "what": what,
        "action_needed": action_needed,
        "proposal": proposal_facts(session, proposal) if proposal is not None else None,
        "links": links(proposal, settings, published_id(session, proposal)),
        "actor": None,
        "comment": None,
        "actions": [],
        **(context or {}),
    }
    rows: list[dict[str, Any]] = []
    for person in people:
        envelope = Envelope(event=event, proposal=proposal, recipient=person,
                            action_needed=action_needed)
        personal: dict[str, Any] = {
            **shared,
            "recipient": {"email": person.email, "name": person.name, "role": person.role},
            "role_phrase": ROLE_PHRASES.get(person.role, "a participant in this proposal"),
        }
        row_headers = dict(headers or {})
        for hook in context_hooks:
            extra = dict(hook(session, envelope))
            row_headers.update(extra.pop("headers", {}))
            personal.update(extra)
        rendered = render(event, title_line, personal)
        rows.append({
            "event": event,
            "proposal_id": proposal.id if proposal is not None else None,
            "recipient": person.email,
            "user_id": person.user_id,
            "subject": rendered.subject,
            "body_text": rendered.text,
            "body_html": rendered.html,
            "message_id": new_message_id(proposal, domain),
            "thread_id": thread,
            "headers": row_headers,
            "envelope_sender": envelope_sender,
            "dedupe_key": f"{dedupe_key}:{person.email}" if dedupe_key else None,
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": utcnow(),
            "created_at": utcnow(),
        })
    if dedupe_key is None:
        session.add_all(OutboxMessage(**row) for row in rows)
        return len(rows)
    return _insert_once(session, rows)


def _insert_once(session: Session, rows: list[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT (dedupe_key) DO NOTHING, which both databases speak."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    queued = 0
    for row in rows:
        statement = insert(OutboxMessage).values(**row).on_conflict_do_nothing(
            index_elements=["dedupe_key"]).returning(col(OutboxMessage.id))
        queued += len(session.execute(statement).all())
    return queued


def notify(
    session: Session,
    event: Event,
    proposal: Proposal,
    *,
    actor: User | None = None,
    comment: str | None = None,
    named: Sequence[User] = (),
    context: Mapping[str, Any] | None = None,
    dedupe_key: str | None = None,
    settings: Settings | None = None,
) -> int:
    """Queue every message the matrix gives this event, each address once."""
    settings = settings or get_settings()
    resolver = Resolver(session, proposal, settings, named)
    state = State(proposal.state)
    seen: set[str] = set()
    queued = 0
    shared = {
        "actor": {"name": actor.name, "email": actor.email} if actor else None,
        "comment": comment,
        **(context or {}),
    }
    # The rows go to the database in one flush at the caller's commit, not one per lookup.
    with session.no_autoflush:
        for notice in MATRIX[event]:
            found = [r for audience in notice.audiences for r in resolver.users(audience, state)]
            queued += enqueue(
                session, event=event.value, proposal=proposal, recipients=unique(found, seen),
                context=shared, what=notice.what, action_needed=notice.action_needed,
                dedupe_key=dedupe_key, settings=settings,
            )
    return queued


def on_transition(session: Session, proposal: Proposal, applied: TransitionApplied) -> None:
    """The door's listener: queue the transition's emails in its own transaction."""
    event = event_for(applied.trigger, applied.from_state, applied.to_state)
    if event is None:
        return
    actor = session.get(User, applied.actor_id)
    notify(session, event, proposal, actor=actor, comment=applied.comment)


def on_reviewers_assigned(session: Session, proposal: Proposal, added: Sequence[User]) -> None:
    """Tell newly assigned reviewers, in the assignment's transaction."""
    if not added:
        return
    assigned_by = session.exec(select(ReviewerAssignment.assigned_by_id).where(
        ReviewerAssignment.proposal_id == proposal.id,
        col(ReviewerAssignment.reviewer_id).in_([u.id for u in added]))).first()
    actor = session.get(User, assigned_by) if assigned_by is not None else None
    notify(session, Event.REVIEWER_ASSIGNED, proposal, actor=actor, named=added)


def install() -> None:
    """Register the listeners with the door and reviewer assignment (idempotent)."""
    from workflow import reviews, service

    if on_transition not in service.transition_listeners:
        service.transition_listeners.append(on_transition)
    if on_reviewers_assigned not in reviews.reviewer_listeners:
        reviews.reviewer_listeners.append(on_reviewers_assigned)


# --- reading and retrying, for admins --------------------------------------------------------


def list_messages(session: Session, *, status: str | None, limit: int, cursor: str | None
                  ) -> tuple[list[OutboxMessage], str | None]:
    """Newest first, keyset-paginated on id."""
    query = select(OutboxMessage)
    if status:
        query = query.where(OutboxMessage.status == status)
    if cursor:
        query = query.where(col(OutboxMessage.id) < decode_cursor(cursor, kind="o"))
    rows = list(session.exec(query.order_by(col(OutboxMessage.id).desc()).limit(limit + 1)).all())
    page = rows[:limit]
    return page, encode_cursor(page[-1].id or 0, kind="o") if len(rows) > limit else None


def retry(session: Session, outbox_id: int, actor: User) -> OutboxMessage:
    """Send a dead letter again, with a fresh attempt budget and the same Message-ID."""
    row = session.exec(select(OutboxMessage).where(OutboxMessage.id == outbox_id)
                       .with_for_update()).first()
    if row is None:
        session.rollback()
        raise NotFound("no such outbox message")
    if row.status != OutboxStatus.DEAD.value:
        session.rollback()
        raise Conflict(f"only dead letters can be retried; this message is {row.status}")
    row.status = OutboxStatus.PENDING.value
    row.attempts = 0
    row.next_attempt_at = utcnow()
    row.lease_until = None
    row.leased_by = None
    session.add(row)
    audit.append(session, actor=actor, role="admin", channel="api", action="email_retry",
                 proposal_id=row.proposal_id,
                 detail={"outbox_id": row.id, "to": row.recipient, "message_id": row.message_id,
                         "last_error": row.last_error})
    session.commit()
    return row
