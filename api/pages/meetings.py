"""The meeting calendar, each agenda (and its printable version), the decisions taken from it,
and moving a proposal to another meeting."""

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.deps import ReadSessionDep, SessionDep, SettingsDep
from api.routes.meetings import calendar_file
from api.web import CsrfChecked, WebUser, render, see_other
from notifications import agenda as agenda_mail
from workflow.audit import Channel
from workflow.errors import Unprocessable, problem
from workflow.fields import MAX_ID
from workflow.meetings import agenda, decisions, schedule
from workflow.meetings.models import Decision, DecisionRequest, MeetingCreate

router = APIRouter(include_in_schema=False)
MeetingId = Annotated[int, Path(ge=1, le=MAX_ID)]
ProposalId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/meetings", response_class=HTMLResponse)
def meetings_page(request: Request, session: ReadSessionDep, me: WebUser,
                  settings: SettingsDep) -> HTMLResponse:
    return render(request, "meetings.html", meetings=agenda.meetings(session, settings),
                  may_schedule=schedule.coordinator_refusal(me) is None,
                  lead_days=settings.meeting_lead_days)


def form_time(day: str, clock: str, zone: str) -> datetime:
    """A date and time typed in the form, in the zone the form names."""
    try:
        return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=ZoneInfo(zone))
    except (ValueError, KeyError) as error:
        raise Unprocessable([problem("give a date and a time", "starts_at")]) from error


@router.post("/meetings", dependencies=[CsrfChecked])
def schedule_meeting(
    session: SessionDep, me: WebUser, settings: SettingsDep,
    day: Annotated[str, Form(max_length=10)], clock: Annotated[str, Form(max_length=5)],
    zone: Annotated[str, Form(max_length=64)] = "America/Phoenix",
    title: Annotated[str, Form(max_length=200)] = "Micro-credential review committee",
    location: Annotated[str, Form(max_length=500)] = "",
    duration_minutes: Annotated[int, Form(ge=15, le=480)] = 90,
) -> Response:
    try:
        data = MeetingCreate(starts_at=form_time(day, clock, zone), title=title,
                             location=location, duration_minutes=duration_minutes)
    except ValidationError as error:
        raise Unprocessable([problem(e["msg"], str(e["loc"][0])) for e in error.errors()]
                            ) from error
    meeting = schedule.create_meeting(session, data, me.user, Channel.WEB, settings)
    return see_other(f"/meetings/{meeting.id}?done=meeting_scheduled")


@router.get("/meetings/{meeting_id}", response_class=HTMLResponse)
def agenda_page(request: Request, meeting_id: MeetingId, session: ReadSessionDep, me: WebUser,
                settings: SettingsDep) -> HTMLResponse:
    return render(request, "meeting.html", m=agenda.agenda(session, meeting_id, me, settings),
                  may_decide=schedule.coordinator_refusal(me) is None,
                  decisions=list(Decision))


@router.get("/meetings/{meeting_id}/print", response_class=HTMLResponse)
def printable_agenda(request: Request, meeting_id: MeetingId, session: ReadSessionDep,
                     me: WebUser, settings: SettingsDep) -> HTMLResponse:
    return render(request, "meeting_print.html",
                  m=agenda.agenda(session, meeting_id, me, settings))


@router.get("/meetings/{meeting_id}/invitation.ics")
def invitation_file(meeting_id: MeetingId, session: ReadSessionDep, me: WebUser,
                    settings: SettingsDep) -> Response:
    return calendar_file(meeting_id, session, me, settings)


@router.post("/meetings/{meeting_id}/decisions", dependencies=[CsrfChecked])
def decide(
    meeting_id: MeetingId, session: SessionDep, me: WebUser, settings: SettingsDep,
    proposal_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    decision: Annotated[Decision, Form()],
    comment: Annotated[str, Form(max_length=5000)] = "",
    version: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> Response:
    decisions.decide(session, meeting_id, DecisionRequest(
        proposal_id=proposal_id, decision=decision, comment=comment or None, version=version),
        me.user, Channel.WEB, settings=settings, grants=me)
    return see_other(f"/meetings/{meeting_id}?done={decision.value}#p{proposal_id}")


@router.post("/meetings/{meeting_id}/agenda-email", dependencies=[CsrfChecked])
def send_agenda(meeting_id: MeetingId, session: SessionDep, me: WebUser,
                settings: SettingsDep) -> Response:
    agenda_mail.send_agenda(session, meeting_id, me.user, Channel.WEB, settings)
    return see_other(f"/meetings/{meeting_id}?done=agenda_sent")


@router.post("/proposals/{proposal_id}/meeting", dependencies=[CsrfChecked])
def move(proposal_id: ProposalId, session: SessionDep, me: WebUser,
         meeting_id: Annotated[int, Form(ge=1, le=MAX_ID)]) -> Response:
    schedule.move(session, proposal_id, meeting_id, me.user, Channel.WEB)
    return see_other(f"/proposals/{proposal_id}?done=moved_to_another_meeting#meeting")
