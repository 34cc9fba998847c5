"""Reading published credentials: the catalog, one credential, its pathway."""

from collections.abc import Sequence

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from plumbing.settings import Settings
from workflow import queries
from workflow.credentials.models import (
    Credential,
    CredentialPage,
    CredentialPublic,
    CredentialStatus,
    Pathway,
    PathwayNode,
)
from workflow.credentials.publishing import api_url, credential_url
from workflow.errors import NotFound
from workflow.fields import as_utc


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
