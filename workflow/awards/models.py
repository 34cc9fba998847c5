"""Awards of published credentials to learners, the keys that sign them, and their batches."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, StringConstraints
from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from workflow.fields import Email, Timestamp, Title

# A status list holds this many entries (the Bitstring Status List's minimum, so one
# revocation cannot be told apart from the others by the size of the list).
STATUS_LIST_SIZE = 131_072


class Award(SQLModel, table=True):
    """One learner's award of one published credential: the signed document, kept as it was
    signed, and whether it has been revoked."""

    __table_args__ = (
        UniqueConstraint("status_list", "status_index"),
        Index("ix_award_credential_issued", "credential_id", "issued_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=32, unique=True)
    credential_id: int = Field(foreign_key="credential.id", index=True)
    recipient_email: str = Field(max_length=254)
    recipient_name: str = Field(max_length=200)
    evidence_url: str | None = Field(default=None, max_length=2000)
    issued_at: datetime = Timestamp()
    issued_by_id: int = Field(foreign_key="app_user.id")
    # Where this award's revocation bit lives.
    status_list: int = 1
    status_index: int
    # The signing key's verification method (did:web...#key-...), so old awards still verify
    # after the key is rotated.
    key_id: str = Field(max_length=300)
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    revocation_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class SigningKey(SQLModel, table=True):
    """A public key the service has signed with, kept for as long as its awards must verify."""

    __tablename__ = "signing_key"

    id: int | None = Field(default=None, primary_key=True)
    key_id: str = Field(max_length=300, unique=True)
    public_multibase: str = Field(max_length=100)
    created_at: datetime = Timestamp()
    retired_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class Recipient(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    email: Email
    name: Title


class AwardRequest(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    recipients: list[Recipient] = Field(min_length=1, max_length=500)
    evidence_url: Annotated[str, StringConstraints(max_length=2000,
                                                   pattern=r"^https?://\S+$")] | None = None


class RevocationRequest(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=2000)]


class AwardPublic(SQLModel):
    id: str
    credential: str
    credential_title: str
    recipient_name: str
    recipient_email: str
    evidence_url: str | None
    issued_at: datetime
    expires_at: datetime | None
    revoked: bool
    revoked_at: datetime | None
    revocation_reason: str | None
    url: str
    credential_url: str



class AwardBatch(SQLModel, table=True):
    """A file of learners to award, checked line by line, then awarded by the worker one line
    at a time, so that the page can show how far it has got."""

    __tablename__ = "award_batch"

    id: int | None = Field(default=None, primary_key=True)
    credential_id: int = Field(foreign_key="credential.id", index=True)
    created_by_id: int = Field(foreign_key="app_user.id")
    filename: str = Field(max_length=200)
    evidence_url: str | None = Field(default=None, max_length=2000)
    # checked: a dry run, not started; queued: the worker awards its lines; done
    status: str = Field(default="checked", max_length=16)
    # One per line of the file: {"line", "email", "name", "problem", "award", "refused"}.
    lines: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Timestamp()
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
