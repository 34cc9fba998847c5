"""Tables of the email outbox, the users' email preferences and the dev mailbox."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from workflow.fields import Timestamp, as_utc


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"


class OutboxMessage(SQLModel, table=True):
    """One email to one recipient, rendered when the change that caused it was committed."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_message_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_message_status_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event: str = Field(max_length=64)
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id", index=True)
    recipient: str = Field(max_length=254)
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    subject: str = Field(max_length=500)
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str = Field(sa_column=Column(Text, nullable=False))
    message_id: str = Field(max_length=255, unique=True)
    # The per-proposal root every message about it replies to, so mail clients thread them.
    thread_id: str | None = Field(default=None, max_length=255)
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # None: the configured sender; "": the null sender `<>` (automatic answers).
    envelope_sender: str | None = Field(default=None, max_length=254)
    # Files sent with it, as text ({"filename", "content_type", "text"}): a meeting's invitation.
    attachments: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    # Scheduled messages carry a key so that a scheduler running twice queues nothing twice.
    dedupe_key: str | None = Field(default=None, max_length=255, unique=True)
    status: str = Field(default=OutboxStatus.PENDING.value, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Timestamp()
    lease_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    leased_by: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Timestamp()
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class OutboxMessagePublic(SQLModel):
    id: int
    event: str
    proposal_id: int | None
    recipient: str
    subject: str
    message_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class OutboxPage(SQLModel):
    items: list[OutboxMessagePublic]
    next_cursor: str | None


class EmailPreference(SQLModel, table=True):
    """How a user wants their "action needed" emails: one by one, or in one daily digest."""

    __tablename__ = "email_preference"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    daily_digest: bool = False
    updated_at: datetime = Timestamp()


class EmailPreferencePublic(SQLModel):
    daily_digest: bool


class DevMailboxMessage(SQLModel, table=True):
    """A message the dev mailbox received instead of an SMTP server (no MICROCRED_SMTP_HOST)."""

    __tablename__ = "dev_mailbox_message"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=255, index=True)
    envelope_from: str = Field(max_length=254)
    recipient: str = Field(max_length=254)
    subject: str = Field(max_length=500)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: datetime = Timestamp()


def as_public(row: OutboxMessage) -> OutboxMessagePublic:
    return OutboxMessagePublic(
        id=row.id or 0, event=row.event, proposal_id=row.proposal_id, recipient=row.recipient,
        subject=row.subject, message_id=row.message_id, status=row.status,
        attempts=row.attempts, next_attempt_at=as_utc(row.next_attempt_at),
        last_error=row.last_error, created_at=as_utc(row.created_at),
        sent_at=as_utc(row.sent_at) if row.sent_at else None,
    )
