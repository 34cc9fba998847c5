"""Attachments: a multipart upload read with a size limit, and downloads that browsers save
rather than open."""

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from api import errors
from api.deps import CurrentUser, ReadSessionDep, SessionDep
from api.routes.proposals import ProposalId
from plumbing.settings import Settings
from workflow import service
from workflow.attachments import service as attachments
from workflow.attachments.models import Attachment, AttachmentPublic
from workflow.audit import Channel
from workflow.errors import problem
from workflow.fields import MAX_ID

AttachmentId = Annotated[int, Path(ge=1, le=MAX_ID)]
router = APIRouter(prefix="/api/proposals", tags=["attachments"])
FORM_OVERHEAD = 64 * 1024
ERRORS = errors.responses(
    400, 401, 403, 404, 409, 413, 422, e404="Unknown proposal",
    e403="Not an author, a lead of its department or the coordinator",
    e409="The proposal is rejected, withdrawn or retired",
    e413="The file is larger than MICROCRED_MAX_ATTACHMENT_BYTES",
    e422="Not a PDF, DOCX, XLSX or PNG file, or a name that claims another type")
# A download is never rendered by the browser, whatever it holds.
DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
                    "Content-Security-Policy": "default-src 'none'; sandbox"}


def too_large(limit: int) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                         f"the file is larger than the {limit:,}-byte limit")


async def bounded(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit + FORM_OVERHEAD:
            raise too_large(limit)
        yield chunk


@dataclass(frozen=True)
class AttachmentForm:
    upload: attachments.AttachmentUpload | None
    texts: dict[str, str]


async def read_attachment_form(request: Request, settings: Settings) -> AttachmentForm:
    """The multipart form (`file`, `purpose`), refused with 413 as soon as it is too large."""
    limit = settings.max_attachment_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise too_large(limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "send multipart/form-data with file and purpose")
    parser = MultiPartParser(request.headers, bounded(request, limit), max_files=1,
                             max_fields=5, max_part_size=FORM_OVERHEAD)
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, error.message) from error
    try:
        texts = {name: value for name, value in form.items() if isinstance(value, str)}
        given = form.get("file")
        if not isinstance(given, UploadFile) or not given.filename:
            return AttachmentForm(None, texts)
        data = await given.read(limit + 1)
        if len(data) > limit:
            raise too_large(limit)
        return AttachmentForm(attachments.AttachmentUpload(
            data=data, filename=given.filename, purpose=texts.get("purpose") or "other"), texts)
    finally:
        await form.close()


def download(attachment: Attachment, content: bytes) -> Response:
    ascii_name = attachment.filename.encode("ascii", "replace").decode().replace('"', "_")
    disposition = (f'attachment; filename="{ascii_name}"; '
                   f"filename*=UTF-8''{quote(attachment.filename, safe='')}")
    return Response(content, media_type=attachment.content_type,
                    headers={**DOWNLOAD_HEADERS, "Content-Disposition": disposition})


@router.post("/{proposal_id}/attachments", status_code=status.HTTP_201_CREATED,
             responses=ERRORS,
             openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["file"],
                 "properties": {"file": {"type": "string", "format": "binary"},
                                "purpose": {"type": "string",
                                            "enum": ["letter_of_support", "syllabus",
                                                     "employer_data", "other"]}}}}}}})
async def upload(proposal_id: ProposalId, request: Request, session: SessionDep,
                 me: CurrentUser) -> AttachmentPublic:
    settings: Settings = request.app.state.settings
    form = await read_attachment_form(request, settings)
    if form.upload is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            [problem("a file is required", "file", kind="missing")])
    attachment = attachments.add_attachment(session, proposal_id, form.upload, me.user,
                                            Channel.API, settings)
    return attachments.present(attachment, me.user.name)


@router.get("/{proposal_id}/attachments", responses=errors.responses(401, 404, 422))
def listing(proposal_id: ProposalId, session: ReadSessionDep, me: CurrentUser
            ) -> list[AttachmentPublic]:
    service.visible_proposal(session, proposal_id, me)
    return [attachments.present(a, name)
            for a, name in attachments.of_proposal(session, proposal_id)]


@router.get("/{proposal_id}/attachments/{attachment_id}", response_class=Response,
            responses=errors.responses(401, 404, 422))
def get_attachment(proposal_id: ProposalId, attachment_id: AttachmentId, request: Request,
                   session: ReadSessionDep, me: CurrentUser) -> Response:
    """The file itself, as a download (`Content-Disposition: attachment`, `nosniff`)."""
    attachment = attachments.visible_attachment(session, proposal_id, attachment_id, me)
    return download(attachment, attachments.content_of(session, attachment,
                                                       request.app.state.settings))
