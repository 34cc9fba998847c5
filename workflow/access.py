"""Who a user is to a proposal, and what that lets them see and fire."""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import BindParameter, ColumnElement, String, and_, cast, or_
from sqlmodel import Session, col, select

from workflow.accounts.models import Role, RoleGrant, User
from workflow.errors import Conflict, Forbidden, WorkflowError
from workflow.machine import SEPARATION_OF_DUTIES, STAGE_APPROVER, State, Transition, Who
from workflow.proposals.models import Proposal


@dataclass(frozen=True)
class Grants:
    """A user's roles: global ones, and department ones by department id."""

    user: User
    global_roles: frozenset[Role]
    department_roles: frozenset[tuple[Role, int]]

    @property
    def departments(self) -> frozenset[int]:
        return frozenset(dept for _, dept in self.department_roles)

    def has(self, role: Role) -> bool:
        return role in self.global_roles

    def leads(self, department_id: int) -> bool:
        return (Role.DEPARTMENT_LEAD, department_id) in self.department_roles

    def member_of(self, department_id: int) -> bool:
        return department_id in self.departments


def grants_of(session: Session, user: User) -> Grants:
    return grants_from(user, session.exec(
        select(RoleGrant).where(RoleGrant.user_id == user.id)).all())


def grants_from(user: User, rows: Iterable[RoleGrant]) -> Grants:
    global_roles: set[Role] = set()
    department_roles: set[tuple[Role, int]] = set()
    for row in rows:
        if row.department_id is None:
            global_roles.add(Role(row.role))
        else:
            department_roles.add((Role(row.role), row.department_id))
    return Grants(user, frozenset(global_roles), frozenset(department_roles))


@dataclass(frozen=True)
class Standing:
    """One user's relation to one proposal."""

    grants: Grants
    is_owner: bool
    is_co_author: bool
    department_id: int
    # Whether it was ever submitted: a draft withdrawn unsubmitted stays its authors' own.
    ever_submitted: bool = False

    @property
    def authors(self) -> bool:
        return self.is_owner or self.is_co_author


def standing(grants: Grants, proposal: Proposal) -> Standing:
    return Standing(
        grants=grants,
        is_owner=proposal.owner_id == grants.user.id,
        is_co_author=grants.user.email.lower() in {a.lower() for a in proposal.co_authors},
        department_id=proposal.department_id,
        ever_submitted=proposal.submitted_at is not None,
    )


EDITABLE_STATES = frozenset({State.DRAFT, State.RETURNED})


def edit_problem(who: Standing, state: State) -> WorkflowError | None:
    """Why this user may not edit the proposal now, or None when they may."""
    if not who.is_owner:
        return Forbidden("only the proposal's owner can edit it")
    if state not in EDITABLE_STATES:
        return Conflict(f"a proposal in state {state.value} cannot be edited")
    return None


def can_edit(who: Standing, state: State) -> bool:
    """Whether the pages offer this user the proposal's form: the door's own rule."""
    return edit_problem(who, state) is None


def can_view(who: Standing, state: State) -> bool:
    """A draft is its authors' own until submitted, and stays so when it is withdrawn without
    ever being submitted; after that any signed-in user may read it."""
    if who.authors:
        return True
    if state is State.WITHDRAWN:
        return who.ever_submitted
    return state is not State.DRAFT


def visible_clause(viewer_id: int | BindParameter[int],
                   email: str | BindParameter[str]) -> ColumnElement[bool]:
    """The SQL form of can_view, for lists: the viewer's id and address, or bound parameters
    for them (the second taking `co_author_pattern(email)`)."""
    return or_(
        col(Proposal.state).not_in([State.DRAFT.value, State.WITHDRAWN.value]),
        and_(col(Proposal.state) == State.WITHDRAWN.value,
             col(Proposal.submitted_at).is_not(None)),
        col(Proposal.owner_id) == viewer_id,
        co_authored_by(email),
    )


def co_authored_by(email: str | BindParameter[str]) -> ColumnElement[bool]:
    """Match the JSON list of co-authors as text: portable across SQLite and PostgreSQL.

    Given a bound parameter instead of an address, it takes `co_author_pattern(email)`."""
    pattern = co_author_pattern(email) if isinstance(email, str) else email
    return cast(Proposal.co_authors, String).like(pattern, escape="\\")


def co_author_pattern(email: str) -> str:
    escaped = email.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f'%"{escaped}"%'


def acting_role(row: Transition, state: State) -> Who:
    return STAGE_APPROVER[state] if row.who is Who.STAGE_APPROVER else row.who


def permission_problem(row: Transition, state: State, who: Standing) -> str | None:
    """Why this user may not fire this row from this state, or None when they may."""
    role = acting_role(row, state)
    if role is Who.OWNER:
        return None if who.is_owner else "only the proposal's owner can do this"
    if role is Who.DEPARTMENT_LEAD:
        if not who.grants.leads(who.department_id):
            return "only a lead of the proposal's department can do this"
    elif role is Who.COORDINATOR:
        if not who.grants.has(Role.COORDINATOR):
            return "only the coordinator can do this"
    if who.authors and row.trigger in SEPARATION_OF_DUTIES:
        return "separation of duties: you cannot act as approver on a proposal you own or co-author"
    return None


def role_name(row: Transition, state: State) -> str:
    role = acting_role(row, state)
    return "submitter" if role is Who.OWNER else role.value


def best_role(grants: Grants, candidates: Iterable[str]) -> str | None:
    """A role to record for a refused attempt: the one they claimed, if they hold it."""
    names = {r.value for r in grants.global_roles} | {r.value for r, _ in grants.department_roles}
    for name in candidates:
        if name in names:
            return name
    return None
