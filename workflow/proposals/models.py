"""The proposal family: the fields a submitter writes, the table, and the API's shapes."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, StringConstraints
from sqlalchemy import JSON, DateTime, Index, String
from sqlmodel import Field, Relationship, SQLModel

from workflow.accounts.models import Department, User, UserPublic
from workflow.fields import (
    MAX_ID,
    Code,
    Email,
    Line,
    LongText,
    MultiLine,
    ShortText,
    Text,
    Timestamp,
    Title,
)


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
    # The review rounds up to this one are decided by the coordinator: their comments are
    # released to the authors (reviews/visibility.py).
    released_round: int = 0
    created_at: datetime = Timestamp()
    updated_at: datetime = Timestamp()
    # Set by the first submit: until then (and after a withdrawal from draft) it is private.
    submitted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))

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

    comment: Annotated[str, StringConstraints(max_length=5000), Text, MultiLine] | None = None
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
