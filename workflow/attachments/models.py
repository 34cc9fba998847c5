"""Attachments and the blobs they point to (stored once per SHA-256)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from workflow.fields import Timestamp


class Purpose(StrEnum):
    LETTER_OF_SUPPORT = "letter_of_support"
    SYLLABUS = "syllabus"
    EMPLOYER_DATA = "employer_data"
    OTHER = "other"


class Attachment(SQLModel, table=True):
    """One file attached to a proposal; never changed (a new version is a new attachment)."""

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    sha256: str = Field(max_length=64, index=True)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=128)
    size: int
    purpose: str = Field(default=Purpose.OTHER.value, max_length=32)
    uploaded_by_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Timestamp()


class AttachmentBlob(SQLModel, table=True):
    """A file's bytes, keyed by their SHA-256, when the database is the store."""

    __tablename__ = "attachment_blob"

    sha256: str = Field(max_length=64, primary_key=True)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class AttachmentPublic(SQLModel):
    id: int
    proposal_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    purpose: str
    uploaded_by: str
    created_at: datetime
    download_url: str
