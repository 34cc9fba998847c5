"""What the sender hands a transport, and what comes back for each message."""

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from enum import StrEnum
from typing import Protocol


class Result(StrEnum):
    SENT = "sent"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    # Not tried before the lease ran short: back to the queue without costing an attempt.
    NOT_TRIED = "not_tried"


@dataclass(frozen=True)
class Mail:
    sender: str  # "" is the null sender <>
    recipient: str
    message: EmailMessage


@dataclass(frozen=True)
class Attempt:
    result: Result
    error: str | None = None


NOT_TRIED = Attempt(Result.NOT_TRIED)


SENT = Attempt(Result.SENT)


def refused(code: int, text: str) -> Attempt:
    """5xx is permanent; 4xx, and anything else odd, is worth another try."""
    return Attempt(Result.PERMANENT if 500 <= code < 600 else Result.TRANSIENT, f"{code} {text}")


def address_problem(address: str) -> str | None:
    """Why `address` may not go into a MAIL FROM or RCPT TO command, or None if it may.

    Only a bare `local@domain` passes. A line break would end the command and start another
    one of the row's choosing; a display name, angle brackets or a space would make the server
    (or aiosmtplib, which keeps what `parseaddr` finds) read an address other than the row's.
    """
    if any(unicodedata.category(char).startswith("C") for char in address):
        return "contains a control character (such as CR or LF)"
    if any(char.isspace() for char in address):
        return "contains white space"
    local, _, domain = address.rpartition("@")
    if not local or not domain or "<" in address or ">" in address \
            or parseaddr(address) != ("", address):
        return "is not a plain address (local@domain)"
    return None


def envelope_problem(sender: str, recipient: str) -> str | None:
    """Why a message's envelope cannot be sent as it is; the null sender "" is allowed."""
    if problem := address_problem(recipient):
        return f"recipient {recipient!r} {problem}: not sent"
    if sender and (problem := address_problem(sender)):
        return f"envelope sender {sender!r} {problem}: not sent"
    return None


class ConnectFailed(Exception):
    """The SMTP server could not be reached or refused us before any message."""


# Told the index of each mail the server has taken (its 250), as soon as it has.
OnSent = Callable[[int], None]


class Transport(Protocol):
    async def open(self) -> None: ...

    async def send_all(self, mails: Sequence[Mail], deadline: float,
                       on_sent: OnSent | None = None) -> list[Attempt]:
        """Try each mail in order until `deadline` (time.monotonic); one Attempt per mail."""
        ...

    async def close(self) -> None: ...
