"""Validated text, address and id types, and the clock every table's times come from."""

import re
import unicodedata
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


def _invisible(value: str) -> str | None:
    """The first invisible format character (bidi overrides, zero-width marks, the BOM), named."""
    for char in value:
        if unicodedata.category(char) == "Cf":
            return f"U+{ord(char):04X} {unicodedata.name(char, 'format character')}"
    return None


def one_line_problem(value: str) -> str | None:
    """Why this text cannot be a one-line field (a title, a name, a list item), or None.

    A line break would start what reads as a new header line in a plain-text mail body; a
    bidi override or a zero-width mark makes text read otherwise than it is stored."""
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in value):
        return "line breaks and control characters are not allowed in a one-line field"
    if found := _invisible(value):
        return f"invisible formatting characters are not allowed ({found})"
    return None


def multi_line_problem(value: str) -> str | None:
    """Why this text cannot be a multi-line field, or None: it keeps line breaks (and tabs),
    nothing else invisible."""
    if NOT_TEXT.search(value):
        return "control characters and lone surrogates are not allowed"
    if found := _invisible(value):
        return f"invisible formatting characters are not allowed ({found})"
    if any(unicodedata.category(char) in ("Zl", "Zp") for char in value):
        return "use plain line breaks, not Unicode line or paragraph separators"
    return None


def _one_line(value: str) -> str:
    if problem := one_line_problem(value):
        raise ValueError(problem)
    return value


def _multi_line(value: str) -> str:
    if problem := multi_line_problem(value):
        raise ValueError(problem)
    return value


OneLine = AfterValidator(_one_line)
MultiLine = AfterValidator(_multi_line)


Email = Annotated[str, StringConstraints(max_length=254), Text, OneLine,
                  AfterValidator(plain_address)]


Line = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), Text, OneLine
]


Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Text, OneLine
]


ShortText = Annotated[str, StringConstraints(max_length=2000), Text, MultiLine]


LongText = Annotated[str, StringConstraints(max_length=10_000), Text, MultiLine]


Code = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_-]{1,32}$")
]


# Ids are 32-bit integers in the database; a larger number cannot name anything.
MAX_ID = 2_147_483_647
