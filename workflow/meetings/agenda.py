"""Reading the calendar: meetings, each agenda as the committee sees it, which meeting a
proposal is on, and whether decisions came within MICROCRED_MEETING_DECISION_DAYS."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from plumbing.settings import Settings
from workflow import service
from workflow.access import Grants
from workflow.accounts.models import Department, User
from workflow.attachments import service as attachments
from workflow.errors import NotFound
from workflow.fields import as_utc, utcnow
from workflow.meetings.models import (
    AgendaEntry,
    AgendaItem,
    Decision,
    Meeting,
    MeetingPublic,
    MeetingWithAgenda,
    ReviewerStatus,
)
from workflow.reviews import reviewing, visibility
from workflow.reviews.models import Review, ReviewerAssignment


def present(meeting: Meeting, items: int, settings: Settings) -> MeetingPublic:
    starts = as_utc(meeting.starts_at)
    return MeetingPublic(
        id=meeting.id or 0, title=meeting.title, starts_at=starts,
        ends_at=starts + timedelta(minutes=meeting.duration_minutes),
        location=meeting.location, reviews_due=starts,
        decisions_due=starts + timedelta(days=settings.meeting_decision_days), items=items)


def item_counts(session: Session, meeting_ids: list[int]) -> dict[int, int]:
    if not meeting_ids:
        return {}
    return dict(session.exec(
        select(AgendaItem.meeting_id, func.count()).where(
            col(AgendaItem.meeting_id).in_(meeting_ids))
        .group_by(col(AgendaItem.meeting_id))).all())


def meetings(session: Session, settings: Settings, *, upcoming: bool = False
             ) -> list[MeetingPublic]:
    """The calendar, in order; with `upcoming`, from the meetings not yet ended."""
    query = select(Meeting)
    if upcoming:
        # A meeting lasts at most 8 hours: those that began since then may still be on.
        query = query.where(col(Meeting.starts_at) >= utcnow() - timedelta(hours=8))
    rows = list(session.exec(query.order_by(col(Meeting.starts_at), col(Meeting.id))).all())
    counts = item_counts(session, [m.id or 0 for m in rows])
    return [present(m, counts.get(m.id or 0, 0), settings) for m in rows]


def meeting(session: Session, meeting_id: int) -> Meeting:
    found = session.get(Meeting, meeting_id)
    if found is None:
        raise NotFound("no such meeting")
    return found


def agenda(session: Session, meeting_id: int, grants: Grants, settings: Settings
           ) -> MeetingWithAgenda:
    """The meeting with each proposal on its agenda: its aggregate, how far its reviewers
    are (by name for the coordinator and admins only), the pre-screen and the attachments."""
    found = meeting(session, meeting_id)
    items = session.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id)
                         .order_by(col(AgendaItem.placed_at), col(AgendaItem.id))).all()
    entries = [entry for item in items
               if (entry := _entry(session, item, grants)) is not None]
    return MeetingWithAgenda(**present(found, len(items), settings).model_dump(),
                             agenda=entries)


def _entry(session: Session, item: AgendaItem, grants: Grants) -> AgendaEntry | None:
    try:
        proposal = service.visible_proposal(session, item.proposal_id, grants)
    except NotFound:
        return None
    result = reviewing.result_of(session, proposal, item.review_round)
    assigned = session.exec(
        select(User).join(ReviewerAssignment, col(ReviewerAssignment.reviewer_id) == User.id)
        .where(ReviewerAssignment.proposal_id == proposal.id).order_by(col(User.email))).all()
    scored = set(session.exec(select(Review.reviewer_id).where(
        Review.proposal_id == proposal.id, Review.round == item.review_round)).all())
    named = visibility.sees_reviewers(grants)
    # The blind-review rule: the round's result only for those who see its scores, until the
    # coordinator decides the round.
    shown = result is not None and visibility.Blind(session, grants, proposal).result_visible(
        item.review_round)
    department = session.get(Department, proposal.department_id)
    return AgendaEntry(
        proposal_id=proposal.id or 0, title=proposal.title,
        department=department.code if department else "", state=proposal.state,
        version=proposal.version, review_round=item.review_round, decision=item.decision,
        decided_at=as_utc(item.decided_at) if item.decided_at else None,
        aggregate=reviewing.result_as_dict(result) if result and shown else None,
        reviews_in=len(scored), reviewers_assigned=len(assigned),
        reviewers=[ReviewerStatus(reviewer=u.email, scored=u.id in scored)
                   for u in assigned] if named else [],
        checks=[{"code": c.code, "severity": c.severity, "message": c.message,
                 "field": c.field} for c in service.checks_for(session, proposal)],
        attachments=[attachments.present(a, name).model_dump(mode="json")
                     for a, name in attachments.of_proposal(session, proposal.id or 0)])


def placement(session: Session, proposal_id: int) -> tuple[Meeting, AgendaItem] | None:
    """The meeting a proposal waits on for a decision, if any."""
    row = session.exec(select(Meeting, AgendaItem)
                       .join(AgendaItem, col(AgendaItem.meeting_id) == Meeting.id)
                       .where(AgendaItem.proposal_id == proposal_id,
                              col(AgendaItem.decision).is_(None))).first()
    return (row[0], row[1]) if row else None


@dataclass(frozen=True)
class Timeliness:
    """How one past meeting's decisions went against MICROCRED_MEETING_DECISION_DAYS."""

    meeting_id: int
    title: str
    starts_at: datetime
    decisions_due: datetime
    on_time: int
    late: int
    deferred: int
    waiting: int
    overdue: int

    @property
    def all_on_time(self) -> bool:
        return not (self.late or self.overdue)


def timeliness(session: Session, settings: Settings, *, months: int = 12) -> list[Timeliness]:
    """For each meeting held in the last `months`: decisions taken within the allowed days,
    late, deferred, still waiting, and waiting past the limit; newest first."""
    now = utcnow()
    allowed = timedelta(days=settings.meeting_decision_days)
    held = session.exec(select(Meeting).where(
        col(Meeting.starts_at) <= now, col(Meeting.starts_at) >= now - timedelta(
            days=31 * months)).order_by(col(Meeting.starts_at).desc())).all()
    rows = []
    for held_meeting in held:
        starts = as_utc(held_meeting.starts_at)
        due = starts + allowed
        tally: Counter[str] = Counter()
        for item in session.exec(select(AgendaItem).where(
                AgendaItem.meeting_id == held_meeting.id)).all():
            if item.decision == Decision.DEFER.value:
                tally["deferred"] += 1
            elif item.decision is None:
                tally["overdue" if now > due else "waiting"] += 1
            elif item.decided_at is not None and as_utc(item.decided_at) <= due:
                tally["on_time"] += 1
            else:
                tally["late"] += 1
        rows.append(Timeliness(held_meeting.id or 0, held_meeting.title, starts, due,
                               tally["on_time"], tally["late"], tally["deferred"],
                               tally["waiting"], tally["overdue"]))
    return rows
