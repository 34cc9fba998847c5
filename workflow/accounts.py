"""Departments, users, roles and API tokens."""

import hashlib
import secrets

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from plumbing.statements import Prepared
from workflow.access import Grants
from workflow.errors import Conflict, Unprocessable
from workflow.models import (
    DEPARTMENT_ROLES,
    ApiToken,
    Department,
    DepartmentCreate,
    Me,
    Role,
    RoleGrant,
    RolePublic,
    User,
    from_row,
)

TOKEN_PREFIX = "mc_"


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough; a slow KDF would only cost latency.
    return hashlib.sha256(token.encode()).hexdigest()


def add_department(session: Session, data: DepartmentCreate) -> Department:
    department = Department(code=data.code, name=data.name)
    session.add(department)
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(f"department {data.code} already exists") from error
    return department


def department_by_code(session: Session, code: str) -> Department | None:
    return session.exec(select(Department).where(Department.code == code)).first()


def add_user(
    session: Session,
    email: str,
    name: str,
    roles: list[Role],
    department_code: str | None = None,
) -> User:
    """Create a user with roles; department roles need the department."""
    email = email.strip().lower()
    department = None
    if department_code is not None:
        department = department_by_code(session, department_code)
        if department is None:
            raise Unprocessable(f"unknown department {department_code}")
    if any(role in DEPARTMENT_ROLES for role in roles) and department is None:
        raise Unprocessable("the submitter and department_lead roles need --department")
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None:
        user = User(email=email, name=name)
        session.add(user)
        session.flush()
    existing = {(g.role, g.department_id) for g in
                session.exec(select(RoleGrant).where(RoleGrant.user_id == user.id)).all()}
    for role in roles:
        department_id = department.id if department and role in DEPARTMENT_ROLES else None
        if (role.value, department_id) not in existing:
            session.add(RoleGrant(user_id=user.id or 0, role=role.value,
                                  department_id=department_id))
    session.commit()
    return user


def issue_token(session: Session, user: User, label: str = "") -> str:
    """Make a new bearer token for a user; only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id or 0, token_hash=hash_token(token), label=label))
    session.commit()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.exec(
        select(User).join(ApiToken, ApiToken.user_id == User.id)  # type: ignore[arg-type]
        .where(ApiToken.token_hash == hash_token(token), User.is_active == True)  # noqa: E712
    ).first()
    return row


_USERS = User.__table__  # type: ignore[attr-defined]
_TOKENS = ApiToken.__table__  # type: ignore[attr-defined]
_GRANTS = RoleGrant.__table__  # type: ignore[attr-defined]
# Every API request asks this, so it is one statement prepared once: the ORM's version of the
# same query cost ten times as much as running it.
TOKEN_GRANTS = Prepared(
    sa_select(*_USERS.c, _GRANTS.c.role.label("granted_role"),
              _GRANTS.c.department_id.label("granted_department"))
    .select_from(_TOKENS.join(_USERS, _USERS.c.id == _TOKENS.c.user_id)
                 .outerjoin(_GRANTS, _GRANTS.c.user_id == _USERS.c.id))
    .where(_TOKENS.c.token_hash == bindparam("token_hash"), _USERS.c.is_active.is_(True))
)
USER_COLUMNS = tuple(column.name for column in _USERS.c)


def grants_for_token(session: Session, token: str) -> Grants | None:
    """The token's active user with their roles, in one query (every request asks this).

    The user is not attached to the session: the caller reads it, nobody writes it back.
    """
    rows = TOKEN_GRANTS.rows(session, {"token_hash": hash_token(token)})
    if not rows:
        return None
    first = rows[0]
    user = from_row(User, {name: first[name] for name in USER_COLUMNS})
    granted = [(row["granted_role"], row["granted_department"]) for row in rows
               if row["granted_role"]]
    global_roles = frozenset(Role(role) for role, department in granted if department is None)
    department_roles = frozenset((Role(role), department) for role, department in granted
                                 if department is not None)
    return Grants(user, global_roles, department_roles)


def describe(session: Session, grants: Grants) -> Me:
    codes = {
        d.id: d.code
        for d in session.exec(select(Department).where(
            Department.id.in_(grants.departments))).all()  # type: ignore[union-attr]
    }
    roles = [RolePublic(role=r) for r in sorted(grants.global_roles)] + [
        RolePublic(role=r, department=codes[d]) for r, d in sorted(grants.department_roles)
    ]
    user = grants.user
    return Me(id=user.id or 0, email=user.email, name=user.name, roles=roles,
              departments=sorted(codes.values()))

