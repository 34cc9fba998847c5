"""Badge designs, published credentials, pathways and Canvas Credentials jobs."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary
from sqlalchemy import Text as SQLText
from sqlmodel import Field, SQLModel

from workflow.fields import Timestamp


class BadgeDesign(SQLModel, table=True):
    """A proposal's current badge design; a new upload replaces it (each one is audited)."""

    __tablename__ = "badge_design"

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", unique=True)
    image: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    content_type: str = Field(max_length=32)
    sha256: str = Field(max_length=64)
    width: int | None = None
    height: int | None = None
    criteria_narrative: str = Field(sa_column=Column(SQLText, nullable=False))
    alt_text: str = Field(max_length=1000)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    uploaded_by_id: int = Field(foreign_key="app_user.id")
    updated_at: datetime = Timestamp()


class BadgeDesignPublic(SQLModel):
    proposal_id: int
    content_type: str
    sha256: str
    size: int
    width: int | None
    height: int | None
    criteria_narrative: str
    alt_text: str
    tags: list[str]
    image_url: str
    updated_at: datetime


class CredentialStatus(StrEnum):
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    RETIRED = "retired"


class Credential(SQLModel, table=True):
    """An immutable published snapshot of a proposal and its design; only its status moves."""

    __table_args__ = (
        Index("ix_credential_status_id", "status", "id"),
        Index("ix_credential_department_id", "department_code", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=32, unique=True)
    proposal_id: int = Field(foreign_key="proposal.id", unique=True)
    version: int = 1
    predecessor_id: int | None = Field(default=None, foreign_key="credential.id")
    superseded_by_id: int | None = Field(default=None)
    status: str = Field(default=CredentialStatus.ACTIVE.value, max_length=16)
    title: str = Field(max_length=200)
    department_code: str = Field(max_length=32)
    department_name: str = Field(max_length=200)
    level: str | None = Field(default=None, max_length=32)
    modality: str | None = Field(default=None, max_length=32)
    credit_bearing: bool = False
    # ",communication,teamwork,": a LIKE filter that both databases run the same way.
    competency_keys: str = Field(default=",", max_length=400)
    snapshot: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    achievement: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    image: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    image_type: str | None = Field(default=None, max_length=32)
    image_sha256: str | None = Field(default=None, max_length=64)
    # The credentials it stacks into, resolved when it was published (older ones only: no cycle).
    stacks_into_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    imported: bool = False
    canvas_entity_id: str | None = Field(default=None, max_length=64)
    published_at: datetime = Timestamp()
    retired_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class CredentialPublic(SQLModel):
    id: str
    url: str
    version: int
    status: str
    active: bool
    title: str
    summary: str
    department: str
    department_name: str
    level: str | None
    modality: str | None
    credit_bearing: bool
    credits: float | None
    hours: float | None
    competencies: list[str]
    tags: list[str]
    criteria_narrative: str
    image_url: str | None
    image_alt_text: str | None
    predecessor: str | None
    superseded_by: str | None
    proposal_id: int
    canvas_entity_id: str | None
    imported: bool
    published_at: datetime
    retired_at: datetime | None


class CredentialPage(SQLModel):
    items: list[CredentialPublic]
    next_cursor: str | None


class PathwayNode(SQLModel):
    id: str
    title: str
    status: str


class Pathway(SQLModel):
    credential: PathwayNode
    stacks_into: list[PathwayNode]
    stacks_from: list[PathwayNode]
    nodes: list[PathwayNode]
    edges: list[tuple[str, str]]


class CanvasJob(SQLModel, table=True):
    """A change to send to Canvas Credentials, written in the publish or retire transaction."""

    __tablename__ = "canvas_job"
    __table_args__ = (Index("ix_canvas_job_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    credential_id: int = Field(foreign_key="credential.id", index=True)
    action: str = Field(max_length=16)  # create | archive
    status: str = Field(default="pending", max_length=16)  # pending | sending | done | dead
    attempts: int = 0
    next_attempt_at: datetime = Timestamp()
    lease_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Timestamp()
    done_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
