"""The badge design page: the owner uploads the image, criteria and alt text; the coordinator
sees it and approves or returns it. Uploads go through workflow.credentials.badges, as the
API's do."""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from api.deps import ReadSessionDep, SessionDep
from api.pages.forms import field_errors
from api.routes.badges import DesignForm, image_response, read_design_form, visible_design
from api.web import CSRF_FIELD, WebUser, refuse_without_csrf, render, see_other, settings_of
from notifications import badge_image
from workflow import service
from workflow.access import Grants
from workflow.audit import Channel
from workflow.credentials import badges, catalog, publishing
from workflow.errors import Unprocessable, problem
from workflow.fields import MAX_ID
from workflow.proposals.models import Proposal

router = APIRouter(include_in_schema=False)
ProposalId = Annotated[int, Path(ge=1, le=MAX_ID)]
DECISIONS = ("approve", "return")


def design_context(request: Request, session: Session, proposal: Proposal,
                   me: Grants) -> dict[str, Any]:
    """What the design page and the proposal page show of a proposal's badge design."""
    published = catalog.of_proposal(session, proposal.id or 0)
    return {
        "design": badges.design_of(session, proposal.id or 0),
        "may_upload": proposal.owner_id == me.user.id and proposal.state in badges.DESIGN_STATES,
        "credential_url": publishing.credential_url(settings_of(request), published.public_id)
        if published else None,
    }


def _page(request: Request, session: Session, proposal_id: int, me: Grants, *,
          values: dict[str, str] | None = None, errors: dict[str, list[str]] | None = None,
          status_code: int = 200) -> HTMLResponse:
    proposal = service.visible_proposal(session, proposal_id, me)
    shown = design_context(request, session, proposal, me)
    design = shown["design"]
    if values is None:
        values = {"criteria_narrative": design.criteria_narrative if design else "",
                  "alt_text": design.alt_text if design else "",
                  "tags": ", ".join(design.tags) if design else ""}
    actions = [a for a in service.available_triggers(session, proposal, me)
               if a.trigger in DECISIONS]
    return render(request, "design.html", status_code=status_code, p=proposal, **shown,
                  values=values, errors=errors or {}, actions=actions,
                  max_bytes=settings_of(request).max_image_bytes)


@router.get("/proposals/{proposal_id}/design", response_class=HTMLResponse)
def design_page(request: Request, proposal_id: ProposalId, session: ReadSessionDep,
                me: WebUser) -> HTMLResponse:
    return _page(request, session, proposal_id, me)


@router.post("/proposals/{proposal_id}/design", response_class=HTMLResponse)
async def upload_design(request: Request, proposal_id: ProposalId, session: SessionDep,
                        me: WebUser) -> Response:
    try:
        form: DesignForm = await read_design_form(request, settings_of(request))
    except HTTPException as error:
        if error.status_code != status.HTTP_413_CONTENT_TOO_LARGE:
            raise
        return _page(request, session, proposal_id, me, errors={"image": [str(error.detail)]},
                     status_code=error.status_code)
    refuse_without_csrf(request, form.texts.get(CSRF_FIELD))
    values = {name: form.texts.get(name, "") for name in ("criteria_narrative", "alt_text",
                                                          "tags")}
    current = badges.design_of(session, proposal_id) if form.image is None else None
    try:
        if form.image is None and current is None:
            raise Unprocessable([problem("choose an image file", "image", kind="missing")])
        upload = form.upload((current.image, current.content_type) if current else None)
        badges.save_design(session, proposal_id, upload, me.user, Channel.WEB.value)
    except Unprocessable as error:
        problems = error.detail if isinstance(error.detail, list) else [{"msg": error.detail}]
        return _page(request, session, proposal_id, me, values=values,
                     errors=field_errors(problems),
                     status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return see_other(f"/proposals/{proposal_id}/design?done=badge_design_saved")


@router.get("/proposals/{proposal_id}/design/image")
def design_image(proposal_id: ProposalId, session: ReadSessionDep, me: WebUser) -> Response:
    design = visible_design(session, proposal_id, me)
    return image_response(design.image, design.content_type)


@router.get("/proposals/{proposal_id}/design/email-image/{signed}")
def design_image_for_email(proposal_id: ProposalId, signed: Annotated[str, Path(max_length=64)],
                           request: Request, session: ReadSessionDep) -> Response:
    """The design image the approval email shows: no session, but a signature for exactly
    this proposal and this image (notifications/badge_image.py)."""
    design = badges.design_of(session, proposal_id)
    if design is None or not badge_image.valid(settings_of(request), proposal_id,
                                               design.sha256, signed):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such image")
    return image_response(design.image, design.content_type)
