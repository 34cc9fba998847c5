"""Tables of the email actions: action tokens and received replies."""

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from workflow.fields import Timestamp


class ActionToken(SQLModel, table=True):
    """A capability to fire some triggers on one proposal at one version, from an email.

    Only the token's SHA-256 is stored; the token itself lives in the email alone.
    """

    __tablename__ = "action_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    version: int
    triggers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    event: str = Field(max_length=64)
    created_at: datetime = Timestamp()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    used_via: str | None = Field(default=None, max_length=16)


class InboundMessage(SQLModel, table=True):
    """One email received for the reply addresses; counted per reply token and per connecting
    address for the rate limits (never per From, which the sender writes)."""

    __tablename__ = "inbound_message"
    __table_args__ = (
        Index("ix_inbound_message_sender_received", "sender", "received_at"),
        Index("ix_inbound_message_token_received", "token_hash", "received_at"),
        Index("ix_inbound_message_peer_received", "peer", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sender: str = Field(max_length=254)
    message_id: str = Field(max_length=255)
    outcome: str = Field(max_length=32)
    received_at: datetime = Timestamp()
    # The SHA-256 of the reply token it was addressed to, and the address it came from.
    token_hash: str | None = Field(default=None, max_length=64)
    peer: str | None = Field(default=None, max_length=64)


class RefusalTally(SQLModel, table=True):
    """How often one source was refused for one reason within one window: callers nobody
    authenticated leave one audit entry per window, not one per attempt."""

    __tablename__ = "refusal_tally"
    __table_args__ = (UniqueConstraint("source", "kind", "window_start"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    window_start: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    count: int
