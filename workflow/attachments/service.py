"""Attaching files to a proposal and reading them back, with who may do which."""

import hashlib
from dataclasses import dataclass

from sqlmodel import Session, col, select

from plumbing.settings import Settings
from workflow import audit, queries
from workflow.access import Grants, can_view, grants_of, standing
from workflow.accounts.models import Role, User
from workflow.attachments.content import AttachmentRefused, clean_filename, identify
from workflow.attachments.models import Attachment, AttachmentPublic, Purpose
from workflow.attachments.storage import store_for
from workflow.errors import Conflict, Forbidden, NotFound, Unprocessable, WorkflowError, problem
from workflow.fields import as_utc
from workflow.machine import State
from workflow.proposals.models import Proposal

CLOSED_STATES = frozenset({State.REJECTED, State.WITHDRAWN, State.RETIRED})


@dataclass(frozen=True)
class AttachmentUpload:
    data: bytes
    filename: str | None
    purpose: str = Purpose.OTHER.value


def attach_refusal(grants: Grants, proposal: Proposal) -> WorkflowError | None:
    """Why this user may not attach files to this proposal now, or None when they may: its
    authors, its department's leads and the coordinator, until the proposal is closed."""
    who = standing(grants, proposal)
    state = State(proposal.state)
    if not can_view(who, state):
        return NotFound("no such proposal")
    if not (who.authors or grants.leads(proposal.department_id)
            or grants.has(Role.COORDINATOR)):
        return Forbidden("only the proposal's authors, its department's leads and the "
                         "coordinator attach files to it")
    if state in CLOSED_STATES:
        return Conflict(f"a proposal in state {state.value} takes no more attachments")
    return None


def add_attachment(session: Session, proposal_id: int, upload: AttachmentUpload, actor: User,
                   via: str, settings: Settings) -> Attachment:
    """Check the file by its content, store it by its SHA-256 and list it, audited."""
    proposal = queries.locked_proposal(session, proposal_id)
    grants = grants_of(session, actor)
    try:
        refusal = attach_refusal(grants, proposal)
        if refusal is not None:
            raise refusal
        problems = []
        if upload.purpose not in {p.value for p in Purpose}:
            problems.append(problem("choose one of " + ", ".join(p.value for p in Purpose),
                                    "purpose"))
        if len(upload.data) > settings.max_attachment_bytes:
            problems.append(problem(f"the file is larger than the "
                                    f"{settings.max_attachment_bytes:,}-byte limit", "file"))
        else:
            try:
                kind = identify(upload.data)
                filename = clean_filename(upload.filename, kind)
            except AttachmentRefused as refused:
                problems.append(problem(str(refused), "file"))
        if problems:
            raise Unprocessable(problems)
    except WorkflowError as refusal:
        audit.record_refusal(session, refusal, actor=actor, role=None, channel=via,
                             action="attach", proposal_id=proposal_id,
                             from_state=proposal.state, version=proposal.version,
                             detail={"filename": (upload.filename or "")[:200],
                                     "bytes": len(upload.data)})
        raise
    digest = hashlib.sha256(upload.data).hexdigest()
    store_for(settings).put(session, digest, upload.data)
    attachment = Attachment(proposal_id=proposal_id, sha256=digest, filename=filename,
                            content_type=kind.content_type, size=len(upload.data),
                            purpose=upload.purpose, uploaded_by_id=actor.id or 0)
    session.add(attachment)
    session.flush()
    audit.append(session, actor=actor, role=None, channel=via, action="attach",
                 from_state=proposal.state, to_state=proposal.state, proposal_id=proposal_id,
                 version=proposal.version,
                 detail={"attachment_id": attachment.id, "sha256": digest, "filename": filename,
                         "content_type": kind.content_type, "bytes": len(upload.data),
                         "purpose": upload.purpose})
    session.commit()
    return attachment


def of_proposal(session: Session, proposal_id: int) -> list[tuple[Attachment, str]]:
    """A proposal's attachments, oldest first, each with its uploader's name."""
    return [(a, name) for a, name in session.exec(
        select(Attachment, User.name).join(User, col(User.id) == Attachment.uploaded_by_id)
        .where(Attachment.proposal_id == proposal_id).order_by(col(Attachment.id))).all()]


def download_url(attachment: Attachment) -> str:
    return f"/api/proposals/{attachment.proposal_id}/attachments/{attachment.id}"


def present(attachment: Attachment, uploader: str) -> AttachmentPublic:
    return AttachmentPublic(
        id=attachment.id or 0, proposal_id=attachment.proposal_id, filename=attachment.filename,
        content_type=attachment.content_type, size=attachment.size, sha256=attachment.sha256,
        purpose=attachment.purpose, uploaded_by=uploader,
        created_at=as_utc(attachment.created_at), download_url=download_url(attachment))


def visible_attachment(session: Session, proposal_id: int, attachment_id: int,
                       grants: Grants) -> Attachment:
    """The attachment, if its proposal is visible to this user (else 404)."""
    proposal = queries.read_proposal(session, proposal_id)
    if proposal is None or not can_view(standing(grants, proposal), State(proposal.state)):
        raise NotFound("no such proposal")
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.proposal_id != proposal_id:
        raise NotFound("no such attachment")
    return attachment


def content_of(session: Session, attachment: Attachment, settings: Settings) -> bytes:
    return store_for(settings).get(session, attachment.sha256)
