"""Published credentials: the snapshot made when a design is approved, the catalog, pathways,
retirement, and the Canvas Credentials jobs written beside them.

The door publishes inside the approve transaction (`workflow.service.apply`): an Achievement
that is not valid Open Badges 3.0 refuses the approval with 422 and the whole transaction
(state, audit, events) is rolled back.
"""

import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from plumbing.settings import Settings
from workflow import audit, badges, queries
from workflow.errors import NotFound, Unprocessable
from workflow.models import (
    EDITABLE_FIELDS,
    CanvasJob,
    Credential,
    CredentialPage,
    CredentialPublic,
    CredentialStatus,
    Department,
    Pathway,
    PathwayNode,
    Proposal,
    ProposalFields,
    User,
    as_utc,
    utcnow,
)
from workflow.openbadges import Issuer, Publication, achievement, achievement_problems

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
        raise Unprocessable([{"loc": ["achievement"], "msg": p, "type": "openbadges.invalid"}
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


# --- reading: the catalog, one credential, its pathway ---------------------------------------


def present(credential: Credential, settings: Settings,
            neighbours: dict[int, str] | None = None) -> CredentialPublic:
    snap = credential.snapshot
    neighbours = neighbours or {}
    return CredentialPublic(
        id=credential.public_id, url=credential_url(settings, credential.public_id),
        version=credential.version, status=credential.status,
        active=credential.status == CredentialStatus.ACTIVE.value,
        title=credential.title, summary=snap.get("summary") or "",
        department=credential.department_code, department_name=credential.department_name,
        level=credential.level, modality=credential.modality,
        credit_bearing=credential.credit_bearing, credits=snap.get("credits"),
        hours=snap.get("hours"), competencies=list(snap.get("competencies") or ()),
        tags=list(snap.get("tags") or ()),
        criteria_narrative=snap.get("criteria_narrative") or "",
        image_url=f"{api_url(settings, credential.public_id)}/image" if credential.image_type
        else None,
        image_alt_text=snap.get("alt_text") or None,
        predecessor=neighbours.get(credential.predecessor_id or 0),
        superseded_by=neighbours.get(credential.superseded_by_id or 0),
        proposal_id=credential.proposal_id, canvas_entity_id=credential.canvas_entity_id,
        imported=credential.imported, published_at=as_utc(credential.published_at),
        retired_at=as_utc(credential.retired_at) if credential.retired_at else None,
    )


def _neighbours(session: Session, credentials: Sequence[Credential]) -> dict[int, str]:
    ids = {i for c in credentials for i in (c.predecessor_id, c.superseded_by_id) if i}
    if not ids:
        return {}
    rows = session.exec(select(Credential.id, Credential.public_id)
                        .where(col(Credential.id).in_(ids))).all()
    return {i or 0: p for i, p in rows}


def by_public_id(session: Session, public_id: str) -> Credential:
    credential = session.exec(select(Credential).where(Credential.public_id == public_id)).first()
    if credential is None:
        raise NotFound("no such credential")
    return credential


def of_proposal(session: Session, proposal_id: int) -> Credential | None:
    """The credential published from this proposal, if it has been published."""
    return session.exec(select(Credential).where(Credential.proposal_id == proposal_id)).first()


def one(session: Session, public_id: str, settings: Settings) -> CredentialPublic:
    credential = by_public_id(session, public_id)
    return present(credential, settings, _neighbours(session, [credential]))


def catalog(
    session: Session,
    settings: Settings,
    *,
    department: str | None = None,
    competency: str | None = None,
    level: str | None = None,
    modality: str | None = None,
    credit_bearing: bool | None = None,
    active: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> CredentialPage:
    """Newest first, keyset-paginated on id."""
    query = select(Credential)
    if department:
        query = query.where(Credential.department_code == department)
    if competency:
        query = query.where(
            col(Credential.competency_keys).contains(f",{competency},", autoescape=True))
    if level:
        query = query.where(Credential.level == level)
    if modality:
        query = query.where(Credential.modality == modality)
    if credit_bearing is not None:
        query = query.where(Credential.credit_bearing == credit_bearing)
    if active is True:
        query = query.where(Credential.status == CredentialStatus.ACTIVE.value)
    elif active is False:
        query = query.where(Credential.status != CredentialStatus.ACTIVE.value)
    if cursor:
        query = query.where(col(Credential.id) < queries.decode_cursor(cursor, kind="c"))
    rows = session.exec(query.order_by(col(Credential.id).desc()).limit(limit + 1)).all()
    page = rows[:limit]
    neighbours = _neighbours(session, page)
    next_cursor = queries.encode_cursor(page[-1].id or 0, kind="c") if len(rows) > limit else None
    return CredentialPage(items=[present(c, settings, neighbours) for c in page],
                          next_cursor=next_cursor)


def catalog_departments(session: Session) -> list[tuple[str, str]]:
    """The departments that have published credentials: (code, name), by code."""
    rows = session.execute(
        sa_select(col(Credential.department_code), func.min(col(Credential.department_name)))
        .group_by(col(Credential.department_code)).order_by(col(Credential.department_code))
    ).all()
    return [(code, name) for code, name in rows]


def _node(credential: Credential) -> PathwayNode:
    return PathwayNode(id=credential.public_id, title=credential.title, status=credential.status)


def pathway(session: Session, public_id: str) -> Pathway:
    """What it stacks into and from, and the whole connected graph (acyclic by construction:
    a credential only ever points at credentials published before it)."""
    start = by_public_id(session, public_id)
    columns = (col(Credential.id), col(Credential.public_id), col(Credential.title),
               col(Credential.status), col(Credential.stacks_into_ids))
    rows = session.execute(sa_select(*columns)).all()
    nodes = {i or 0: PathwayNode(id=p, title=t, status=s) for i, p, t, s, _ in rows}
    out_edges = {i or 0: [t for t in (targets or []) if t in nodes]
                 for i, _, _, _, targets in rows}
    in_edges: dict[int, list[int]] = {}
    for source, targets in out_edges.items():
        for target in targets:
            in_edges.setdefault(target, []).append(source)
    seen: set[int] = set()
    frontier = [start.id or 0]
    edges: list[tuple[str, str]] = []
    while frontier:
        current = frontier.pop()
        if current in seen:
            continue
        seen.add(current)
        for target in out_edges.get(current, []):
            edges.append((nodes[current].id, nodes[target].id))
            frontier.append(target)
        frontier.extend(in_edges.get(current, []))
    return Pathway(
        credential=_node(start),
        stacks_into=[nodes[t] for t in out_edges.get(start.id or 0, [])],
        stacks_from=[nodes[s] for s in sorted(in_edges.get(start.id or 0, []))],
        nodes=[nodes[i] for i in sorted(seen)],
        edges=sorted(set(edges)),
    )
