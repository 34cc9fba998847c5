"""Reading proposals and their history for callers."""

import base64
import binascii

from sqlalchemy import or_
from sqlalchemy.orm import joinedload
from sqlmodel import Session, col, func, select

from rubric.checks import CatalogEntry
from workflow.access import Grants, co_authored_by, visible_clause
from workflow.accounts.models import Department, UserPublic
from workflow.audit import AuditEntry, AuditEntryPublic
from workflow.errors import NotFound, Unprocessable, problem
from workflow.fields import MAX_ID, as_utc
from workflow.proposals.models import Proposal, ProposalPage, ProposalPublic

# Every answer about a proposal names its owner and its department: read in the same statement.
WITH_OWNER_AND_DEPARTMENT = (joinedload(Proposal.owner, innerjoin=True),  # type: ignore[arg-type]
                             joinedload(Proposal.department, innerjoin=True))  # type: ignore[arg-type]


def read_proposal(session: Session, proposal_id: int, *, lock: bool = False) -> Proposal | None:
    """The proposal's row read afresh, with its owner and department (one statement, the
    relationships' joins); with `lock`, under its row lock (PostgreSQL; SQLite's write
    transaction already holds the whole database)."""
    query = (select(Proposal).options(*WITH_OWNER_AND_DEPARTMENT)
             .where(col(Proposal.id) == proposal_id))
    if lock:
        query = query.with_for_update(of=Proposal)
    return session.exec(query.execution_options(populate_existing=True)).first()


def locked_proposal(session: Session, proposal_id: int) -> Proposal:
    """`read_proposal` under the row lock, for a change: the door's and the reviews'."""
    proposal = read_proposal(session, proposal_id, lock=True)
    if proposal is None:
        raise NotFound("no such proposal")
    return proposal


# What an answer shows of the proposal's own columns; `owner` and `department` come from theirs.
STORED_PUBLIC_FIELDS = tuple(name for name in ProposalPublic.model_fields
                             if name not in ("owner", "department"))


def to_public(proposal: Proposal) -> ProposalPublic:
    """The proposal as the API shows it, with its owner and its department's code."""
    owner, department = proposal.owner, proposal.department
    return ProposalPublic.model_validate({
        **{name: getattr(proposal, name) for name in STORED_PUBLIC_FIELDS},
        "owner": UserPublic(id=owner.id or 0, email=owner.email, name=owner.name),
        "department": department.code,
        "created_at": as_utc(proposal.created_at),
        "updated_at": as_utc(proposal.updated_at),
    })


IN_FLIGHT = ("department_review", "rubric_review", "design_review", "returned", "published")


def published_credential(session: Session, name: str) -> CatalogEntry | None:
    """The published proposal a `stacks_into` entry names, by id or by title."""
    name = name.strip()
    query = select(Proposal).where(Proposal.state == "published")
    if name.isdigit() and int(name) <= MAX_ID:
        query = query.where(Proposal.id == int(name))
    else:
        query = query.where(func.lower(Proposal.title) == name.lower())
    row = session.exec(query.limit(1)).first()
    if row is None:
        return None
    return CatalogEntry(id=row.id or 0, title=row.title, published=True,
                        stacks_into=tuple(row.stacks_into or ()))


def catalog_for_checks(session: Session) -> list[CatalogEntry]:
    """Published and in-flight proposals, as the pre-screen compares against them."""
    rows = session.exec(
        select(Proposal.id, Proposal.title, Proposal.state, Proposal.stacks_into)
        .where(col(Proposal.state).in_(IN_FLIGHT))
    ).all()
    return [
        CatalogEntry(id=pid or 0, title=title, published=state == "published",
                     stacks_into=tuple(stacks or ()))
        for pid, title, state, stacks in rows
    ]


def encode_cursor(last_id: int, kind: str = "p") -> str:
    """An opaque keyset cursor: the last id seen, tagged with what it pages through."""
    return base64.urlsafe_b64encode(f"{kind}{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str = "p") -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith(kind):
            raise ValueError(raw)
        return int(raw[len(kind):])
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise Unprocessable([problem("not a cursor from this API", "cursor",
                                     where="query")]) from error


def list_proposals(
    session: Session,
    grants: Grants,
    *,
    state: str | None = None,
    department: str | None = None,
    mine: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> ProposalPage:
    """Newest first, keyset-paginated on id so any page costs the same."""
    viewer = grants.user
    query = (select(Proposal).options(*WITH_OWNER_AND_DEPARTMENT)
             .where(visible_clause(viewer.id or 0, viewer.email)))
    if state:
        query = query.where(col(Proposal.state) == state)
    if department:
        query = query.where(col(Proposal.department_id).in_(
            select(Department.id).where(col(Department.code) == department)))
    if mine:
        query = query.where(or_(col(Proposal.owner_id) == viewer.id,
                                co_authored_by(viewer.email)))
    if cursor:
        query = query.where(col(Proposal.id) < decode_cursor(cursor))
    rows = session.exec(query.order_by(col(Proposal.id).desc()).limit(limit + 1)).all()
    page = [to_public(proposal) for proposal in rows[:limit]]
    next_cursor = encode_cursor(page[-1].id) if len(rows) > limit else None
    return ProposalPage(items=page, next_cursor=next_cursor)


def history(session: Session, proposal_id: int) -> list[AuditEntryPublic]:
    entries = session.exec(
        select(AuditEntry).where(AuditEntry.proposal_id == proposal_id)
        .order_by(col(AuditEntry.seq))
    ).all()
    return [
        AuditEntryPublic(
            seq=e.seq, at=as_utc(e.at), actor=e.actor_email, role=e.role, channel=e.channel,
            action=e.action, outcome=e.outcome, from_state=e.from_state, to_state=e.to_state,
            version=e.version, detail=e.detail, hash=e.hash,
        )
        for e in entries
    ]
