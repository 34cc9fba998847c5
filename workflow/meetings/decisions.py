"""The meeting's decisions, taken from its agenda: approve, return and reject go through the
door like any other (one audit entry each, naming the meeting); defer is the calendar's."""

from sqlmodel import Session

from plumbing.settings import Settings
from workflow import audit, service
from workflow.access import Grants, grants_of
from workflow.accounts.models import User
from workflow.errors import Conflict, NotFound, WorkflowError
from workflow.meetings import schedule
from workflow.meetings.models import Decision, DecisionRequest, Meeting
from workflow.proposals.models import Proposal


def decide(session: Session, meeting_id: int, request: DecisionRequest, actor: User, via: str,
           *, settings: Settings, grants: Grants | None = None) -> Proposal:
    """Record the meeting's decision on a proposal waiting on its agenda."""
    grants = grants if grants is not None else grants_of(session, actor)
    proposal = service.visible_proposal(session, request.proposal_id, grants)
    if request.decision is Decision.DEFER:
        schedule.defer(session, meeting_id, request.proposal_id, actor, via, request.comment)
        return service.visible_proposal(session, request.proposal_id, grants)
    item = schedule.open_item(session, request.proposal_id)
    if session.get(Meeting, meeting_id) is None or item is None or item.meeting_id != meeting_id:
        refusal: WorkflowError = (NotFound("no such meeting")
                                  if session.get(Meeting, meeting_id) is None else
                                  Conflict("the proposal is not waiting for a decision on this "
                                           "meeting's agenda"))
        audit.record_refusal(session, refusal, actor=actor, role="coordinator", channel=via,
                             action=request.decision.value, proposal_id=request.proposal_id,
                             from_state=proposal.state, version=proposal.version,
                             detail={"meeting_id": meeting_id})
        raise refusal
    return service.apply(session, request.proposal_id, request.decision.value, actor, via,
                         settings=settings, comment=request.comment, version=request.version,
                         grants=grants)
