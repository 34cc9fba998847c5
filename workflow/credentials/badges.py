"""Badge images: checked by their content, never trusted by their name."""

import hashlib
import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, func, select

from workflow import audit
from workflow.access import can_view, grants_of, standing
from workflow.accounts.models import User
from workflow.credentials.models import BadgeDesign
from workflow.credentials.svg import SVGRefused, check_svg
from workflow.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unprocessable,
    WorkflowError,
    problem,
)
from workflow.fields import multi_line_problem, one_line_problem, utcnow
from workflow.machine import State
from workflow.proposals.models import Proposal

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIN_SIDE = 400


class ImageRefused(ValueError):
    """The upload is not an acceptable badge image; the message says why."""


@dataclass(frozen=True)
class BadgeImage:
    content_type: str
    width: int | None
    height: int | None


def inspect_image(data: bytes) -> BadgeImage:
    """Say what the image is, or refuse it."""
    if not data:
        raise ImageRefused("the image is empty")
    if data.startswith(PNG_SIGNATURE):
        return _inspect_png(data)
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<?xml") or head.startswith(b"<svg") or head.startswith(b"<!--"):
        return _inspect_svg(data)
    raise ImageRefused("the image must be a PNG or an SVG file")


def _inspect_png(data: bytes) -> BadgeImage:
    position = len(PNG_SIGNATURE)
    width = height = None
    seen_iend = False
    while position < len(data):
        if position + 8 > len(data):
            raise ImageRefused("the PNG file is truncated")
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        end = position + 8 + length + 4
        if end > len(data):
            raise ImageRefused("the PNG file is truncated")
        body = data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4:end])
        if zlib.crc32(kind + body) != crc:
            raise ImageRefused("the PNG file is damaged (a chunk fails its checksum)")
        if position == len(PNG_SIGNATURE):
            if kind != b"IHDR" or length < 8:
                raise ImageRefused("the PNG file has no header")
            width, height = struct.unpack(">II", body[:8])
        if kind == b"IEND":
            seen_iend = True
            break
        position = end
    if not seen_iend:
        raise ImageRefused("the PNG file is truncated")
    assert width is not None and height is not None
    if width != height:
        raise ImageRefused(f"the badge image must be square; this one is {width}x{height}")
    if width < MIN_SIDE:
        raise ImageRefused(f"the badge image must be at least {MIN_SIDE}x{MIN_SIDE} pixels; "
                           f"this one is {width}x{height}")
    return BadgeImage("image/png", width, height)


def _inspect_svg(data: bytes) -> BadgeImage:
    try:
        check_svg(data)
    except SVGRefused as refusal:
        raise ImageRefused(str(refusal)) from refusal
    return BadgeImage("image/svg+xml", None, None)


# --- the badge design of a proposal ---------------------------------------------------------

DESIGN_STATES = frozenset({"draft", "returned", "design_review"})
MAX_TAGS = 20


@dataclass(frozen=True)
class DesignUpload:
    image: bytes
    criteria_narrative: str
    alt_text: str
    tags: tuple[str, ...] = ()
    filename: str | None = None
    declared_type: str | None = None


EXTENSION_TYPES = {"png": "image/png", "svg": "image/svg+xml", "jpg": "image/jpeg",
                   "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


def mismatch(upload: DesignUpload, actual: str) -> str | None:
    """The type is read from the bytes; a name or declared type that says otherwise is refused
    (a renamed file is a mistake at best, a polyglot at worst)."""
    extension = (upload.filename or "").rsplit(".", 1)[-1].lower() if "." in (
        upload.filename or "") else ""
    named = EXTENSION_TYPES.get(extension)
    if named and named != actual:
        return f"the file is named .{extension} but its content is {actual}"
    declared = (upload.declared_type or "").split(";")[0].strip().lower()
    if declared.startswith("image/") and declared != actual:
        return f"the file is sent as {declared} but its content is {actual}"
    return None


def _text_problems(upload: DesignUpload) -> list[dict[str, Any]]:
    problems = []

    def refuse(field: str, message: str) -> None:
        problems.append(problem(message, field))

    if not upload.criteria_narrative.strip():
        refuse("criteria_narrative", "the criteria narrative is required")
    elif len(upload.criteria_narrative) > 20_000:
        refuse("criteria_narrative", "the criteria narrative is longer than 20,000 characters")
    if not upload.alt_text.strip():
        refuse("alt_text", "alt text describing the image is required")
    elif len(upload.alt_text) > 1000:
        refuse("alt_text", "the alt text is longer than 1,000 characters")
    if len(upload.tags) > MAX_TAGS or any(len(t) > 100 for t in upload.tags):
        refuse("tags", f"at most {MAX_TAGS} tags of at most 100 characters each")
    text_problem = multi_line_problem(upload.criteria_narrative)
    if text_problem:
        refuse("criteria_narrative", text_problem)
    for field, values in (("alt_text", [upload.alt_text]), ("tags", upload.tags)):
        line_problem = next(filter(None, map(one_line_problem, values)), None)
        if line_problem:
            refuse(field, line_problem)
    return problems


def parse_tags(raw: str | None) -> tuple[str, ...]:
    """Tags as a comma-separated line or a JSON list of strings."""
    if not raw or not raw.strip():
        return ()
    text = raw.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError as error:
            raise Unprocessable([problem("not a JSON list of strings", "tags")]) from error
        if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
            raise Unprocessable([problem("not a JSON list of strings", "tags")])
    else:
        items = text.split(",")
    return tuple(dict.fromkeys(t.strip() for t in items if t.strip()))


def save_design(
    session: Session, proposal_id: int, upload: DesignUpload, actor: User, via: str
) -> BadgeDesign:
    """Store the owner's design (replacing the previous one), audited with the image's SHA-256."""
    proposal = session.exec(
        select(Proposal).where(Proposal.id == proposal_id).with_for_update()).first()
    try:
        if proposal is None:
            raise NotFound("no such proposal")
        who = standing(grants_of(session, actor), proposal)
        if not can_view(who, State(proposal.state)):
            raise NotFound("no such proposal")
        if not who.is_owner:
            raise Forbidden("only the proposal's owner can upload its badge design")
        if proposal.state not in DESIGN_STATES:
            raise Conflict(f"a proposal in state {proposal.state} cannot change its badge design")
        problems = _text_problems(upload)
        try:
            image = inspect_image(upload.image)
            wrong_name = mismatch(upload, image.content_type)
            if wrong_name:
                raise ImageRefused(wrong_name)
        except ImageRefused as refusal:
            problems.insert(0, problem(str(refusal), "image"))
        if problems:
            raise Unprocessable(problems)
    except WorkflowError:
        session.rollback()
        raise
    digest = hashlib.sha256(upload.image).hexdigest()
    design = session.exec(select(BadgeDesign).where(BadgeDesign.proposal_id == proposal_id)
                          ).first() or BadgeDesign(proposal_id=proposal_id, image=b"",
                                                   content_type="", sha256="",
                                                   criteria_narrative="", alt_text="",
                                                   uploaded_by_id=actor.id or 0)
    design.image = upload.image
    design.content_type = image.content_type
    design.sha256 = digest
    design.width, design.height = image.width, image.height
    design.criteria_narrative = upload.criteria_narrative.strip()
    design.alt_text = upload.alt_text.strip()
    design.tags = list(upload.tags)
    design.uploaded_by_id = actor.id or 0
    design.updated_at = utcnow()
    session.add(design)
    assert proposal is not None
    audit.append(
        session, actor=actor, role="submitter", channel=via, action="badge_design",
        from_state=proposal.state, to_state=proposal.state, proposal_id=proposal.id,
        version=proposal.version,
        detail={"sha256": digest, "bytes": len(upload.image), "content_type": image.content_type,
                "width": image.width, "height": image.height, "tags": list(upload.tags)},
    )
    session.commit()
    return design


def design_of(session: Session, proposal_id: int) -> BadgeDesign | None:
    return session.exec(select(BadgeDesign).where(BadgeDesign.proposal_id == proposal_id)).first()


def design_problem(session: Session, proposal_id: int) -> str | None:
    """Why the proposal's design cannot be published, or None when it can (the image was
    judged when it was uploaded; only its size is read here, not its bytes)."""
    row = session.exec(select(func.length(BadgeDesign.image), BadgeDesign.criteria_narrative,
                              BadgeDesign.alt_text)
                       .where(BadgeDesign.proposal_id == proposal_id)).first()
    if row is None:
        return "no badge design yet"
    size, criteria, alt_text = row
    if not size:
        return "the badge design has no image"
    if not criteria.strip():
        return "the badge design has no criteria text"
    if not alt_text.strip():
        return "the badge image has no alt text"
    return None
