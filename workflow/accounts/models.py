"""Departments, users, their roles and API tokens."""

from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict
from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from workflow.fields import Code, Timestamp, Title


class Role(StrEnum):
    SUBMITTER = "submitter"
    DEPARTMENT_LEAD = "department_lead"
    COORDINATOR = "coordinator"
    REVIEWER = "reviewer"
    ADMIN = "admin"


DEPARTMENT_ROLES = frozenset({Role.SUBMITTER, Role.DEPARTMENT_LEAD})


class DepartmentCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    code: Code
    name: Title


class Department(SQLModel, table=True):
    # `cs` beside `CS` would read as one department and act as two.
    __table_args__ = (Index("uq_department_code_lower", text("lower(code)"), unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=200)
    created_at: datetime = Timestamp()


class DepartmentPublic(SQLModel):
    code: str
    name: str


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    name: str = Field(max_length=200)
    is_active: bool = True
    created_at: datetime = Timestamp()
    # Session cookies carry the generation they were issued in; signing out, a role change
    # and deactivation advance it, which ends every cookie issued before.
    session_generation: int = 0


class RoleGrant(SQLModel, table=True):
    """One role of a user; department roles name their department."""

    __tablename__ = "role_grant"
    __table_args__ = (UniqueConstraint("user_id", "role", "department_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    role: str = Field(max_length=32)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)


class ApiToken(SQLModel, table=True):
    """A bearer token, kept only as its SHA-256."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=100)
    created_at: datetime = Timestamp()


class RolePublic(SQLModel):
    role: Role
    department: str | None = None


class UserPublic(SQLModel):
    id: int
    email: str
    name: str


class Me(UserPublic):
    roles: list[RolePublic]
    departments: list[str]
