"""Reading a reply: the message, what the sender wrote above the quote, and the command in it."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import parseaddr
from html.parser import HTMLParser
from typing import cast

from mailparser_reply import EmailReplyParser as ReplyParser

from notifications.inbound.signature import strip_signature


@dataclass(frozen=True)
class Inbound:
    message: EmailMessage
    sender: str
    message_id: str
    envelope_from: str | None
    envelope_to: tuple[str, ...]


# No reply has more parts or deeper nesting than this; a message that has is refused unread,
# before the parser (which recurses once per level) or anything walking the parts can overflow.
MAX_PARTS = 100
MAX_DEPTH = 10
CONTENT_TYPE = re.compile(rb"^content-type[ \t]*:", re.I | re.M)


class Unreadable(ValueError):
    """A message too deeply nested or of too many parts to read; refused for good."""


def parse(raw: bytes, envelope_from: str | None = None, envelope_to: Sequence[str] = ()
          ) -> Inbound:
    # Each part declares its type on a line of its own: counting them bounds the parts (and so
    # the depth) before the parser runs.
    if len(CONTENT_TYPE.findall(raw)) > MAX_PARTS:
        raise Unreadable(f"the message has more than {MAX_PARTS} parts")
    message = cast(EmailMessage, message_from_bytes(raw, policy=default))
    levels = [(message, 0)]
    while levels:
        part, depth = levels.pop()
        if depth > MAX_DEPTH:
            raise Unreadable(f"the message nests parts more than {MAX_DEPTH} deep")
        levels += [(cast(EmailMessage, child), depth + 1) for child in part.iter_parts()]
    sender = parseaddr(str(message.get("From", "")))[1].strip().lower()
    message_id = " ".join(str(message.get("Message-ID", "")).split())[:255]
    return Inbound(message, sender[:254], message_id, envelope_from, tuple(envelope_to))


QUOTE_STARTS = [
    re.compile(r"^-{2,}\s*Original Message\s*-{2,}", re.I),  # Outlook, older
    re.compile(r"^-{2,}\s*Forwarded message\s*-{2,}", re.I),  # Gmail forward
    re.compile(r"^Begin forwarded message:", re.I),  # Apple Mail forward
    re.compile(r"^_{10,}\s*$"),  # Outlook on the web's rule above the quoted header
    re.compile(r"^>"),
    re.compile(r"^--\s*$"),  # signature separator
    re.compile(r"^(Sent from my |Get Outlook for )", re.I),
]


WROTE = re.compile(r"\bwrote:\s*$|\bschrieb\b.*:\s*$|\ba écrit\s*:\s*$", re.I)


HEADER_BLOCK = re.compile(r"^\*?(From|De|Von):\*?\s", re.I)


HEADER_FOLLOWS = re.compile(r"^\*?(Sent|Date|To|Subject|Envoyé|Gesendet):\*?\s", re.I)


def strip_quoted(text: str) -> str:
    """The words the sender wrote above the quoted original, without signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if any(p.match(stripped) for p in QUOTE_STARTS) or line.startswith(">"):
            break
        # Gmail and Apple Mail: "On <date>, <name> <address> wrote:", wrapped over two or
        # three lines by Gmail when the name is long.
        if stripped.lower().startswith("on ") and any(
                WROTE.search(" ".join(x.strip() for x in lines[index:index + j]))
                for j in (1, 2, 3)):
            break
        # Any language: an intro line ending in ":" with an address or a time, then a quote.
        following = next((x.strip() for x in lines[index + 1:] if x.strip()), "")
        if (stripped.endswith(":") and following.startswith(">")
                and re.search(r"@|\d{1,2}:\d{2}", stripped)):
            break
        # Outlook: a "From:" line followed by "Sent:"/"Date:"/"To:" lines.
        if HEADER_BLOCK.match(stripped) and any(
                HEADER_FOLLOWS.match(x.strip()) for x in lines[index + 1:index + 4]):
            break
        kept.append(line)
    return "\n".join(kept).strip()


class _HTMLText(HTMLParser):
    """Visible text of an HTML reply, up to where the quoted original starts."""

    BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "hr", "table", "blockquote"}
    QUOTE_IDS = {"divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container"}
    QUOTE_CLASSES = {"gmail_quote", "gmail_attr", "moz-cite-prefix", "yahoo_quoted"}
    SKIP = {"style", "script", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.quoted = False
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.quoted:
            return
        attributes = {k.lower(): (v or "") for k, v in attrs}
        classes = set(attributes.get("class", "").lower().split())
        if (tag == "blockquote" or attributes.get("id", "").lower() in self.QUOTE_IDS
                or classes & self.QUOTE_CLASSES):
            self.quoted = True
            return
        if tag in self.SKIP:
            self.skipping += 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.quoted and not self.skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    return re.sub(r"\n\s*\n+", "\n\n", text)


LANGUAGES = ("en", "de", "fr", "es", "it", "nl")


def without_quote(text: str) -> str:
    """What the sender wrote above the quoted original: mail-parser-reply finds the reply
    headers ("On ... wrote:", "From: ... Sent: ...", "-----Original Message-----") in the
    languages above; our own rules catch what is left (a bare ">" quote, a forward)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\ufeff", "").replace("\u200b", "").replace("\xa0", " ")
    read = ReplyParser(languages=list(LANGUAGES)).read(text)
    if not read.replies or read.replies[0].headers:
        # The first part has reply headers: nothing was written above the quote.
        return ""
    # full_body keeps the signature, which signature.py cuts by rules that know the sender.
    return strip_quoted(read.replies[0].full_body)


def reply_text(message: EmailMessage, name: str | None = None) -> str:
    """What the sender (`name` as our records have it) wrote: the plain part (else the HTML
    part), quotes and signature removed."""
    sender = parseaddr(str(message.get("From", "")))
    name = name or sender[0] or None
    plain = message.get_body(("plain",))
    if plain is not None:
        text = str(plain.get_content())
    else:
        html = message.get_body(("html",))
        text = html_text(str(html.get_content())) if html is not None else ""
    return strip_signature(without_quote(text), name, sender[1] or None)
