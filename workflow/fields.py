"""Validated text, address and id types, and the clock every table's times come from."""

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, StringConstraints
from sqlalchemy import DateTime
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Read a stored time as UTC (SQLite hands back naive datetimes)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def Timestamp(**kwargs: Any) -> Any:  # noqa: N802 - reads as a column type
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), **kwargs)


def plain_address(value: str) -> str:
    """A plain email address (no display name, quotes, spaces or line breaks), lower-cased:
    what may go into an SMTP envelope and be compared with a user's address."""
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(f"not an email address: {error}") from error
    return checked.normalized.lower()


# PostgreSQL refuses NUL in text, and no field has a use for other control characters; a
# lone surrogate is no character at all and cannot be stored or sent as UTF-8.
NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def _printable(value: str) -> str:
    if NOT_TEXT.search(value):
        raise ValueError("control characters and lone surrogates are not allowed")
    return value


Text = AfterValidator(_printable)


Email = Annotated[str, StringConstraints(max_length=254), Text, AfterValidator(plain_address)]


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
