"""Meetings of the review committee and the proposals on their agendas."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, StringConstraints
from sqlalchemy import DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from workflow.fields import MAX_ID, LongText, OneLine, Text, Timestamp, Title


class Decision(StrEnum):
    """What a meeting decides for a proposal on its agenda (the first three are the door's
    triggers; deferring moves it to the next meeting)."""

    APPROVE = "approve"
    RETURN = "return"
    REJECT = "reject"
    DEFER = "defer"


# How an agenda item ended when the proposal left rubric review some other way.
WITHDRAWN = "withdraw"


class Meeting(SQLModel, table=True):
    """One review meeting on the coordinator's calendar."""

    id: int | None = Field(default=None, primary_key=True)
    starts_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    duration_minutes: int = 90
    title: str = Field(max_length=200)
    location: str = Field(default="", max_length=500)
    # Bumped at each change the invitation must carry (RFC 5545 SEQUENCE).
    sequence: int = 0
    created_by_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Timestamp()


class AgendaItem(SQLModel, table=True):
    """A proposal on a meeting's agenda for one review round; `decision` is set once decided
    there, deferred or otherwise ended, and an item without one is the proposal's open item."""

    __tablename__ = "agenda_item"
    __table_args__ = (UniqueConstraint("meeting_id", "proposal_id", "review_round"),
                      Index("ix_agenda_item_proposal_decision", "proposal_id", "decision"))

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    proposal_id: int = Field(foreign_key="proposal.id")
    review_round: int
    placed_at: datetime = Timestamp()
    decision: str | None = Field(default=None, max_length=16)
    decided_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    decided_by_id: int | None = Field(default=None, foreign_key="app_user.id")


def _whole_minutes(value: int) -> int:
    if not 15 <= value <= 8 * 60:
        raise ValueError("a meeting lasts from 15 minutes to 8 hours")
    return value


# Where a meeting is: one line (it goes into the agenda email and the invitation), as long as
# the column holds, or empty.
Place = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), Text, OneLine]


class MeetingCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    starts_at: datetime
    duration_minutes: Annotated[int, AfterValidator(_whole_minutes)] = 90
    title: Title = "Micro-credential review committee"
    location: Place = ""


class DecisionRequest(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    proposal_id: int = Field(ge=1, le=MAX_ID)
    decision: Decision
    comment: LongText | None = None
    version: int | None = Field(default=None, ge=1, le=MAX_ID)


class MoveRequest(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    meeting_id: int = Field(ge=1, le=MAX_ID)


class ReviewerStatus(SQLModel):
    reviewer: str
    scored: bool


class AgendaEntry(SQLModel):
    """One proposal as the agenda shows it."""

    proposal_id: int
    title: str
    department: str
    state: str
    version: int
    review_round: int
    decision: str | None
    decided_at: datetime | None
    aggregate: dict[str, object] | None
    reviews_in: int
    reviewers_assigned: int
    # Names for the coordinator and admins; empty for everyone else (blind review).
    reviewers: list[ReviewerStatus]
    checks: list[dict[str, str | None]]
    attachments: list[dict[str, object]]


class MeetingPublic(SQLModel):
    id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    location: str
    reviews_due: datetime
    decisions_due: datetime
    items: int


class MeetingWithAgenda(MeetingPublic):
    agenda: list[AgendaEntry]
