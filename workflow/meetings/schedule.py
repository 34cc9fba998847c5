"""The coordinator's calendar: meetings, and which meeting each proposal in rubric review is
on. The door calls `place_on_next` as a proposal enters rubric review and `settle` as it
leaves; everything else here is the coordinator's, each change audited."""

from datetime import datetime, timedelta

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from plumbing.settings import Settings
from workflow import audit, queries
from workflow.access import Grants, grants_of, standing
from workflow.accounts.models import Role, User
from workflow.errors import Conflict, Forbidden, NotFound, Unprocessable, WorkflowError, problem
from workflow.fields import as_utc, utcnow
from workflow.machine import State
from workflow.meetings.models import AgendaItem, Decision, Meeting, MeetingCreate
from workflow.proposals.models import Proposal


def coordinator_refusal(grants: Grants, proposal: Proposal | None = None
                        ) -> WorkflowError | None:
    """Why this user may not run the calendar (for this proposal), or None when they may."""
    if not grants.has(Role.COORDINATOR):
        return Forbidden("only the coordinator keeps the meeting calendar")
    if proposal is not None and standing(grants, proposal).authors:
        return Forbidden("separation of duties: you own or co-author this proposal")
    return None


def next_meeting(session: Session, earliest: datetime, proposal: Proposal | None = None
                 ) -> Meeting | None:
    """The first meeting starting at `earliest` or later; with a proposal, one whose agenda
    has not had it in this review round already."""
    query = select(Meeting).where(col(Meeting.starts_at) >= as_utc(earliest))
    if proposal is not None:
        query = query.where(col(Meeting.id).not_in(_meetings_of_round(proposal)))
    return session.exec(query.order_by(col(Meeting.starts_at), col(Meeting.id)).limit(1)).first()


def _meetings_of_round(proposal: Proposal) -> SelectOfScalar[int]:
    return select(AgendaItem.meeting_id).where(AgendaItem.proposal_id == proposal.id,
                                               AgendaItem.review_round == proposal.review_round)


def open_item(session: Session, proposal_id: int) -> AgendaItem | None:
    """The agenda item the proposal waits on for a decision, if it is on an agenda."""
    return session.exec(select(AgendaItem).where(
        AgendaItem.proposal_id == proposal_id, col(AgendaItem.decision).is_(None))).first()


def _put_on(session: Session, proposal: Proposal, meeting: Meeting) -> None:
    session.add(AgendaItem(meeting_id=meeting.id or 0, proposal_id=proposal.id or 0,
                           review_round=proposal.review_round))


def place_on_next(session: Session, proposal: Proposal, *, actor: User, channel: str,
                  settings: Settings) -> Meeting | None:
    """Put a proposal that has just entered rubric review on the next meeting at least
    MICROCRED_MEETING_LEAD_DAYS away, audited; with no such meeting it waits for one."""
    meeting = next_meeting(session, utcnow() + timedelta(days=settings.meeting_lead_days),
                           proposal)
    if meeting is None:
        return None
    _put_on(session, proposal, meeting)
    audit.append(session, actor=actor, role="system", channel=channel, action="place_on_agenda",
                 from_state=proposal.state, to_state=proposal.state, proposal_id=proposal.id,
                 version=proposal.version,
                 detail={"meeting_id": meeting.id, "starts_at": as_utc(meeting.starts_at)})
    return meeting


def settle(session: Session, proposal: Proposal, trigger: str, actor: User) -> dict[str, int]:
    """Close the proposal's open agenda item with the decision that moves it out of rubric
    review (the door's entry records it); answer the meeting, for that entry's detail."""
    item = open_item(session, proposal.id or 0)
    if item is None:
        return {}
    item.decision = trigger
    item.decided_at = utcnow()
    item.decided_by_id = actor.id
    session.add(item)
    return {"meeting_id": item.meeting_id}


def create_meeting(session: Session, data: MeetingCreate, actor: User, via: str,
                   settings: Settings) -> Meeting:
    """Add a meeting to the calendar, and put on it the proposals waiting for one."""
    refusal = coordinator_refusal(grants_of(session, actor))
    starts_at = as_utc(data.starts_at) if data.starts_at.tzinfo else None
    if refusal is None and starts_at is None:
        refusal = Unprocessable([problem("give the time with its zone, such as "
                                         "2027-01-14T15:00:00-07:00", "starts_at")])
    if refusal is None and starts_at is not None and starts_at <= utcnow():
        refusal = Unprocessable([problem("the meeting must start in the future", "starts_at")])
    if refusal is not None:
        session.rollback()
        raise refusal
    assert starts_at is not None
    meeting = Meeting(starts_at=starts_at, duration_minutes=data.duration_minutes,
                      title=data.title, location=data.location.strip(),
                      created_by_id=actor.id or 0)
    session.add(meeting)
    session.flush()
    audit.append(session, actor=actor, role="coordinator", channel=via, action="schedule_meeting",
                 detail={"meeting_id": meeting.id, "starts_at": starts_at, "title": meeting.title,
                         "location": meeting.location,
                         "duration_minutes": meeting.duration_minutes})
    for proposal in waiting_for_a_meeting(session):
        place_on_next(session, proposal, actor=actor, channel=via, settings=settings)
    session.commit()
    return meeting


def waiting_for_a_meeting(session: Session) -> list[Proposal]:
    """Proposals in rubric review on no agenda (no meeting was far enough away for them)."""
    on_agenda = select(AgendaItem.proposal_id).where(col(AgendaItem.decision).is_(None))
    return list(session.exec(select(Proposal).where(
        Proposal.state == State.RUBRIC_REVIEW.value, col(Proposal.id).not_in(on_agenda))
        .order_by(col(Proposal.id))).all())


def move(session: Session, proposal_id: int, meeting_id: int, actor: User, via: str) -> Meeting:
    """The coordinator moves a proposal in rubric review to another (future) meeting."""
    proposal = queries.locked_proposal(session, proposal_id)
    grants = grants_of(session, actor)
    item = open_item(session, proposal_id)
    try:
        if not standing(grants, proposal).authors and proposal.state == State.DRAFT.value:
            raise NotFound("no such proposal")
        refusal = coordinator_refusal(grants, proposal)
        if refusal is not None:
            raise refusal
        if proposal.state != State.RUBRIC_REVIEW.value:
            raise Conflict(f"only a proposal in rubric review is on an agenda; this one is in "
                           f"{proposal.state}")
        meeting = session.get(Meeting, meeting_id)
        if meeting is None:
            raise Unprocessable([problem("no such meeting", "meeting_id")])
        if as_utc(meeting.starts_at) <= utcnow():
            raise Conflict("that meeting has already begun; choose a later one")
        if meeting_id in session.exec(_meetings_of_round(proposal)).all():
            raise Conflict("the proposal is already on that meeting's agenda, or was in this "
                           "review round")
    except WorkflowError as refusal:
        audit.record_refusal(session, refusal, actor=actor, role="coordinator", channel=via,
                             action="move_on_agenda", proposal_id=proposal_id,
                             from_state=proposal.state, version=proposal.version,
                             detail={"meeting_id": meeting_id})
        raise
    moved_from = item.meeting_id if item is not None else None
    if item is not None:
        item.meeting_id = meeting_id
        item.placed_at = utcnow()
        session.add(item)
    else:
        _put_on(session, proposal, meeting)
    audit.append(session, actor=actor, role="coordinator", channel=via, action="move_on_agenda",
                 from_state=proposal.state, to_state=proposal.state, proposal_id=proposal_id,
                 version=proposal.version,
                 detail={"from_meeting_id": moved_from, "meeting_id": meeting_id,
                         "starts_at": as_utc(meeting.starts_at)})
    session.commit()
    return meeting


def defer(session: Session, meeting_id: int, proposal_id: int, actor: User, via: str,
          comment: str | None = None) -> Meeting | None:
    """The meeting defers a proposal to the next meeting: its item here is closed as deferred
    and it goes on the next meeting after this one (or waits for one), in one audit entry."""
    proposal = queries.locked_proposal(session, proposal_id)
    grants = grants_of(session, actor)
    meeting = session.get(Meeting, meeting_id)
    item = open_item(session, proposal_id)
    try:
        refusal = coordinator_refusal(grants, proposal)
        if refusal is not None:
            raise refusal
        if meeting is None:
            raise NotFound("no such meeting")
        if item is None or item.meeting_id != meeting_id:
            raise Conflict("the proposal is not waiting for a decision on this meeting's agenda")
    except WorkflowError as refusal:
        audit.record_refusal(session, refusal, actor=actor, role="coordinator", channel=via,
                             action=Decision.DEFER.value, proposal_id=proposal_id,
                             from_state=proposal.state, version=proposal.version,
                             detail={"meeting_id": meeting_id})
        raise
    assert meeting is not None and item is not None
    item.decision = Decision.DEFER.value
    item.decided_at = utcnow()
    item.decided_by_id = actor.id
    session.add(item)
    following = next_meeting(session, as_utc(meeting.starts_at), proposal)
    if following is not None:
        _put_on(session, proposal, following)
    audit.append(session, actor=actor, role="coordinator", channel=via,
                 action=Decision.DEFER.value, from_state=proposal.state, to_state=proposal.state,
                 proposal_id=proposal_id, version=proposal.version,
                 detail={"meeting_id": meeting_id,
                         "to_meeting_id": following.id if following else None,
                         **({"comment": comment.strip()} if comment and comment.strip() else {})})
    session.commit()
    return following
