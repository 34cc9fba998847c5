"""What happened to a proposal that people are told about, written by the door as a row in the
same transaction as the change itself.

Nothing here sends anything: the notifications worker reads the rows, turns each into emails
(who gets what, rendered) and deletes it. A change that rolls back leaves no row, so nobody
hears of a change that did not happen.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Text, insert
from sqlmodel import Field, Session, SQLModel

from workflow.fields import Timestamp, utcnow
from workflow.machine import State


class Event(StrEnum):
    """A kind of email-worthy happening; each has one template pair in notifications."""

    SUBMITTED = "submitted"
    RESUBMITTED = "resubmitted"
    DEPARTMENT_APPROVED = "department_approved"
    RUBRIC_APPROVED = "rubric_approved"
    PUBLISHED = "published"
    RETURNED = "returned"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    RETIRED = "retired"
    REVIEWER_ASSIGNED = "reviewer_assigned"
    MENTIONED = "mentioned"
    AWARDED = "awarded"
    REMINDER = "reminder"
    ESCALATION = "escalation"
    DIGEST = "digest"


class OutboxEvent(SQLModel, table=True):
    """One recorded event, waiting for the worker to turn it into emails."""

    __tablename__ = "outbox_event"

    id: int | None = Field(default=None, primary_key=True)
    event: str = Field(max_length=64)
    proposal_id: int = Field(foreign_key="proposal.id")
    # The proposal's state and version right after the change: recipients are chosen for that
    # stage, and the emails offer actions only while the proposal is still at that version.
    state: str = Field(max_length=32)
    version: int
    actor_id: int | None = Field(default=None, foreign_key="app_user.id")
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Users the event names (the reviewers just assigned).
    named: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The award it is about (an award's email goes to its learner).
    award_id: int | None = Field(default=None, foreign_key="award.id")
    created_at: datetime = Timestamp()
    # Passes that failed to expand it, and the last one's error: after enough failures the
    # worker leaves it parked here (kept, never deleted) instead of failing on it every pass.
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    last_error: str | None = Field(default=None, max_length=1000)


@dataclass(frozen=True)
class ProposalEvent:
    """What happened to which proposal, by whom, and the stage it left the proposal in."""

    kind: Event
    proposal_id: int
    state: State
    version: int
    actor_id: int | None = None
    comment: str | None = None
    named: tuple[int, ...] = ()
    award_id: int | None = None


def record(session: Session, event: ProposalEvent) -> None:
    """Add the event to the caller's transaction (the caller commits)."""
    session.execute(insert(OutboxEvent).values(
        event=event.kind.value, proposal_id=event.proposal_id, state=event.state.value,
        version=event.version, actor_id=event.actor_id, comment=event.comment,
        named=list(event.named), award_id=event.award_id, created_at=utcnow(), attempts=0))


def for_transition(trigger: str, from_state: State, to_state: State) -> Event | None:
    """The event a transition is, or None when nobody is told of it."""
    if trigger == "submit":
        return Event.SUBMITTED
    if trigger == "resubmit":
        return Event.RESUBMITTED
    if trigger == "approve":
        return {
            State.RUBRIC_REVIEW: Event.DEPARTMENT_APPROVED,
            State.DESIGN_REVIEW: Event.RUBRIC_APPROVED,
            State.PUBLISHED: Event.PUBLISHED,
        }[to_state]
    if trigger == "withdraw" and from_state is State.DRAFT:
        # Nobody but its authors ever saw a draft; telling the badge office would leak it.
        return None
    return {
        "return": Event.RETURNED,
        "reject": Event.REJECTED,
        "withdraw": Event.WITHDRAWN,
        "retire": Event.RETIRED,
    }[trigger]
