"""Replies by email: `approve`, or `return` and a comment, sent to `reply+<token>@...`.

Every message is checked before its words are read: the rate limit per sender (counted in the
database, so it holds across processes), automatic replies (dropped without an answer, so two
robots never loop), the token, the From address (the token's own user, so a forwarded email
cannot be answered by its new reader), and any DMARC, DKIM or SPF failure the receiving server
recorded in `Authentication-Results`. Then quoted text, signatures and HTML are removed, so a
keyword inside the quoted original never acts. The sender gets a short answer, sent as
`Auto-Submitted: auto-replied` from the null sender `<>`.
"""

import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import Any, cast

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from notifications import action_tokens
from notifications.action_tokens import Preview, Refused
from notifications.models import InboundMessage
from notifications.outbox import enqueue
from notifications.recipients import Recipient
from plumbing.database import write_session
from plumbing.settings import Settings
from workflow import audit
from workflow.models import Channel, Proposal, User, utcnow

VIA = Channel.EMAIL_REPLY.value
AUTOMATIC_PRECEDENCE = {"bulk", "auto_reply", "junk", "list"}
REPLY_ADDRESS = re.compile(r"reply\+([a-z2-7]{32})@([a-z0-9.-]+)", re.I)
THREAD_IDS = re.compile(r"<(?:proposal-|p)(\d+)\.")
AUTH_FAILURE = re.compile(r"\b(dmarc|dkim|spf)\s*=\s*(fail|permerror)\b", re.I)


@dataclass(frozen=True)
class Inbound:
    message: EmailMessage
    sender: str
    message_id: str
    envelope_from: str | None
    envelope_to: tuple[str, ...]


def parse(raw: bytes, envelope_from: str | None = None, envelope_to: Sequence[str] = ()
          ) -> Inbound:
    message = cast(EmailMessage, message_from_bytes(raw, policy=default))
    sender = parseaddr(str(message.get("From", "")))[1].strip().lower()
    message_id = " ".join(str(message.get("Message-ID", "")).split())[:255]
    return Inbound(message, sender[:254], message_id, envelope_from, tuple(envelope_to))


# --- the checks --------------------------------------------------------------------------------


def automatic(inbound: Inbound) -> str | None:
    """Why this looks like a robot's message (RFC 3834 and the usual vendor headers), or None."""
    message = inbound.message
    auto_submitted = str(message.get("Auto-Submitted", "")).split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    for name in ("X-Autoreply", "X-Autorespond"):
        if message.get(name) is not None:
            return f"{name} header"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in AUTOMATIC_PRECEDENCE:
        return f"Precedence: {precedence}"
    return_path = str(message.get("Return-Path", "")).strip()
    if return_path == "<>" or inbound.envelope_from in ("", "<>"):
        return "empty return path"
    return None


def authentication_failure(message: EmailMessage) -> str | None:
    for header in message.get_all("Authentication-Results", []) or []:
        found = AUTH_FAILURE.search(str(header))
        if found:
            return f"{found.group(1).lower()}={found.group(2).lower()}"
    return None


def tokens_in(inbound: Inbound, settings: Settings) -> list[str]:
    """The reply tokens this message was addressed to (envelope first, then the headers)."""
    message = inbound.message
    addresses = list(inbound.envelope_to)
    for name in ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc"):
        addresses += [a for _, a in getaddresses([str(v) for v in message.get_all(name, [])])]
    domain = settings.reply_domain.lower()
    found: list[str] = []
    for address in addresses:
        match = REPLY_ADDRESS.fullmatch(address.strip())
        if match and match.group(2).lower() == domain and match.group(1).lower() not in found:
            found.append(match.group(1).lower())
    return found


def thread_proposals(message: EmailMessage) -> frozenset[int]:
    """The proposals whose emails this one answers, from our own Message-IDs it refers to."""
    refs = " ".join(str(message.get(name, "")) for name in ("In-Reply-To", "References"))
    return frozenset(int(n) for n in THREAD_IDS.findall(refs))


# --- reading the reply -------------------------------------------------------------------------

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


def reply_text(message: EmailMessage) -> str:
    """What the sender wrote: the plain part (else the HTML part), quotes and signature removed."""
    plain = message.get_body(("plain",))
    if plain is not None:
        return strip_quoted(str(plain.get_content()))
    html = message.get_body(("html",))
    if html is not None:
        return strip_quoted(html_text(str(html.get_content())))
    return ""


@dataclass(frozen=True)
class Command:
    trigger: str | None
    comment: str | None = None


APPROVE = re.compile(r"^approved?(?![\w?])[\s.!,:;-]*", re.I)
RETURN = re.compile(r"^return(?![\w?])[\s.!,:;-]*", re.I)


def command(text: str) -> Command:
    """`approve`/`approved` approves; `return <comment>` returns; anything else is no command."""
    text = text.strip()
    if APPROVE.match(text):
        return Command("approve")
    found = RETURN.match(text)
    if found:
        return Command("return", text[found.end():].strip() or None)
    return Command(None)


# --- receiving -------------------------------------------------------------------------------

HELP = ("We could not tell what you wanted from your reply, so nothing was done. Reply to the "
        "original email with the word approve as the first word to approve the proposal, or "
        "the word return followed by your comment to return it to the submitter.")
RETURN_HELP = ("To return the proposal, write your comment after the word return, for example "
               "\"return Please add a third learning outcome.\" Nothing was done.")


@dataclass(frozen=True)
class Received:
    """What became of an inbound message: done, refused, help or dropped, and why."""

    outcome: str
    reason: str
    answered: bool = False


def receive(engine: Engine, raw: bytes, settings: Settings, *,
            envelope_from: str | None = None, envelope_to: Sequence[str] = ()) -> Received:
    """Check and act on one inbound message; every message leaves one audit entry."""
    inbound = parse(raw, envelope_from, envelope_to)
    with write_session(engine) as session:
        limited = _count_and_record(session, inbound, settings)
    with write_session(engine) as session:
        return _handle(session, inbound, settings, rate_limited=limited)


def _count_and_record(session: Session, inbound: Inbound, settings: Settings) -> bool:
    """Record the message at once (its own short transaction) and say if its sender is over
    the limit; counted in the database so that several web processes share one limit."""
    since = utcnow() - timedelta(seconds=settings.inbound_rate_window_seconds)
    recent = session.exec(select(func.count()).select_from(InboundMessage).where(
        InboundMessage.sender == inbound.sender, col(InboundMessage.received_at) > since)).one()
    session.add(InboundMessage(sender=inbound.sender, message_id=inbound.message_id,
                               outcome="received"))
    session.commit()
    return recent >= settings.inbound_rate_limit


def _handle(session: Session, inbound: Inbound, settings: Settings, *, rate_limited: bool
            ) -> Received:
    sender_user = _active_user(session, inbound.sender)
    if rate_limited:
        return _drop(session, inbound, sender_user, "rate_limited",
                     f"more than {settings.inbound_rate_limit} messages from this sender within "
                     f"{settings.inbound_rate_window_seconds:g} seconds")
    robot = automatic(inbound)
    if robot:
        return _drop(session, inbound, sender_user, "automatic", f"automatic message ({robot})")
    tokens = tokens_in(inbound, settings)
    if not tokens:
        return _drop(session, inbound, sender_user, "no_token",
                     "not addressed to a reply address")
    token = tokens[0]
    found = action_tokens.find(session, token)
    owner = session.get(User, found.user_id) if found is not None else None
    proposal = session.get(Proposal, found.proposal_id) if found is not None else None
    if found is not None and (owner is None or owner.email.lower() != inbound.sender):
        return _refuse(session, inbound, sender_user, proposal, "other_sender",
                       "This email was sent to someone else, and only they can act on it by "
                       "replying. Nothing was done.", settings)
    failure = authentication_failure(inbound.message)
    if failure:
        return _refuse(session, inbound, sender_user, proposal, "authentication_failed",
                       f"Your message failed the receiving server's sender checks ({failure}), "
                       "so it could not be trusted. Nothing was done; please use the link in "
                       "the email or the website.", settings)
    wanted = command(reply_text(inbound.message))
    if found is not None and wanted.trigger is None:
        return _refuse(session, inbound, sender_user, proposal, "not_understood", HELP,
                       settings)
    if wanted.trigger == "return" and wanted.comment is None:
        return _refuse(session, inbound, sender_user, proposal, "comment_missing", RETURN_HELP,
                       settings)
    return _act(session, inbound, token, wanted, sender_user, settings)


def _act(session: Session, inbound: Inbound, token: str, wanted: Command,
         sender_user: User | None, settings: Settings) -> Received:
    answered: list[bool] = []

    def answer(session: Session, refusal: Refused | None, ready: Preview | None) -> None:
        _mark(session, inbound, "done" if refusal is None else "refused")
        if refusal is not None:
            answered.append(_answer(session, sender_user, inbound, refusal.proposal, "refused",
                                    refusal.message, settings))
        elif ready is not None:
            did = action_tokens.DONE[ready.trigger]
            stage = ready.to_state.replace("_", " ")
            text = f"Done: you {did} \"{ready.proposal.title}\". It is now {stage}."
            if ready.trigger != "return":
                text = f"Done: you {did} \"{ready.proposal.title}\". It moves on to {stage}."
            answered.append(_answer(session, sender_user, inbound, ready.proposal, "done", text,
                                    settings))

    try:
        action_tokens.use(
            session, token, wanted.trigger or "", via=VIA, settings=settings,
            comment=wanted.comment,
            proposal_ids=thread_proposals(inbound.message) or None,
            audit_detail=_detail(inbound), on_outcome=answer,
        )
    except Refused as refusal:
        return Received("refused", refusal.reason, any(answered))
    return Received("done", wanted.trigger or "", any(answered))


def _detail(inbound: Inbound) -> dict[str, Any]:
    return {"message_id": inbound.message_id, "from": inbound.sender}


def _active_user(session: Session, email: str) -> User | None:
    if not email:
        return None
    user = session.exec(select(User).where(User.email == email)).first()
    return user if user is not None and user.is_active else None


def _mark(session: Session, inbound: Inbound, outcome: str) -> None:
    session.execute(update(InboundMessage).where(
        col(InboundMessage.sender) == inbound.sender,
        col(InboundMessage.message_id) == inbound.message_id,
        col(InboundMessage.outcome) == "received").values(outcome=outcome))


def _audit(session: Session, inbound: Inbound, user: User | None, proposal: Proposal | None,
           reason: str, message: str) -> None:
    audit.append(
        session, actor=user, role=None, channel=VIA, action="email_action", outcome="refused",
        proposal_id=proposal.id if proposal else None,
        version=proposal.version if proposal else None,
        from_state=proposal.state if proposal else None,
        detail={"reason": reason, "message": message, **_detail(inbound)},
    )


def _drop(session: Session, inbound: Inbound, user: User | None, reason: str, message: str
          ) -> Received:
    """Audit and drop, without an answer."""
    _audit(session, inbound, user, None, reason, message)
    _mark(session, inbound, reason)
    session.commit()
    return Received("dropped", reason)


def _refuse(session: Session, inbound: Inbound, user: User | None, proposal: Proposal | None,
            reason: str, message: str, settings: Settings) -> Received:
    """Audit, and answer the sender if they are one of our users."""
    _audit(session, inbound, user, proposal, reason, message)
    _mark(session, inbound, reason)
    answered = _answer(session, user, inbound, proposal, "help" if reason in (
        "not_understood", "comment_missing") else "refused", message, settings)
    session.commit()
    return Received("help" if reason in ("not_understood", "comment_missing") else "refused",
                    reason, answered)


def _answer(session: Session, user: User | None, inbound: Inbound, proposal: Proposal | None,
            kind: str, text: str, settings: Settings) -> bool:
    """Queue a short answer to a known user (never to a stranger: no backscatter to forged
    senders), from the null sender, marked as an automatic reply."""
    if user is None:
        return False
    headers = {"Auto-Submitted": "auto-replied"}
    if inbound.message_id:
        headers |= {"In-Reply-To": inbound.message_id, "References": inbound.message_id}
    what = {"done": "your email action was done", "help": "your reply was not understood",
            "refused": "your email action was refused"}[kind]
    return bool(enqueue(
        session, event="email_answer", proposal=proposal,
        recipients=[Recipient(email=user.email, name=user.name, user_id=user.id)],
        context={"answer": {"kind": kind, "text": text}}, what=what,
        subject=f"[Micro-credential] {what[0].upper()}{what[1:]}",
        headers=headers, envelope_sender="", settings=settings,
    ))


# --- the webhook's secret --------------------------------------------------------------------


def secret_matches(settings: Settings, given: str | None) -> bool:
    """Compare in constant time, so the secret cannot be guessed a byte at a time."""
    if settings.inbound_secret is None or given is None:
        return False
    expected = settings.inbound_secret.get_secret_value().encode()
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected)


def record_bad_secret(engine: Engine, raw: bytes) -> None:
    """Audit a webhook call with a wrong or missing secret; its message is not read further."""
    headers = BytesHeaderParser(policy=default).parsebytes(raw[:65536])
    sender = parseaddr(str(headers.get("From", "")))[1].strip().lower()[:254]
    message_id = " ".join(str(headers.get("Message-ID", "")).split())[:255]
    with write_session(engine) as session:
        audit.append(session, actor=None, role=None, channel=VIA, action="email_action",
                     outcome="refused",
                     detail={"reason": "bad_inbound_secret",
                             "message": "wrong or missing X-Inbound-Secret",
                             "message_id": message_id, "from": sender})
        session.commit()
