"""What an inbound message must pass before its words are read: the webhook's secret, the
rate limits, robots, the reply address and the receiving server's sender checks
(Authentication-Results, RFC 8601, read with `authres`)."""

import hmac
import re
from datetime import timedelta
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

import authres
import authres.core
from sqlalchemy import func
from sqlmodel import Session, col, select

from notifications.inbound.models import InboundMessage
from notifications.inbound.parse import Inbound
from plumbing.settings import Settings
from workflow.audit import Channel
from workflow.fields import utcnow

VIA = Channel.EMAIL_REPLY.value


AUTOMATIC_PRECEDENCE = {"bulk", "auto_reply", "junk", "list"}


REPLY_ADDRESS = re.compile(r"reply\+([a-z2-7]{32})@([a-z0-9.-]+)", re.I)


THREAD_IDS = re.compile(r"<(?:proposal-|p)(\d+)\.")


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


def trusted_ids(settings: Settings) -> frozenset[str]:
    configured = {i.strip().lower() for i in settings.inbound_authserv_id.split(",") if i.strip()}
    return frozenset(configured or {settings.reply_domain.lower()})


def trusted_results(message: EmailMessage, settings: Settings
                    ) -> authres.AuthenticationResultsHeader | None:
    """The topmost Authentication-Results a trusted server wrote (RFC 8601: its own header is
    added above the others, and a sender's forgery of it is removed on the way in)."""
    trusted = trusted_ids(settings)
    for header in message.get_all("Authentication-Results", []) or []:
        value = " ".join(str(header).split())
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(value)
        except (authres.core.AuthResError, ValueError, IndexError):
            continue  # not a header a server wrote
        if (parsed.authserv_id or "").lower() in trusted:
            return parsed
    return None


def _domain(value: str | None) -> str:
    return (value or "").strip().strip("<>").rpartition("@")[2].lower().rstrip(".")


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment: the same domain, or one a subdomain of the other (never a bare
    top-level domain)."""
    if not domain or not from_domain or "." not in domain or "." not in from_domain:
        return False
    return (domain == from_domain or domain.endswith("." + from_domain)
            or from_domain.endswith("." + domain))


def _property(result: Any, kind: str, name: str) -> str | None:
    for item in result.properties:
        if item.type.lower() == kind and item.name.lower() == name:
            return str(item.value)
    return None


def sender_unverified(inbound: Inbound, settings: Settings) -> tuple[str, str] | None:
    """Why the sender cannot be believed (reason, what the results said), or None when a
    trusted server's results say DMARC passed, or SPF and DKIM passed aligned with From.

    With MICROCRED_INBOUND_REQUIRE_AUTH off only a reported failure refuses a message."""
    results = trusted_results(inbound.message, settings)
    if results is None:
        if not settings.inbound_require_auth:
            return None
        return ("authentication_missing",
                "no Authentication-Results from " + ", ".join(sorted(trusted_ids(settings))))
    from_domain = _domain(inbound.sender)
    passed: dict[str, bool] = {"dmarc": False, "spf": False, "dkim": False}
    seen = []
    for result in results.results:
        method, outcome = result.method.lower(), (result.result or "").lower()
        if method not in passed:
            continue
        seen.append(f"{method}={outcome}")
        if outcome != "pass":
            continue
        if method == "dmarc":
            claimed = _property(result, "header", "from")
            passed["dmarc"] = claimed is None or _aligned(_domain(claimed), from_domain)
        elif method == "spf":
            passed["spf"] = passed["spf"] or _aligned(
                _domain(_property(result, "smtp", "mailfrom")), from_domain)
        else:
            signer = _property(result, "header", "d") or _domain(_property(result, "header", "i"))
            passed["dkim"] = passed["dkim"] or _aligned(_domain(signer), from_domain)
    said = ", ".join(seen) or "no DMARC, DKIM or SPF result"
    if passed["dmarc"] or (passed["spf"] and passed["dkim"]):
        return None
    failed = any(s.endswith(("=fail", "=permerror")) for s in seen)
    if settings.inbound_require_auth or failed:
        return "authentication_failed", said
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


def admit(session: Session, inbound: Inbound, source: str, token_hash: str | None,
          settings: Settings) -> str | None:
    """Record the message (its own short transaction, so the limits hold across processes) and
    answer None, or why it is over a limit: its connecting address, or its reply token. Never a
    header the sender writes: mail forged "from" a lead must not mute the lead."""
    since = utcnow() - timedelta(seconds=settings.inbound_rate_window_seconds)
    recent = select(func.count()).select_from(InboundMessage).where(
        col(InboundMessage.received_at) > since)
    if session.exec(recent.where(InboundMessage.peer == source)).one() \
            >= settings.inbound_address_rate_limit:
        session.rollback()
        return "address_rate_limited"
    if token_hash is not None and session.exec(recent.where(
            InboundMessage.token_hash == token_hash)).one() >= settings.inbound_rate_limit:
        session.rollback()
        return "rate_limited"
    session.add(InboundMessage(sender=inbound.sender, message_id=inbound.message_id,
                               outcome="received", token_hash=token_hash, peer=source))
    session.commit()
    return None
