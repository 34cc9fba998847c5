"""Reminders, escalation and daily digests, idempotent by construction.

Every scheduled message carries a dedupe key naming what it is about (the proposal, the
moment it entered its stage, the reminder period; or the user and the day), and the outbox
refuses a second row with the same key. So the scheduler may run as often, and in as many
processes, as anyone likes: it never queues the same message twice.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from notifications import agenda, review_notices, words
from notifications.about import links
from notifications.compose import enqueue, notify, without_digest_users
from notifications.matrix import MATRIX, Event
from notifications.models import EmailPreference
from notifications.recipients import (
    Recipient,
    Resolver,
    assigned_reviewers,
    authors,
    unique,
)
from plumbing.settings import Settings
from workflow.access import grants_of
from workflow.accounts.models import Role, User
from workflow.audit import AuditEntry
from workflow.fields import as_utc
from workflow.machine import REVIEW_STAGES, State
from workflow.proposals.models import Proposal

DAY = 86_400


@dataclass(frozen=True)
class Waiting:
    proposal: Proposal
    since: datetime

    def days(self, now: datetime) -> float:
        return (now - self.since).total_seconds() / DAY


@dataclass
class SchedulerReport:
    reminders: int = 0
    escalations: int = 0
    digests: int = 0
    agendas: int = 0
    review_notices: int = 0


def waiting_proposals(session: Session) -> list[Waiting]:
    """Proposals in a review stage, with the moment they last entered it."""
    stages = [s.value for s in REVIEW_STAGES]
    proposals = session.exec(select(Proposal).where(col(Proposal.state).in_(stages))
                             .order_by(col(Proposal.id))).all()
    if not proposals:
        return []
    entered = dict(session.exec(
        select(AuditEntry.proposal_id, func.max(AuditEntry.at))
        .join(Proposal, col(Proposal.id) == AuditEntry.proposal_id)
        .where(col(Proposal.state).in_(stages), col(AuditEntry.to_state) == Proposal.state,
               col(AuditEntry.from_state) != col(AuditEntry.to_state),
               AuditEntry.outcome == "accepted")
        .group_by(col(AuditEntry.proposal_id))
    ).all())
    return [Waiting(p, as_utc(entered.get(p.id) or p.updated_at)) for p in proposals]


def run(session: Session, settings: Settings, now: datetime) -> SchedulerReport:
    """Queue the reminders, escalations and digests due at `now` (the caller commits)."""
    report = SchedulerReport()
    waiting = waiting_proposals(session)
    due: list[Due] = []
    for item in waiting:
        days = item.days(now)
        stay = f"{item.proposal.id}:{int(item.since.timestamp())}"
        if days >= settings.reminder_days:
            period = int(days // settings.reminder_days)
            due.append(Due(item, int(days), f"reminder:{stay}:{period}"))
        if days >= settings.escalation_days:
            resolver = Resolver(session, item.proposal, settings)
            state = State(item.proposal.state)
            # People by name, their address beside it, so the office knows whom to call.
            waiting_on = [f"{r.name} ({r.email})" if r.name else r.email
                          for r in resolver.approvers(state)]
            if state is State.RUBRIC_REVIEW:
                waiting_on += [f"{u.name} ({u.email})" for u in
                               assigned_reviewers(session, item.proposal, pending_only=True)]
            report.escalations += notify(
                session, Event.ESCALATION, item.proposal,
                context={"days": int(days), "limit_days": f"{settings.escalation_days:g}",
                         "waiting_on": waiting_on},
                dedupe_key=f"escalation:{stay}", settings=settings)
    report.reminders += remind(session, settings, due, now)
    if now.astimezone(ZoneInfo(settings.time_zone)).hour >= settings.digest_hour:
        report.digests = send_digests(session, settings, now, waiting)
    report.agendas = agenda.send_due(session, settings, now)
    report.review_notices = review_notices.queue_due(session, settings, now)
    return report


@dataclass(frozen=True)
class Due:
    """A reminder due: the waiting proposal, its days waited, and its key for this period."""

    item: Waiting
    days: int
    key: str


def remind(session: Session, settings: Settings, due: list[Due], now: datetime) -> int:
    """Queue the due reminders: one email per person, listing every proposal waiting for them
    (a person with one gets the usual email about it, with its action links)."""
    mine: dict[str, tuple[Recipient, list[Due]]] = {}
    for one in due:
        resolver = Resolver(session, one.item.proposal, settings)
        state = State(one.item.proposal.state)
        found = [r for notice in MATRIX[Event.REMINDER] for audience in notice.audiences
                 for r in resolver.users(audience, state)]
        for person in without_digest_users(session, unique(found, set())):
            mine.setdefault(person.email, (person, []))[1].append(one)
    queued = 0
    what = MATRIX[Event.REMINDER][0].what
    for person, reminders in mine.values():
        if len(reminders) == 1:
            one = reminders[0]
            queued += enqueue(
                session, event=Event.REMINDER.value, proposal=one.item.proposal,
                recipients=[person], context={"days": one.days}, what=what,
                action_needed=True, dedupe_key=one.key, settings=settings)
            continue
        # The keys of what it lists: the same reminders, due again, are not sent twice.
        key = "reminders:" + hashlib.sha256(
            " ".join(sorted(r.key for r in reminders)).encode()).hexdigest()[:32]
        items = [{"title": r.item.proposal.title, "stage": words.stage(r.item.proposal.state),
                  "days": r.days, "link": links(r.item.proposal, settings)["proposal"]}
                 for r in sorted(reminders, key=lambda r: r.item.since)]
        queued += enqueue(
            session, event="reminders", proposal=None, recipients=[person],
            subject=f"Reminder: {len(items)} proposals wait for you",
            context={"items": items}, dedupe_key=key, settings=settings)
    return queued


def send_digests(session: Session, settings: Settings, now: datetime,
                 waiting: list[Waiting]) -> int:
    users = session.exec(
        select(User).join(EmailPreference, col(EmailPreference.user_id) == User.id)
        .where(col(EmailPreference.daily_digest), col(User.is_active))
    ).all()
    queued = 0
    office_day = now.astimezone(ZoneInfo(settings.time_zone)).date().isoformat()
    for user in users:
        items = pending_actions(session, user, settings, now, waiting)
        if not items:
            continue
        count = len(items)
        queued += enqueue(
            session, event=Event.DIGEST.value, proposal=None,
            recipients=[Recipient(email=user.email, name=user.name, user_id=user.id)],
            subject=(f"Daily digest: {count} proposal"
                     f"{'s wait' if count != 1 else ' waits'} for you"),
            context={"items": items}, dedupe_key=f"digest:{user.id}:{office_day}",
            settings=settings)
    return queued


def pending_actions(session: Session, user: User, settings: Settings, now: datetime,
                    waiting: list[Waiting]) -> list[dict[str, object]]:
    """The proposals that wait for this user now, oldest first."""
    grants = grants_of(session, user)
    is_office = grants.has(Role.COORDINATOR) or (
        user.email.lower() == settings.badge_office_email.lower())
    items = []
    for item in sorted(waiting, key=lambda w: w.since):
        proposal = item.proposal
        owner = session.get(User, proposal.owner_id)
        if owner is None or user.email.lower() in authors(proposal, owner):
            continue
        state = State(proposal.state)
        mine = (
            (state is State.DEPARTMENT_REVIEW and grants.leads(proposal.department_id))
            or (state in (State.RUBRIC_REVIEW, State.DESIGN_REVIEW) and is_office)
            or (state is State.RUBRIC_REVIEW and any(
                u.id == user.id for u in assigned_reviewers(session, proposal, pending_only=True)))
        )
        if mine:
            items.append({"title": proposal.title, "stage": words.stage(proposal.state),
                          "days": int(item.days(now)),
                          "link": links(proposal, settings)["proposal"]})
    return items
