"""Tables and API shapes: departments, users, proposals, the audit chain."""

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, StringConstraints
from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy import Text as SQLText
from sqlmodel import Field, Relationship, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Read a stored time as UTC (SQLite hands back naive datetimes)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def Timestamp(**kwargs: Any) -> Any:  # noqa: N802 - reads as a column type
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), **kwargs)


class Role(StrEnum):
    SUBMITTER = "submitter"
    DEPARTMENT_LEAD = "department_lead"
    COORDINATOR = "coordinator"
    REVIEWER = "reviewer"
    ADMIN = "admin"


DEPARTMENT_ROLES = frozenset({Role.SUBMITTER, Role.DEPARTMENT_LEAD})


class Level(StrEnum):
    UNDERGRADUATE = "undergraduate"
    GRADUATE = "graduate"
    PROFESSIONAL = "professional"
    NON_DEGREE = "non_degree"


class Modality(StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"
    HYBRID = "hybrid"


class Competency(StrEnum):
    """NACE career readiness competencies."""

    CAREER_AND_SELF_DEVELOPMENT = "career_and_self_development"
    COMMUNICATION = "communication"
    CRITICAL_THINKING = "critical_thinking"
    EQUITY_AND_INCLUSION = "equity_and_inclusion"
    LEADERSHIP = "leadership"
    PROFESSIONALISM = "professionalism"
    TEAMWORK = "teamwork"
    TECHNOLOGY = "technology"


class Channel(StrEnum):
    WEB = "web"
    API = "api"
    EMAIL_LINK = "email_link"
    EMAIL_REPLY = "email_reply"
    SYSTEM = "system"


def _lower_email(value: str) -> str:
    value = value.strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or " " in value:
        raise ValueError("not an email address")
    return value


# PostgreSQL refuses NUL in text, and no field has a use for other control characters.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _printable(value: str) -> str:
    # A regular expression, not a loop over the characters: every proposal written runs this
    # on each of its texts (answers are built from stored rows without validating again).
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("control characters are not allowed")
    return value


Text = AfterValidator(_printable)
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_lower_email), Text]
Line = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), Text
]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Text
]
ShortText = Annotated[str, StringConstraints(max_length=2000), Text]
LongText = Annotated[str, StringConstraints(max_length=10_000), Text]
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_-]{1,32}$")
]
# Ids are 32-bit integers in the database; a larger number cannot name anything.
MAX_ID = 2_147_483_647


# --- departments and users -------------------------------------------------


class DepartmentCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    code: Code
    name: Title


class Department(SQLModel, table=True):
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


# --- proposals -------------------------------------------------------------


class ProposalFields(SQLModel):
    """The fields a submitter writes (SPEC section 5), with their limits."""

    title: Title
    summary: LongText = Field(default="", sa_type=String(10_000))
    level: Level | None = Field(default=None, sa_type=String(32))
    credit_bearing: bool = False
    credits: float | None = Field(default=None, ge=0, le=60)
    hours: float | None = Field(default=None, ge=0, le=2000)
    modality: Modality | None = Field(default=None, sa_type=String(32))
    target_audience: ShortText = Field(default="", sa_type=String(2000))
    learning_outcomes: list[Line] = Field(default_factory=list, max_length=30, sa_type=JSON)
    competencies: list[Competency] = Field(default_factory=list, max_length=8, sa_type=JSON)
    requirements: LongText = Field(default="", sa_type=String(10_000))
    assessment: LongText = Field(default="", sa_type=String(10_000))
    evidence: LongText = Field(default="", sa_type=String(10_000))
    prerequisites: list[Line] = Field(default_factory=list, max_length=30, sa_type=JSON)
    stacks_into: list[Line] = Field(default_factory=list, max_length=30, sa_type=JSON)
    workforce_need: LongText = Field(default="", sa_type=String(10_000))
    partners: list[Line] = Field(default_factory=list, max_length=50, sa_type=JSON)
    expiration_months: int | None = Field(default=None, ge=1, le=240)
    co_authors: list[Email] = Field(default_factory=list, max_length=20, sa_type=JSON)
    predecessor_id: int | None = Field(default=None, ge=1, le=MAX_ID)


EDITABLE_FIELDS: tuple[str, ...] = tuple(ProposalFields.model_fields)


class ProposalCreate(ProposalFields):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    department: Code


class ProposalUpdate(SQLModel):
    """A partial edit; `state` is deliberately absent, it only changes through the door."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    version: int | None = None
    title: Title | None = None
    summary: LongText | None = None
    level: Level | None = None
    credit_bearing: bool | None = None
    credits: float | None = Field(default=None, ge=0, le=60)
    hours: float | None = Field(default=None, ge=0, le=2000)
    modality: Modality | None = None
    target_audience: ShortText | None = None
    learning_outcomes: list[Line] | None = Field(default=None, max_length=30)
    competencies: list[Competency] | None = Field(default=None, max_length=8)
    requirements: LongText | None = None
    assessment: LongText | None = None
    evidence: LongText | None = None
    prerequisites: list[Line] | None = Field(default=None, max_length=30)
    stacks_into: list[Line] | None = Field(default=None, max_length=30)
    workforce_need: LongText | None = None
    partners: list[Line] | None = Field(default=None, max_length=50)
    expiration_months: int | None = Field(default=None, ge=1, le=240)
    co_authors: list[Email] | None = Field(default=None, max_length=20)
    predecessor_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class Proposal(ProposalFields, table=True):
    __table_args__ = (
        Index("ix_proposal_state_id", "state", "id"),
        Index("ix_proposal_department_id_id", "department_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    department_id: int = Field(foreign_key="department.id")
    owner_id: int = Field(foreign_key="app_user.id", index=True)
    state: str = Field(default="draft", max_length=32)
    version: int = 1
    # The review stage that returned it, so resubmit goes back there.
    returned_from: str | None = Field(default=None, max_length=32)
    # Each entry into rubric_review opens a round scored against the rubric version of that day.
    review_round: int = 0
    rubric_key: str | None = Field(default=None, max_length=64)
    rubric_version: int | None = None
    created_at: datetime = Timestamp()
    updated_at: datetime = Timestamp()

    # Every answer about a proposal names its owner and its department's code.
    owner: User = Relationship()
    department: Department = Relationship()


class ProposalPublic(ProposalFields):
    id: int
    state: str
    version: int
    owner: UserPublic
    department: str
    returned_from: str | None
    review_round: int
    rubric_key: str | None
    rubric_version: int | None
    created_at: datetime
    updated_at: datetime


class ProposalPage(SQLModel):
    items: list[ProposalPublic]
    next_cursor: str | None


class TriggerRequest(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    comment: Annotated[str, StringConstraints(max_length=5000), Text] | None = None
    version: int | None = None


class AvailableAction(SQLModel):
    trigger: str
    to_state: str
    comment_required: bool
    ready: bool
    unmet: list[str]


class PrescreenCheck(SQLModel):
    code: str
    severity: str
    message: str
    field: str | None


# --- rubric review ---------------------------------------------------------


class RubricVersion(SQLModel, table=True):
    """One immutable version of a rubric; files are copied in at start-up, admins add more."""

    __tablename__ = "rubric_version"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64)
    version: int
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=300)
    created_at: datetime = Timestamp()


class ReviewerAssignment(SQLModel, table=True):
    __tablename__ = "reviewer_assignment"
    __table_args__ = (UniqueConstraint("proposal_id", "reviewer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    reviewer_id: int = Field(foreign_key="app_user.id", index=True)
    assigned_by_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Timestamp()


class Review(SQLModel, table=True):
    """One reviewer's scores for one round; editable until the proposal leaves rubric_review."""

    __table_args__ = (UniqueConstraint("proposal_id", "round", "reviewer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    round: int
    reviewer_id: int = Field(foreign_key="app_user.id")
    rubric_key: str = Field(max_length=64)
    rubric_version: int
    scores: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    comments: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Timestamp()
    updated_at: datetime = Timestamp()


class ReviewSubmission(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    scores: dict[Annotated[str, StringConstraints(max_length=64)],
                 Annotated[str, StringConstraints(max_length=64)]] = Field(max_length=100)
    comments: dict[Annotated[str, StringConstraints(max_length=64)], LongText] = Field(
        default_factory=dict, max_length=100)


class ReviewerAssignmentRequest(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    reviewers: list[Email] = Field(min_length=1, max_length=20)


# --- the audit chain -------------------------------------------------------


class AuditEntry(SQLModel, table=True):
    """One append-only link of the hash chain; the database refuses UPDATE and DELETE."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_proposal_seq", "proposal_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(unique=True)
    at: datetime = Field(sa_type=DateTime(timezone=True))
    actor_id: int | None = Field(default=None)
    actor_email: str | None = Field(default=None, max_length=254)
    role: str | None = Field(default=None, max_length=32)
    channel: str = Field(max_length=16)
    action: str = Field(max_length=64)
    outcome: str = Field(max_length=16)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str | None = Field(default=None, max_length=32)
    proposal_id: int | None = Field(default=None)
    version: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The chain's newest link, so appending reads one row instead of scanning."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    last_seq: int = 0
    last_hash: str = Field(max_length=64)


class AuditEntryPublic(SQLModel):
    seq: int
    at: datetime
    actor: str | None
    role: str | None
    channel: str
    action: str
    outcome: str
    from_state: str | None
    to_state: str | None
    version: int | None
    detail: dict[str, Any]
    hash: str


class AuditVerification(SQLModel):
    ok: bool
    entries: int
    first_bad: dict[str, Any] | None


# --- badge designs and published credentials ------------------------------------------------


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
