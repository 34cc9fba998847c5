"""Reading proposals and their history for callers."""

import base64
import binascii
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from pydantic_core import to_json
from sqlalchemy import BindParameter, bindparam, or_
from sqlalchemy import select as core_select  # sqlmodel's select types at most four columns
from sqlmodel import Session, col, func, select

from plumbing.statements import Prepared
from rubric.checks import CatalogEntry
from workflow.access import Grants, co_author_pattern, co_authored_by, visible_clause
from workflow.errors import NotFound, Unprocessable
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
    attach,
    from_row,
    held_or_read,
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
    session.info.setdefault(_SEEN_OWNERS, {})[proposal_id] = _owner(row)


def _owner(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """What a row read with OWNER_COLUMNS says of its owner and department."""
    return row["owner_email"], row["owner_name"], row["department_code"]


# One proposal's row with its owner's name and department's code (a transition never changes
# them, so its answer needs no second read); FOR UPDATE OF the proposal on PostgreSQL to lock.
_ONE_PROPOSAL = (OWNERS_AND_CODES.with_only_columns(*_PROPOSALS.c, *OWNER_COLUMNS)
                 .where(_PROPOSALS.c.id == bindparam("proposal_id")))
READ_PROPOSAL = Prepared(_ONE_PROPOSAL)
LOCK_PROPOSAL = Prepared(_ONE_PROPOSAL.with_for_update(of=_PROPOSALS))
PROPOSAL_COLUMNS = tuple(column.key for column in _PROPOSALS.c)


def read_proposal(session: Session, proposal_id: int, *, lock: bool = False,
                  to_edit: bool = False) -> Proposal | None:
    """The proposal's row read afresh (under its row lock with `lock`), even when the session
    holds it already (an email action's preview read it): as the session's own object then,
    else as an object built without the ORM's loader (133 -> 25 us) and kept out of the
    session, enough to read and to hand to Core writes. An edit, which the session flushes,
    needs it in the session (`to_edit`). Its owner and department code are remembered for the
    answer (`present`)."""
    statement = LOCK_PROPOSAL if lock else READ_PROPOSAL
    values = statement.first(session, {"proposal_id": proposal_id})
    if values is None:
        return None
    remember_owners(session, proposal_id, values)
    read = from_row(Proposal, {name: values[name] for name in PROPOSAL_COLUMNS})
    return attach(session, read) if to_edit else held_or_read(session, read)


def locked_proposal(session: Session, proposal_id: int, *, to_edit: bool = False) -> Proposal:
    """`read_proposal` under the row lock, for a change: the door's and the reviews'."""
    proposal = read_proposal(session, proposal_id, lock=True, to_edit=to_edit)
    if proposal is None:
        raise NotFound("no such proposal")
    return proposal


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
    return [_as_public(_shown(_columns(p), people[p.id or 0])) for p in proposals]


def present_json(session: Session, proposal: Proposal) -> bytes:
    """One proposal as `present` shows it, serialized as `ProposalPublic` would be (see
    `page_json`)."""
    owner = owners_and_codes(session, [proposal.id])[proposal.id or 0]
    return to_json(_shown(_columns(proposal), owner))


def _columns(proposal: Proposal) -> Mapping[str, Any]:
    """The proposal's shown columns: its loaded values as they are (every column, for a row the
    door read), else through the ORM, which loads what has expired."""
    loaded = proposal.__dict__
    if _SHOWN_KEYS <= loaded.keys():
        return loaded
    return {name: getattr(proposal, name) for name in SHOWN_COLUMNS}


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


# A page of the list: its proposals under `ProposalPublic`'s names (`_shown`), and the cursor
# of the next page. Shown as JSON (`page_json`) or as models (`page_model`).
Page = tuple[list[dict[str, Any]], str | None]


def list_proposals(
    session: Session,
    grants: Grants,
    *,
    state: str | None = None,
    department: str | None = None,
    mine: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Newest first, keyset-paginated on id so any page costs the same.

    One prepared statement reads the page's columns with owners and department codes; no ORM
    objects are built for rows that are only shown.
    """
    rows = _page_statement(bool(state), bool(department), mine, bool(cursor)).rows(session, {
        "viewer_id": grants.user.id, "viewer_pattern": co_author_pattern(grants.user.email),
        "state": state, "department": department,
        "before_id": decode_cursor(cursor) if cursor else None, "page_size": limit + 1,
    })
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]["id"]) if len(rows) > limit else None
    return [_shown(row, _owner(row)) for row in page], next_cursor


def page_json(page: Page) -> bytes:
    """The page as `ProposalPage` serializes, byte for byte, without a model per row: building
    them was half the time of a page."""
    items, next_cursor = page
    return to_json({"items": items, "next_cursor": next_cursor})


def page_model(page: Page) -> ProposalPage:
    items, next_cursor = page
    return ProposalPage(items=[_as_public(item) for item in items], next_cursor=next_cursor)


@lru_cache(maxsize=16)
def _page_statement(by_state: bool, by_department: bool, mine: bool, after_cursor: bool
                    ) -> Prepared:
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
    return Prepared(query.order_by(col(Proposal.id).desc()).limit(bindparam("page_size")))


# What an answer shows of a proposal's own columns; the rest of `ProposalPublic` (`owner`,
# `department`) comes from the owner's row and the department's.
SHOWN_COLUMNS = (*PUBLIC_COLUMNS, "owner_id", "created_at", "updated_at")
PAGE_COLUMNS = [getattr(Proposal, name) for name in SHOWN_COLUMNS]
_SHOWN_KEYS = frozenset(SHOWN_COLUMNS)
PUBLIC_FIELDS = tuple(ProposalPublic.model_fields)  # the answer's names, in its order


def _shown(values: Mapping[str, Any], owner: tuple[str, str, str]) -> dict[str, Any]:
    """A proposal's values under `ProposalPublic`'s names and in its order (so its JSON is the
    model's, byte for byte), with its owner's email and name and its department's code."""
    shown = {name: values.get(name) for name in PUBLIC_FIELDS}
    email, name, code = owner
    shown["owner"] = {"id": values["owner_id"], "email": email, "name": name}
    shown["department"] = code
    shown["created_at"] = as_utc(values["created_at"])
    shown["updated_at"] = as_utc(values["updated_at"])
    return shown


def _as_public(fields: dict[str, Any]) -> ProposalPublic:
    """A stored proposal as the API shows it, without validating it again.

    Its fields were validated on the way in; validating them on the way out was a fifth of the
    time of a page. The enum columns become enums, so the answer serializes as declared; a
    stored value the schema no longer allows goes through validation as before.
    """
    fields["owner"] = UserPublic.model_construct(**fields["owner"])
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
