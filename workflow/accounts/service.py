"""Departments, users, roles and API tokens."""

import hashlib
import secrets

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from workflow.access import Grants, grants_from
from workflow.accounts.models import (
    DEPARTMENT_ROLES,
    ApiToken,
    Department,
    DepartmentCreate,
    Me,
    Role,
    RoleGrant,
    RolePublic,
    User,
)
from workflow.errors import Conflict, NotFound, Unprocessable
from workflow.fields import one_line_problem

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
    name = name.strip()
    if not name or (problem := one_line_problem(name)):
        raise Unprocessable(f"the name {'cannot be empty' if not name else problem}")
    department = None
    if department_code is not None:
        department = department_by_code(session, department_code)
        if department is None:
            raise Unprocessable(f"unknown department {department_code}")
    if any(role in DEPARTMENT_ROLES for role in roles) and department is None:
        raise Unprocessable("the submitter and department_lead roles need --department")
    user = session.exec(select(User).where(User.email == email)).first()
    known = user is not None
    if user is None:
        user = User(email=email, name=name)
        session.add(user)
        session.flush()
    existing = {(g.role, g.department_id) for g in
                session.exec(select(RoleGrant).where(RoleGrant.user_id == user.id)).all()}
    added = False
    for role in roles:
        department_id = department.id if department and role in DEPARTMENT_ROLES else None
        if (role.value, department_id) not in existing:
            session.add(RoleGrant(user_id=user.id or 0, role=role.value,
                                  department_id=department_id))
            added = True
    if added and known:
        end_sessions(session, user)  # a role change: sign in again to hold the new roles
    session.commit()
    return user


def end_sessions(session: Session, user: User) -> None:
    """End every web session of the user (in the caller's transaction): cookies name the
    generation they were issued in, and this advances it."""
    session.execute(update(User).where(col(User.id) == user.id)
                    .values(session_generation=User.session_generation + 1))


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


def grants_for_token(session: Session, token: str) -> Grants | None:
    """The token's active user with their roles, in one statement (every API request asks)."""
    rows = session.exec(
        select(User, RoleGrant)
        .join(ApiToken, col(ApiToken.user_id) == col(User.id))
        .outerjoin(RoleGrant, col(RoleGrant.user_id) == col(User.id))
        .where(ApiToken.token_hash == hash_token(token), col(User.is_active))
    ).all()
    if not rows:
        return None
    return grants_from(rows[0][0], [grant for _user, grant in rows if grant is not None])


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



def user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def known_user(session: Session, email: str) -> User:
    user = user_by_email(session, email)
    if user is None:
        raise NotFound(f"no user {email.strip().lower()}")
    return user


def deactivate_user(session: Session, email: str) -> User:
    """Stop a user: their tokens, sessions and single sign-on no longer let them in. Their
    proposals, reviews and audit entries stay."""
    user = known_user(session, email)
    user.is_active = False
    session.add(user)
    end_sessions(session, user)
    session.commit()
    return user


def remove_role(session: Session, email: str, role: Role,
                department_code: str | None = None) -> User:
    """Take one role from a user (a department role in the department named)."""
    user = known_user(session, email)
    department_id = None
    if role in DEPARTMENT_ROLES:
        if department_code is None:
            raise Unprocessable(f"the {role} role needs --department")
        department = department_by_code(session, department_code)
        if department is None:
            raise Unprocessable(f"unknown department {department_code}")
        department_id = department.id
    grant = session.exec(select(RoleGrant).where(
        RoleGrant.user_id == user.id, RoleGrant.role == role.value,
        RoleGrant.department_id == department_id)).first()
    if grant is None:
        where = f" in {department_code}" if department_id is not None else ""
        raise NotFound(f"{user.email} does not hold the {role} role{where}")
    session.delete(grant)
    end_sessions(session, user)  # a role change: sign in again to hold what is left
    session.commit()
    return user


def tokens_of(session: Session, email: str) -> list[ApiToken]:
    """A user's API tokens, oldest first (only their hashes are kept, never the tokens)."""
    user = known_user(session, email)
    return list(session.exec(select(ApiToken).where(ApiToken.user_id == user.id)
                             .order_by(col(ApiToken.id))).all())


def revoke_token(session: Session, token_id: int) -> tuple[ApiToken, User]:
    """Delete an API token: requests bearing it are refused from now on."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no API token {token_id}")
    user = session.get(User, token.user_id)
    assert user is not None  # a foreign key
    session.delete(token)
    session.commit()
    return token, user
