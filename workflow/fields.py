"""Validated text, address and id types, and the clock every table's times come from."""

import re
from datetime import UTC, datetime
from typing import Annotated, Any

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


def _lower_email(value: str) -> str:
    value = value.strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or " " in value:
        raise ValueError("not an email address")
    return value


# PostgreSQL refuses NUL in text, and no field has a use for other control characters.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _printable(value: str) -> str:
    # A regular expression, not a loop over the characters: every proposal written runs this
    # on each of its texts (answers are built from stored rows without validating again).
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("control characters are not allowed")
    return value


Text = AfterValidator(_printable)


Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_lower_email), Text]


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
