"""What an inbound message must pass before its words are read: the webhook's secret, the
rate limit, robots, the reply address and the receiving server's sender checks."""

import hmac
import re
from datetime import timedelta
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import getaddresses, parseaddr

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from notifications.inbound.models import InboundMessage
from notifications.inbound.parse import Inbound
from plumbing.database import write_session
from plumbing.settings import Settings
from workflow import audit
from workflow.audit import Channel
from workflow.fields import utcnow

VIA = Channel.EMAIL_REPLY.value


AUTOMATIC_PRECEDENCE = {"bulk", "auto_reply", "junk", "list"}


REPLY_ADDRESS = re.compile(r"reply\+([a-z2-7]{32})@([a-z0-9.-]+)", re.I)


THREAD_IDS = re.compile(r"<(?:proposal-|p)(\d+)\.")


AUTH_FAILURE = re.compile(r"\b(dmarc|dkim|spf)\s*=\s*(fail|permerror)\b", re.I)


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
