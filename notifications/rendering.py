"""Jinja2 templates to subjects and bodies, and outbox rows to RFC 5322 messages."""

import binascii
import secrets
from dataclasses import dataclass
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notifications.models import OutboxMessage
from workflow.models import as_utc

TEMPLATES = Path(__file__).resolve().parent / "templates"
SUBJECT_PREFIX = "[Micro-credential]"


@lru_cache(maxsize=1)
def environment() -> Environment:
    # Autoescape for the HTML part only: the text part must show a title as it was typed.
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # The templates ship with the code: Jinja's cache need not stat each file per message.
        auto_reload=False,
    )


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def subject_line(title: str, what: str) -> str:
    """`[Micro-credential] <title>: <what happened>`, on one line whatever the title holds."""
    title = " ".join(title.split())
    return f"{SUBJECT_PREFIX} {title}: {what}"


def render(name: str, subject: str, context: dict[str, Any]) -> Rendered:
    context = {**context, "subject": subject}
    return Rendered(
        subject=subject,
        text=environment().get_template(f"{name}.txt").render(context),
        html=environment().get_template(f"{name}.html").render(context),
    )


def mail_domain(mail_from: str) -> str:
    """The domain of our own Message-IDs: the sender address's."""
    _, address = parseaddr(mail_from)
    domain = address.rpartition("@")[2].strip().lower()
    return domain or "microcred.invalid"


def _header(name: str, value: str) -> bytes:
    value = " ".join(value.split())  # no line breaks can reach a header
    if value.isascii():
        return f"{name}: {value}\r\n".encode("ascii")
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n".encode("ascii")


@lru_cache(maxsize=16)
def _address(value: str) -> str:
    # Always MICROCRED_MAIL_FROM: parsing it again for each message of a batch cost a third of
    # building the message.
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8")


def _quoted_printable(text: str) -> bytes:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(lines, istext=True).replace(b"\n", b"\r\n")


def wire_bytes(row: OutboxMessage, mail_from: str) -> bytes:
    """The RFC 5322 message for an outbox row: multipart/alternative, text then HTML.

    Written by hand rather than with `email.message`: its header policies cost milliseconds
    a message, which is most of a batch's time. The same row gives the same bytes apart from
    the MIME boundary, however often it is retried.
    """
    headers = {
        "From": _address(mail_from),
        "To": row.recipient,
        "Subject": row.subject,
        "Date": format_datetime(as_utc(row.created_at)),
        "Message-ID": row.message_id,
    }
    if row.thread_id:
        headers["In-Reply-To"] = row.thread_id
        headers["References"] = row.thread_id
    # Tells vacation responders and ticket systems not to answer (RFC 3834).
    headers["Auto-Submitted"] = "auto-generated"
    headers["X-Auto-Response-Suppress"] = "All"
    for name, value in (row.headers or {}).items():
        canonical = next((known for known in headers if known.lower() == name.lower()), name)
        headers[canonical] = value
    boundary = f"=_mc_{secrets.token_hex(12)}"
    head = b"".join(_header(name, value) for name, value in headers.items())
    part = "--{b}\r\nContent-Type: text/{kind}; charset=utf-8\r\n" \
           "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    return b"".join([
        head,
        b"MIME-Version: 1.0\r\n",
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode(),
        part.format(b=boundary, kind="plain").encode(),
        _quoted_printable(row.body_text),
        b"\r\n",
        part.format(b=boundary, kind="html").encode(),
        _quoted_printable(row.body_html),
        f"\r\n--{boundary}--\r\n".encode(),
    ])


def envelope_sender(row: OutboxMessage, mail_from: str) -> str:
    if row.envelope_sender is not None:
        return str(row.envelope_sender)
    return _bare_address(mail_from)


@lru_cache(maxsize=16)
def _bare_address(value: str) -> str:
    return parseaddr(value)[1]
