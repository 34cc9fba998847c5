"""The committee's calendar: meetings, agendas, decisions taken there, and moving a proposal
to another meeting."""

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel

from api import errors
from api.deps import CurrentUser, ReadSessionDep, SessionDep, SettingsDep
from api.routes.proposals import ProposalId
from notifications import agenda as agenda_mail
from notifications.invitation import invitation
from workflow import queries, service
from workflow.audit import Channel
from workflow.fields import MAX_ID
from workflow.meetings import agenda, decisions, schedule
from workflow.meetings.models import (
    DecisionRequest,
    MeetingCreate,
    MeetingPublic,
    MeetingWithAgenda,
    MoveRequest,
)
from workflow.proposals.models import ProposalPublic

MeetingId = Annotated[int, Path(ge=1, le=MAX_ID)]
router = APIRouter(prefix="/api", tags=["meetings"])


class AgendaSent(BaseModel):
    queued: int


@router.post("/meetings", status_code=status.HTTP_201_CREATED,
             responses=errors.responses(400, 401, 403, 422))
def create_meeting(body: MeetingCreate, session: SessionDep, me: CurrentUser,
                   settings: SettingsDep) -> MeetingPublic:
    """Add a meeting (coordinator); proposals waiting for one go on its agenda."""
    meeting = schedule.create_meeting(session, body, me.user, Channel.API, settings)
    counts = agenda.item_counts(session, [meeting.id or 0])
    return agenda.present(meeting, counts.get(meeting.id or 0, 0), settings)


@router.get("/meetings", responses=errors.responses(401, 422))
def list_meetings(session: ReadSessionDep, _me: CurrentUser, settings: SettingsDep,
                  upcoming: bool = False) -> list[MeetingPublic]:
    return agenda.meetings(session, settings, upcoming=upcoming)


@router.get("/meetings/{meeting_id}", responses=errors.responses(401, 404, 422))
def one_meeting(meeting_id: MeetingId, session: ReadSessionDep, me: CurrentUser,
                settings: SettingsDep) -> MeetingWithAgenda:
    """The meeting and its agenda: each proposal's aggregate, reviewers' status, pre-screen
    and attachments."""
    return agenda.agenda(session, meeting_id, me, settings)


@router.post("/meetings/{meeting_id}/decisions",
             responses=errors.responses(400, 401, 403, 404, 409, 422))
def decide(meeting_id: MeetingId, body: DecisionRequest, session: SessionDep, me: CurrentUser,
           settings: SettingsDep) -> ProposalPublic:
    """Record the meeting's decision on a proposal on its agenda: approve, return, reject (the
    door's triggers) or defer to the next meeting."""
    proposal = decisions.decide(session, meeting_id, body, me.user, Channel.API,
                                settings=settings, grants=me)
    return queries.to_public(proposal)


@router.post("/meetings/{meeting_id}/agenda-email", status_code=status.HTTP_202_ACCEPTED,
             responses=errors.responses(401, 403, 404, 422))
def send_agenda(meeting_id: MeetingId, session: SessionDep, me: CurrentUser,
                settings: SettingsDep) -> AgendaSent:
    """Email the agenda and the invitation to the reviewers and the badge office now."""
    return AgendaSent(queued=agenda_mail.send_agenda(session, meeting_id, me.user, Channel.API,
                                                     settings))


@router.get("/meetings/{meeting_id}/invitation.ics", response_class=Response,
            responses=errors.responses(401, 404, 422))
def calendar_file(meeting_id: MeetingId, session: ReadSessionDep, _me: CurrentUser,
                  settings: SettingsDep) -> Response:
    meeting = agenda.meeting(session, meeting_id)
    url = f"{settings.base_url.rstrip('/')}/meetings/{meeting_id}"
    text = invitation(meeting, [], f"The agenda: {url}", url, settings)
    return Response(text, media_type="text/calendar; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="meeting-{meeting_id}.ics"'})


@router.put("/proposals/{proposal_id}/meeting",
            responses=errors.responses(400, 401, 403, 404, 409, 422))
def move_proposal(proposal_id: ProposalId, body: MoveRequest, session: SessionDep,
                  me: CurrentUser, settings: SettingsDep) -> MeetingPublic:
    """Move a proposal in rubric review to another meeting (coordinator)."""
    meeting = schedule.move(session, proposal_id, body.meeting_id, me.user, Channel.API)
    counts = agenda.item_counts(session, [meeting.id or 0])
    return agenda.present(meeting, counts.get(meeting.id or 0, 0), settings)


@router.get("/proposals/{proposal_id}/meeting", responses=errors.responses(401, 404, 422))
def proposal_meeting(proposal_id: ProposalId, session: ReadSessionDep, me: CurrentUser,
                     settings: SettingsDep) -> MeetingPublic | None:
    """The meeting the proposal waits on for a decision, or null."""
    service.visible_proposal(session, proposal_id, me)
    placed = agenda.placement(session, proposal_id)
    if placed is None:
        return None
    counts = agenda.item_counts(session, [placed[0].id or 0])
    return agenda.present(placed[0], counts.get(placed[0].id or 0, 0), settings)
