"""Rendering the messages of one notice for its recipients and queueing them in the outbox."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from notifications import offers, routing, words
from notifications.about import About, AsOf, about_proposal, new_message_id, returned_from
from notifications.inbound import action_tokens
from notifications.matrix import MATRIX, Audience
from notifications.models import EmailPreference, OutboxMessage, OutboxStatus
from notifications.recipients import Envelope, Recipient, Resolver, unique
from notifications.rendering import render, subject_line
from plumbing.settings import Settings
from workflow.accounts.models import Department, User
from workflow.events import Event
from workflow.fields import utcnow
from workflow.machine import State
from workflow.proposals.co_authors import domain_allowed
from workflow.proposals.models import Proposal
from workflow.reviews import visibility

ROLE_PHRASES = {
    "owner": "the proposal's submitter",
    "co_author": "a co-author of the proposal",
    "department_lead": "a lead of the proposal's department",
    "badge_office": "the badge office",
    "reviewer": "one of the proposal's reviewers",
    "approver": "one of the proposal's approvers",
    "user": "a user who asked to sign in",
    "mentioned": "someone mentioned in its discussion",
    "routed": "a copy the badge office's routing rules send you",
    "meeting": "a member of the review committee",
    "learner": "a learner who earned it",
    "checkpoint_keeper": "the keeper of this service's audit checkpoints",
}


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
    attachments: Sequence[Mapping[str, str]] = (),
    settings: Settings,
) -> int:
    """Render `templates/<event>.{txt,html}` for each recipient and queue the messages in the
    caller's transaction (the caller commits); answer how many were queued.

    The subject is `<what>: <title>` for a proposal, else `subject`.
    "Action needed" messages skip users who chose the daily digest (it lists them instead).
    With a `dedupe_key`, a message already queued under the same key and recipient is not
    queued again, so a scheduler that runs twice queues nothing twice.
    """
    people = [r if isinstance(r, Recipient) else Recipient(email=r.strip().lower())
              for r in recipients]
    if action_needed:
        people = without_digest_users(session, people)
    if not people:
        return 0
    letter = Letter(event=event, context=context, what=what, subject=subject,
                    action_needed=action_needed, dedupe_key=dedupe_key, headers=headers,
                    envelope_sender=envelope_sender, attachments=tuple(attachments))
    rows = messages(session, about_proposal(session, proposal, settings), letter, people,
                    settings)
    return store(session, rows, deduped=dedupe_key is not None)


def without_digest_users(session: Session, people: list[Recipient]) -> list[Recipient]:
    batched = digest_users(session, (r.user_id for r in people))
    return [r for r in people if r.user_id not in batched] if batched else people


@dataclass(frozen=True)
class Letter:
    """What the messages of one notice share: template, subject, context and headers."""

    event: str
    context: Mapping[str, Any] | None = None
    what: str | None = None
    subject: str | None = None
    action_needed: bool = False
    dedupe_key: str | None = None
    headers: Mapping[str, str] | None = None
    envelope_sender: str | None = None
    # Files sent with each message, as text: {"filename", "content_type", "text"}.
    attachments: tuple[Mapping[str, str], ...] = ()


def messages(session: Session, about: About, letter: Letter, people: Sequence[Recipient],
             settings: Settings) -> list[dict[str, Any]]:
    """The outbox rows of one notice: each recipient's message rendered, nothing stored yet."""
    proposal, event, action_needed = about.proposal, letter.event, letter.action_needed
    if proposal is not None:
        title_line = subject_line(proposal.title, letter.what or event.replace("_", " "))
    elif letter.subject is not None:
        title_line = letter.subject
    else:
        raise ValueError("a message about no proposal needs a subject")
    shared: dict[str, Any] = {
        "event": event,
        "what": letter.what,
        "action_needed": action_needed,
        "proposal": about.facts,
        "links": about.links,
        "actor": None,
        "comment": None,
        "reviewer_comments": [],
        "actions": [],
        **(letter.context or {}),
    }
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for person in people:
        envelope = Envelope(event=event, proposal=proposal, recipient=person,
                            action_needed=action_needed, current=about.current)
        personal: dict[str, Any] = {
            **shared,
            "recipient": {"email": person.email, "name": person.name, "role": person.role,
                          "note": person.note},
            "role_phrase": ROLE_PHRASES.get(person.role, "a participant in this proposal"),
        }
        row_headers = dict(letter.headers or {})
        # An "action needed" email carries its recipient's action links and reply address.
        offered = action_tokens.offer(session, envelope, settings)
        if offered is not None:
            personal["reply"] = offered.reply
            row_headers["Reply-To"] = offered.reply["address"]
        personal["actions"] = offers.buttons(event, person.role, about.links, about.facts,
                                             offered.buttons if offered else [],
                                             shared["actions"])
        rendered = render(event, title_line, personal)
        rows.append({
            "event": event,
            "proposal_id": proposal.id if proposal is not None else None,
            "recipient": person.email,
            "user_id": person.user_id,
            "subject": rendered.subject,
            "body_text": rendered.text,
            "body_html": rendered.html,
            "message_id": new_message_id(proposal, about.domain),
            "thread_id": about.thread,
            "headers": row_headers,
            "envelope_sender": letter.envelope_sender,
            "attachments": [dict(a) for a in letter.attachments],
            "dedupe_key": f"{letter.dedupe_key}:{person.email}" if letter.dedupe_key else None,
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        })
    return rows


def store(session: Session, rows: list[dict[str, Any]], *, deduped: bool) -> int:
    """Insert the rows in the caller's transaction (a scheduler's deduped rows: once each)."""
    if not rows:
        return 0
    if deduped:
        return _insert_once(session, rows)
    session.add_all(OutboxMessage(**row) for row in rows)
    return len(rows)


def _insert_once(session: Session, rows: list[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT (dedupe_key) DO NOTHING, which both databases speak."""
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    queued = 0
    for row in rows:
        statement = upsert(OutboxMessage).values(**row).on_conflict_do_nothing(
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
    settings: Settings,
    as_of: AsOf | None = None,
    learner: Recipient | None = None,
) -> int:
    """Queue every message the matrix gives this event, each address once.

    `as_of` is the stage and version the event left the proposal at, when it may have moved
    on since (an event the worker expands); recipients are chosen for that stage.
    """
    owner = actor if actor is not None and actor.id == proposal.owner_id else None
    resolver = Resolver(session, proposal, settings, named, owner=owner, learner=learner)
    state = as_of[0] if as_of else State(proposal.state)
    seen: set[str] = set()
    # A decision in rubric review tells the authors what the reviewers wrote, as far as the
    # blind-review rule lets an author see it (templates show it to the authors only).
    released = visibility.round_released_by(session, proposal.id or 0,
                                            as_of[1] if as_of else proposal.version)
    shared = {
        "actor": {"name": actor.name, "email": actor.email} if actor else None,
        "comment": comment,
        "reviewer_comments": visibility.Blind(session, None, proposal).released_comments(
            session, released) if released else [],
        **(context or {}),
    }
    rows: list[dict[str, Any]] = []
    invited: list[Recipient] = []
    about: About | None = None
    # Looking people up must not flush the door's half-made change row by row; the rows go to
    # the database in one statement at the end.
    with session.no_autoflush:
        routed = routing.copies(session, event, proposal, settings)
        notes = {r.email: r.note for r in routed if r.note}
        for notice in MATRIX[event]:
            found = [r for audience in notice.audiences for r in resolver.users(audience, state)]
            people = unique(found, seen)
            # A co-author who is no user yet is invited instead, never sent the proposal.
            invited += [p for p in people if p.role == Audience.CO_AUTHORS and p.user_id is None]
            people = [replace(p, note=notes[p.email]) if p.email in notes else p
                      for p in people if p not in invited]
            # The office's or a lead's copy of an action is not sent to the one who acted
            # (a request for their next action is).
            people = [p for p in people if actor is None or notice.action_needed
                      or p.email != actor.email.lower()
                      or p.role not in (Audience.BADGE_OFFICE, Audience.DEPARTMENT_LEADS)]
            if notice.action_needed:
                people = without_digest_users(session, people)
            if not people:
                continue
            about = about or about_proposal(session, proposal, settings, resolver.owner, as_of)
            what = notice.what
            if event is Event.RETURNED and about.facts is not None:
                # A design return and a department return must not read the same.
                came_from = returned_from(session, proposal, as_of[1] if as_of else None)
                about.facts["returned_from"] = came_from
                about.facts["returned_from_words"] = words.stage(came_from)
                what = f"Returned from {words.stage(came_from)}"
            letter = Letter(event=event.value, context=shared, what=what,
                            action_needed=notice.action_needed, dedupe_key=dedupe_key)
            rows += messages(session, about, letter, people, settings)
        # The rules' copies, for those the matrix did not reach already.
        copied = unique(routed, seen)
        if copied:
            about = about or about_proposal(session, proposal, settings, resolver.owner, as_of)
            what = routing.WHAT[event]
            rows += messages(session, about, Letter(event="routed", context={
                **shared, "happened": what}, what=routing.HEADLINE[event], dedupe_key=dedupe_key),
                copied, settings)
    queued = store(session, rows, deduped=dedupe_key is not None)
    return queued + sum(invite(session, proposal, person, resolver.owner, settings)
                        for person in invited)


def invite(session: Session, proposal: Proposal, person: Recipient, owner: User,
           settings: Settings) -> int:
    """One invitation per address, ever, to a co-author who is no user yet: who named them and
    where to ask for an account; nothing a submitter wrote but their own name."""
    if not domain_allowed(session, person.email, settings):
        return 0
    department = session.get(Department, proposal.department_id)
    return enqueue(
        session, event="co_author_invitation", proposal=None, recipients=[person],
        subject="Co-author invitation: you were named on a proposal",
        context={"inviter": {"name": owner.name, "email": owner.email},
                 "department": department.name if department else "",
                 "sign_in": f"{settings.base_url.rstrip('/')}/sign-in",
                 "badge_office": settings.badge_office_email},
        dedupe_key="co-author-invitation", settings=settings)
