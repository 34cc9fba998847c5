"""Reading proposals and their history for callers."""

import base64
import binascii
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, RowMapping, Select, bindparam, or_
from sqlalchemy import select as core_select  # sqlmodel's select types at most four columns
from sqlmodel import Session, col, func, select

from rubric.checks import CatalogEntry
from workflow.access import Grants, co_author_pattern, co_authored_by, visible_clause
from workflow.errors import Unprocessable
from workflow.models import (
    EDITABLE_FIELDS,
    MAX_ID,
    AuditEntry,
    AuditEntryPublic,
    Competency,
    Department,
    Level,
    Modality,
    Proposal,
    ProposalPage,
    ProposalPublic,
    User,
    UserPublic,
    as_utc,
)

PUBLIC_COLUMNS = (*EDITABLE_FIELDS, "id", "state", "version", "returned_from", "review_round",
                  "rubric_key", "rubric_version")


_PROPOSALS = Proposal.__table__  # type: ignore[attr-defined]
_USERS = User.__table__  # type: ignore[attr-defined]
_DEPARTMENTS = Department.__table__  # type: ignore[attr-defined]
# Built once: every answer naming a proposal runs it.
OWNER_COLUMNS = (_USERS.c.email.label("owner_email"), _USERS.c.name.label("owner_name"),
                 _DEPARTMENTS.c.code.label("department_code"))
OWNERS_AND_CODES = (
    core_select(_PROPOSALS.c.id, *OWNER_COLUMNS)
    .select_from(_PROPOSALS.join(_USERS, _USERS.c.id == _PROPOSALS.c.owner_id)
                 .join(_DEPARTMENTS, _DEPARTMENTS.c.id == _PROPOSALS.c.department_id))
)
OWNERS_OF = OWNERS_AND_CODES.where(_PROPOSALS.c.id.in_(bindparam("ids", expanding=True)))


# Per proposal id: its owner's email and name, and its department's code.
Owners = dict[int, tuple[str, str, str]]
# Where a session keeps the owners its reads have seen (owner and department never change).
_SEEN_OWNERS = "microcred_owners"


def remember_owners(session: Session, proposal_id: int, row: Mapping[str, Any]) -> None:
    """Keep what a read with OWNER_COLUMNS saw, so answers in this session need no second read."""
    session.info.setdefault(_SEEN_OWNERS, {})[proposal_id] = (
        row["owner_email"], row["owner_name"], row["department_code"])


def owners_and_codes(session: Session, proposal_ids: Sequence[int | None]) -> Owners:
    """Who owns each proposal and where it lives: what this session has seen, and one query for
    the rest."""
    seen: Owners = session.info.get(_SEEN_OWNERS, {})
    found = {pid: seen[pid] for pid in proposal_ids if pid in seen}
    missing = [pid for pid in proposal_ids if pid not in found]
    if missing:
        rows = session.connection().execute(OWNERS_OF, {"ids": missing}).all()
        found.update({pid: (email, name, code) for pid, email, name, code in rows})
    return found


def present(session: Session, proposals: Sequence[Proposal]) -> list[ProposalPublic]:
    """Proposals with their owners and department codes: what the session has seen already
    (the door's locked read), and one query for the rest however many."""
    people = owners_and_codes(session, [p.id for p in proposals])
    result = []
    for p in proposals:
        email, name, code = people[p.id or 0]
        result.append(_as_public({
            **{name: getattr(p, name) for name in PUBLIC_COLUMNS},
            "owner": UserPublic.model_construct(id=p.owner_id, email=email, name=name),
            "department": code,
            "created_at": as_utc(p.created_at),
            "updated_at": as_utc(p.updated_at),
        }))
    return result


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
        raise Unprocessable([{"loc": ["query", "cursor"], "msg": "not a cursor from this API",
                              "type": "value_error"}]) from error


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
    """Newest first, keyset-paginated on id so any page costs the same.

    One Core statement reads the page's columns with owners and department codes; no ORM
    objects are built for rows that are only shown.
    """
    statement = _page_statement(bool(state), bool(department), mine, bool(cursor))
    rows = session.connection().execute(statement, {
        "viewer_id": grants.user.id, "viewer_pattern": co_author_pattern(grants.user.email),
        "state": state, "department": department,
        "before_id": decode_cursor(cursor) if cursor else None, "page_size": limit + 1,
    }).all()
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].id) if len(rows) > limit else None
    return ProposalPage(items=[_public(row._mapping) for row in page], next_cursor=next_cursor)


@lru_cache(maxsize=16)
def _page_statement(by_state: bool, by_department: bool, mine: bool, after_cursor: bool
                    ) -> Select[Any]:
    """The list's statement for one combination of filters, built once (building it cost more
    than running it); every value is a bound parameter."""
    viewer: BindParameter[int] = bindparam("viewer_id")
    pattern: BindParameter[str] = bindparam("viewer_pattern")
    query = (
        core_select(*PAGE_COLUMNS, col(User.email).label("owner_email"),
                    col(User.name).label("owner_name"),
                    col(Department.code).label("department_code"))
        .join(User, User.id == Proposal.owner_id)  # type: ignore[arg-type]
        .join(Department, Department.id == Proposal.department_id)  # type: ignore[arg-type]
        .where(visible_clause(viewer, pattern))
    )
    if by_state:
        query = query.where(col(Proposal.state) == bindparam("state"))
    if by_department:
        query = query.where(col(Department.code) == bindparam("department"))
    if mine:
        query = query.where(or_(col(Proposal.owner_id) == viewer, co_authored_by(pattern)))
    if after_cursor:
        query = query.where(col(Proposal.id) < bindparam("before_id"))
    return query.order_by(col(Proposal.id).desc()).limit(bindparam("page_size"))


PAGE_COLUMNS = [getattr(Proposal, name) for name in
                (*PUBLIC_COLUMNS, "owner_id", "created_at", "updated_at")]


def _public(row: RowMapping) -> ProposalPublic:
    return _as_public({
        **{name: row[name] for name in PUBLIC_COLUMNS},
        "owner": UserPublic.model_construct(id=row["owner_id"], email=row["owner_email"],
                                            name=row["owner_name"]),
        "department": row["department_code"],
        "created_at": as_utc(row["created_at"]),
        "updated_at": as_utc(row["updated_at"]),
    })


def _as_public(fields: dict[str, Any]) -> ProposalPublic:
    """A stored proposal as the API shows it, without validating it again.

    Its fields were validated on the way in; validating them on the way out was a fifth of the
    time of a page. The enum columns become enums, so the answer serializes as declared; a
    stored value the schema no longer allows goes through validation as before.
    """
    try:
        fields["level"] = Level(fields["level"]) if fields["level"] else None
        fields["modality"] = Modality(fields["modality"]) if fields["modality"] else None
        fields["competencies"] = [Competency(c) for c in fields["competencies"] or ()]
    except ValueError:
        return ProposalPublic.model_validate(fields)
    return ProposalPublic.model_construct(**fields)


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
