"""What the proposal page shows of the committee's process: its meeting, its attachments and
its discussion, and the forms for them (comments, files, a move), each a template of its own
(`_meeting.html`, `_attachments.html`, `_discussion.html`)."""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import ReadSessionDep, SessionDep, SettingsDep
from api.routes.attachments import download, read_attachment_form
from api.web import CSRF_FIELD, CsrfChecked, WebUser, refuse_without_csrf, see_other
from plumbing.settings import Settings
from workflow import discussion
from workflow.access import Grants
from workflow.attachments import service as attachments
from workflow.attachments.models import Purpose
from workflow.audit import Channel
from workflow.discussion import CommentCreate
from workflow.errors import Unprocessable, problem
from workflow.fields import MAX_ID
from workflow.meetings import agenda, schedule
from workflow.proposals.models import Proposal

router = APIRouter(include_in_schema=False)
ProposalId = Annotated[int, Path(ge=1, le=MAX_ID)]


def sections(session: Session, proposal: Proposal, me: Grants,
             settings: Settings) -> dict[str, Any]:
    """The proposal page's context for its meeting, attachments and discussion."""
    placed = agenda.placement(session, proposal.id or 0)
    may_move = (proposal.state == "rubric_review"
                and schedule.coordinator_refusal(me, proposal) is None)
    return {
        "meeting": agenda.present(placed[0], 0, settings) if placed else None,
        "other_meetings": [m for m in agenda.meetings(session, settings, upcoming=True)
                           if not placed or m.id != placed[0].id] if may_move else [],
        "attachments": attachments.of_proposal(session, proposal.id or 0),
        "may_attach": attachments.attach_refusal(me, proposal) is None,
        "purposes": list(Purpose),
        "max_attachment_bytes": settings.max_attachment_bytes,
        "comments": discussion.thread(session, proposal, me),
        "may_write_notes": discussion.may_write_notes(session, me, proposal),
    }


@router.post("/proposals/{proposal_id}/comments", dependencies=[CsrfChecked])
async def comment(request: Request, proposal_id: ProposalId, session: SessionDep,
                  me: WebUser) -> Response:
    form = await request.form()
    body, private = form.get("body"), form.get("private") == "on"
    try:
        data = CommentCreate(body=body if isinstance(body, str) else "", private=private)
    except ValueError as error:
        raise Unprocessable([problem("write a comment (at most 10,000 characters)", "body")]
                            ) from error
    discussion.post_comment(session, proposal_id, data, me.user, Channel.WEB)
    return see_other(f"/proposals/{proposal_id}?done=comment_added#discussion")


@router.post("/proposals/{proposal_id}/attachments")
async def attach(request: Request, proposal_id: ProposalId, session: SessionDep, me: WebUser,
                 settings: SettingsDep) -> Response:
    form = await read_attachment_form(request, settings)
    refuse_without_csrf(request, form.texts.get(CSRF_FIELD))
    if form.upload is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "choose a file to attach")
    attachments.add_attachment(session, proposal_id, form.upload, me.user, Channel.WEB,
                               settings)
    return see_other(f"/proposals/{proposal_id}?done=file_attached#attachments")


@router.get("/proposals/{proposal_id}/attachments/{attachment_id}")
def attachment_file(proposal_id: ProposalId, attachment_id: Annotated[int, Path(
        ge=1, le=MAX_ID)], session: ReadSessionDep, me: WebUser,
        settings: SettingsDep) -> Response:
    found = attachments.visible_attachment(session, proposal_id, attachment_id, me)
    return download(found, attachments.content_of(session, found, settings))
