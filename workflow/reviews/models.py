"""Rubric versions, reviewer assignments and reviews."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, StringConstraints
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from workflow.fields import Email, LongText, Timestamp


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
