"""Published credentials: the snapshot made when a design is approved, the catalog, pathways,
retirement, and the Canvas Credentials jobs written beside them.

The door publishes inside the approve transaction (`workflow.service.apply`): an Achievement
that is not valid Open Badges 3.0 refuses the approval with 422 and the whole transaction
(state, audit, events) is rolled back.
"""

import secrets
from typing import Any

from sqlmodel import Session, select

from plumbing.settings import Settings
from workflow import audit, queries
from workflow.accounts.models import Department, User
from workflow.credentials import badges
from workflow.credentials.models import (
    CanvasJob,
    Credential,
    CredentialStatus,
)
from workflow.credentials.openbadges import Issuer, Publication, achievement, achievement_problems
from workflow.errors import Unprocessable, problem
from workflow.fields import utcnow
from workflow.proposals.models import EDITABLE_FIELDS, Proposal, ProposalFields

SNAPSHOT_EXTRA = ("criteria_narrative", "alt_text", "tags", "department_name")


def new_public_id() -> str:
    return secrets.token_urlsafe(9)


def credential_url(settings: Settings, public_id: str) -> str:
    return f"{settings.base_url.rstrip('/')}/credentials/{public_id}"


def api_url(settings: Settings, public_id: str) -> str:
    return f"{settings.base_url.rstrip('/')}/api/credentials/{public_id}"


def publication(credential: Credential, predecessor: Credential | None,
                settings: Settings) -> Publication:
    snap = credential.snapshot
    base = settings.base_url.rstrip("/")
    return Publication(
        url=credential_url(settings, credential.public_id),
        api_url=api_url(settings, credential.public_id),
        version=credential.version,
        title=credential.title,
        description=snap.get("summary") or credential.title,
        criteria_narrative=snap.get("criteria_narrative") or "",
        image_url=f"{api_url(settings, credential.public_id)}/image" if credential.image else None,
        image_caption=snap.get("alt_text") or None,
        credit_bearing=credential.credit_bearing,
        credits=snap.get("credits"),
        competencies=tuple(snap.get("competencies") or ()),
        tags=tuple(snap.get("tags") or ()),
        department_code=credential.department_code,
        department_name=credential.department_name,
        department_url=f"{base}/departments/{credential.department_code}",
        issuer=Issuer(settings.issuer_name, settings.issuer_url, settings.issuer_email),
        predecessor_url=credential_url(settings, predecessor.public_id) if predecessor else None,
        predecessor_version=predecessor.version if predecessor else None,
        expiration_months=snap.get("expiration_months"),
    )


def snapshot_of(proposal: ProposalFields, department: Department,
                design: Any | None) -> dict[str, Any]:
    snap: dict[str, Any] = {name: getattr(proposal, name) for name in EDITABLE_FIELDS}
    snap["department"] = department.code
    snap["department_name"] = department.name
    snap["criteria_narrative"] = design.criteria_narrative if design else ""
    snap["alt_text"] = design.alt_text if design else ""
    snap["tags"] = list(design.tags) if design else []
    return snap


def new_credential(
    proposal: ProposalFields, department: Department, snapshot: dict[str, Any],
    *, proposal_id: int, image: bytes | None, image_type: str | None, image_sha256: str | None,
    predecessor: Credential | None, settings: Settings, imported: bool = False,
) -> Credential:
    """Build (not add) a credential with its Achievement; refuse one that is not valid OB 3.0."""
    credential = Credential(
        public_id=new_public_id(), proposal_id=proposal_id,
        version=(predecessor.version + 1) if predecessor else 1,
        predecessor_id=predecessor.id if predecessor else None,
        title=proposal.title, department_code=department.code, department_name=department.name,
        level=proposal.level, modality=proposal.modality,
        credit_bearing=proposal.credit_bearing,
        competency_keys="," + "".join(f"{c}," for c in proposal.competencies or ()),
        snapshot=snapshot, achievement={}, image=image, image_type=image_type,
        image_sha256=image_sha256, imported=imported, published_at=utcnow(),
        # Given, not defaulted: pydantic inspects a default factory's signature on every call.
        stacks_into_ids=[], status=CredentialStatus.ACTIVE.value,
    )
    document = achievement(publication(credential, predecessor, settings))
    problems = achievement_problems(document)
    if problems:
        raise Unprocessable([problem(p, kind="openbadges.invalid", where="achievement")
                             for p in problems])
    credential.achievement = document
    return credential


def stacks_into_ids(session: Session, proposal: Proposal) -> list[int]:
    """The published credentials its `stacks_into` names, resolved once, at publication."""
    found: list[int] = []
    for name in proposal.stacks_into or ():
        entry = queries.published_credential(session, name)
        if entry is None:
            continue
        target = session.exec(select(Credential.id).where(
            Credential.proposal_id == entry.id)).first()
        if target is not None and target not in found:
            found.append(target)
    return found


def publish(session: Session, proposal: Proposal, *, actor: User, channel: str,
            settings: Settings) -> Credential:
    """Make the proposal's credential: its snapshot, its Achievement, the predecessor it
    supersedes and the Canvas Credentials job, in the caller's transaction."""
    department = session.get(Department, proposal.department_id)
    assert department is not None
    design = badges.design_of(session, proposal.id or 0)
    predecessor = None
    if proposal.predecessor_id is not None:
        predecessor = session.exec(select(Credential).where(
            Credential.proposal_id == proposal.predecessor_id).with_for_update()).first()
    credential = new_credential(
        proposal, department, snapshot_of(proposal, department, design),
        proposal_id=proposal.id or 0, image=design.image if design else None,
        image_type=design.content_type if design else None,
        image_sha256=design.sha256 if design else None,
        predecessor=predecessor, settings=settings,
    )
    credential.stacks_into_ids = stacks_into_ids(session, proposal)
    session.add(credential)
    session.flush()
    detail: dict[str, Any] = {"credential": credential.public_id, "version": credential.version,
                              "url": credential_url(settings, credential.public_id)}
    if predecessor is not None and predecessor.status == CredentialStatus.ACTIVE.value:
        predecessor.status = CredentialStatus.SUPERSEDED.value
        predecessor.superseded_by_id = credential.id
        session.add(predecessor)
        detail["supersedes"] = predecessor.public_id
    audit.append(session, actor=actor, role="coordinator", channel=channel,
                 action="credential_published", proposal_id=proposal.id,
                 version=proposal.version, detail=detail)
    if settings.canvas_configured:
        session.add(CanvasJob(credential_id=credential.id or 0, action="create"))
    return credential


def retire(session: Session, proposal: Proposal, *, settings: Settings) -> None:
    """Mark the proposal's credential retired, and archive it in Canvas Credentials."""
    credential = session.exec(select(Credential).where(
        Credential.proposal_id == proposal.id).with_for_update()).first()
    if credential is None:
        return
    credential.status = CredentialStatus.RETIRED.value
    credential.retired_at = utcnow()
    session.add(credential)
    if settings.canvas_configured or credential.canvas_entity_id:
        session.add(CanvasJob(credential_id=credential.id or 0, action="archive"))
