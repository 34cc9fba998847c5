"""Badge designs: the multipart upload, read with a size limit, and the image served safely."""

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from api import errors
from api.deps import CurrentUser, ReadSessionDep, SessionDep
from plumbing.settings import Settings
from workflow import service
from workflow.audit import Channel
from workflow.credentials import badges
from workflow.credentials.models import BadgeDesign, BadgeDesignPublic
from workflow.errors import problem
from workflow.fields import MAX_ID, as_utc

ProposalId = Annotated[int, Path(ge=1, le=MAX_ID)]
router = APIRouter(prefix="/api/proposals", tags=["badge designs"])
# Room for the text fields and the multipart framing beside the image itself.
FORM_OVERHEAD = 64 * 1024

ERRORS = errors.responses(
    400, 401, 403, 404, 409, 413, 422,
    e403="Not the proposal's owner", e404="Unknown proposal",
    e409="The proposal is not in draft, returned or design_review",
    e413="The image is larger than MICROCRED_MAX_IMAGE_BYTES",
    e422="Not an acceptable image, or criteria or alt text missing")

# Images are inert: never sniffed into HTML, and an SVG opened directly runs nothing.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def too_large(limit: int) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                         f"the image is larger than the {limit:,}-byte limit")


async def bounded(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    """The request body, refused as soon as it grows past `limit` (never read whole)."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise too_large(limit - FORM_OVERHEAD)
        yield chunk


@dataclass(frozen=True)
class DesignForm:
    """A badge design form as sent: the chosen file (None when no file was chosen) and the
    text fields."""

    image: bytes | None
    filename: str | None
    declared_type: str | None
    texts: dict[str, str]

    def upload(self, kept: tuple[bytes, str] | None = None) -> badges.DesignUpload:
        """The upload; `kept` (the current image and its type) stands in when no file was
        chosen, and is checked again like a new file."""
        image, filename, declared = self.image or b"", self.filename, self.declared_type
        if self.image is None and kept is not None:
            (image, declared), filename = kept, None
        return badges.DesignUpload(
            image=image, criteria_narrative=self.texts.get("criteria_narrative", ""),
            alt_text=self.texts.get("alt_text", ""),
            tags=badges.parse_tags(self.texts.get("tags")),
            filename=filename, declared_type=declared)


async def read_design_form(request: Request, settings: Settings) -> DesignForm:
    """The multipart form, parsed as it streams in and refused with 413 past the limit."""
    limit = settings.max_image_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise too_large(limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "send multipart/form-data with image, criteria_narrative, alt_text")
    parser = MultiPartParser(request.headers, bounded(request, limit + FORM_OVERHEAD),
                             max_files=1, max_fields=10, max_part_size=FORM_OVERHEAD)
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, error.message) from error
    try:
        image = form.get("image")
        data: bytes | None = None
        if isinstance(image, UploadFile):
            data = await image.read(limit + 1)
            if len(data) > limit:
                raise too_large(limit)
            if not data and not image.filename:  # a browser's file input left empty
                data = None
        texts = {name: value for name, value in form.items() if isinstance(value, str)}
        return DesignForm(image=data,
                          filename=image.filename if isinstance(image, UploadFile) else None,
                          declared_type=image.content_type if isinstance(
                              image, UploadFile) else None,
                          texts=texts)
    finally:
        await form.close()


async def read_upload(request: Request, settings: Settings) -> badges.DesignUpload:
    form = await read_design_form(request, settings)
    if form.image is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [
            problem("an image file is required", "image", kind="missing")])
    return form.upload()


def present(design: BadgeDesign, request: Request) -> BadgeDesignPublic:
    return BadgeDesignPublic(
        proposal_id=design.proposal_id, content_type=design.content_type, sha256=design.sha256,
        size=len(design.image), width=design.width, height=design.height,
        criteria_narrative=design.criteria_narrative, alt_text=design.alt_text,
        tags=list(design.tags),
        image_url=f"/api/proposals/{design.proposal_id}/badge-design/image",
        updated_at=as_utc(design.updated_at),
    )


def image_response(data: bytes, content_type: str, *, public: bool = False) -> Response:
    """An image with its real type; only a published credential's may sit in shared caches
    (a draft's design is behind a token or a session)."""
    headers = {"X-Content-Type-Options": "nosniff",
               "Cache-Control": f"{'public' if public else 'private'}, max-age=300"}
    if content_type == "image/svg+xml":
        headers["Content-Security-Policy"] = SVG_POLICY
    return Response(data, media_type=content_type, headers=headers)


@router.put("/{proposal_id}/badge-design", responses=ERRORS,
            openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["image", "criteria_narrative", "alt_text"],
                "properties": {"image": {"type": "string", "format": "binary"},
                               "criteria_narrative": {"type": "string"},
                               "alt_text": {"type": "string"},
                               "tags": {"type": "string",
                                        "description": "comma-separated, or a JSON list"}}}}}}})
async def upload_badge_design(
    proposal_id: ProposalId, request: Request, session: SessionDep, me: CurrentUser
) -> BadgeDesignPublic:
    upload = await read_upload(request, request.app.state.settings)
    design = badges.save_design(session, proposal_id, upload, me.user, Channel.API.value)
    return present(design, request)


def visible_design(session: Any, proposal_id: int, me: Any) -> BadgeDesign:
    service.visible_proposal(session, proposal_id, me)
    design = badges.design_of(session, proposal_id)
    if design is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this proposal has no badge design yet")
    return design


@router.get("/{proposal_id}/badge-design", responses=ERRORS)
def get_badge_design(
    proposal_id: ProposalId, request: Request, session: ReadSessionDep, me: CurrentUser
) -> BadgeDesignPublic:
    return present(visible_design(session, proposal_id, me), request)


@router.get("/{proposal_id}/badge-design/image", responses=ERRORS,
            response_class=Response)
def get_badge_design_image(
    proposal_id: ProposalId, session: ReadSessionDep, me: CurrentUser
) -> Response:
    design = visible_design(session, proposal_id, me)
    return image_response(design.image, design.content_type)
