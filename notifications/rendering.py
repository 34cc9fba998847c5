"""Jinja2 templates to subjects and bodies, and outbox rows to RFC 5322 messages."""

from dataclasses import dataclass
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import SMTP, Policy
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notifications.models import OutboxMessage
from workflow.fields import as_utc

TEMPLATES = Path(__file__).resolve().parent / "templates"


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


SUBJECT_MAX = 69  # a phone's inbox shows about this much; the event comes first


def subject_line(title: str, what: str) -> str:
    """`<what happened>: <title>`, on one line whatever the title holds; a long title is cut
    so that the subject stays short enough to read whole on a phone."""
    title = " ".join(title.split())
    room = SUBJECT_MAX - len(what) - 2
    if len(title) > room:
        title = title[:max(room - 1, 0)].rstrip() + "\u2026"
    return f"{what}: {title}"


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


class WordFolded(UnstructuredHeader, BaseHeader):
    """An ASCII header folded only at the spaces between its words, first word on its own line.

    The standard library's folding does two things that readers get wrong. A word too long for
    a line (a Microsoft 365 Message-ID in In-Reply-To or References) becomes RFC 2047 encoded
    words, and mail clients, Outlook among them, then no longer find the message replied to
    (CPython issue gh-100991). A value that fits on a line of its own but not after the field
    name is moved whole to the next line, which Python's own parser, for one, reads with a
    leading space. Values that are not ASCII are left to the standard library.
    """

    max_count = 1  # Subject, In-Reply-To and References appear once each (RFC 5322 3.6)

    def fold(self, *, policy: Policy) -> str:
        words = str(self).split()
        if not words or not str(self).isascii():
            return super().fold(policy=policy)
        width = policy.max_line_length or 998  # RFC 5322's limit when the policy sets none
        lines = [f"{self.name}: {words[0]}"]
        for word in words[1:]:
            if len(lines[-1]) + 1 + len(word) > width:
                lines.append("")
            lines[-1] += f" {word}"
        return policy.linesep.join(lines) + policy.linesep


def _message_policy() -> Policy:
    headers = HeaderRegistry()
    for name in ("subject", "in-reply-to", "references"):
        headers.map_to_type(name, WordFolded)
    return SMTP.clone(header_factory=headers)


# CRLF line ends and RFC 2047 for headers that are not ASCII, as on the wire; see WordFolded.
MESSAGE_POLICY = _message_policy()


def message_for(row: OutboxMessage, mail_from: str) -> EmailMessage:
    """The RFC 5322 message for an outbox row: multipart/alternative, text then HTML, UTF-8.

    Built under `email.policy.SMTP` (see MESSAGE_POLICY): headers are folded and, where not
    ASCII, encoded as RFC 2047 wants, and `as_bytes()` has CRLF line ends, as the message goes
    on the wire. Both parts are quoted-printable, so the message is 7-bit whatever the server
    offers. The same row gives the same message apart from the MIME boundary, however often it
    is retried.
    """
    headers = {
        "From": mail_from,
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
    message = EmailMessage(policy=MESSAGE_POLICY)
    for name, value in headers.items():
        message[name] = " ".join(value.split())  # a header value is one line, whatever it held
    message.set_content(row.body_text, charset="utf-8", cte="quoted-printable")
    message.add_alternative(row.body_html, subtype="html", charset="utf-8",
                            cte="quoted-printable")
    for attached in row.attachments or ():
        maintype, _, subtype = attached["content_type"].partition("/")
        # A calendar invitation names its method in the part's type as well (RFC 6047).
        params = {"method": attached["method"]} if attached.get("method") else {}
        assert maintype == "text", "attachments are text (an invitation)"
        message.add_attachment(attached["text"], subtype=subtype, charset="utf-8",
                               cte="quoted-printable", filename=attached["filename"],
                               params=params)
    return message


def envelope_sender(row: OutboxMessage, mail_from: str) -> str:
    """The MAIL FROM address: the row's own, "" for the null sender `<>` (automatic answers,
    which must not be answered in turn, RFC 3834), or MICROCRED_MAIL_FROM's bare address."""
    if row.envelope_sender is not None:
        return str(row.envelope_sender)
    return parseaddr(mail_from)[1]
