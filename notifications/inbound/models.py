"""Tables of the email actions: action tokens and received replies."""

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Index
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
    """One email received for the reply addresses; counted per sender for the rate limit."""

    __tablename__ = "inbound_message"
    __table_args__ = (Index("ix_inbound_message_sender_received", "sender", "received_at"),)

    id: int | None = Field(default=None, primary_key=True)
    sender: str = Field(max_length=254)
    message_id: str = Field(max_length=255)
    outcome: str = Field(max_length=32)
    received_at: datetime = Timestamp()
