"""Action tokens: approve or return a proposal from the email itself.

A token is a capability: 160 random bits, kept only as its SHA-256, bound to one user, one
proposal, the proposal's version when the email was written, and the triggers that user could
fire then. It expires after MICROCRED_ACTION_TOKEN_DAYS, works once, and dies as soon as the
proposal moves on. At use the user's permission is checked again and the action goes through
the door (`workflow.service.apply`), like any other.
"""

import base64
import hashlib
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from notifications import words
from notifications.inbound.models import ActionToken
from notifications.recipients import Envelope
from plumbing.settings import Settings
from workflow import audit, service
from workflow.access import grants_of
from workflow.accounts.models import User
from workflow.audit import AuditEntry
from workflow.errors import Conflict, Forbidden, NotFound, Unprocessable, WorkflowError
from workflow.fields import as_utc, utcnow
from workflow.machine import State
from workflow.proposals.models import AvailableAction, Proposal

# What an email offers (reject only to those who may reject); the rest stays on the website.
EMAIL_TRIGGERS = ("approve", "return", "reject")
LABELS = {"approve": "Approve", "return": "Return", "reject": "Reject"}
DONE = {
    "approve": "approved", "return": "returned", "reject": "rejected", "submit": "submitted",
    "resubmit": "resubmitted", "withdraw": "withdrew", "retire": "retired",
}
# Lower-case base32: some mail systems lower-case the local part of `reply+<token>@...`.
TOKEN_PATTERN = re.compile(r"^[a-z2-7]{32}$")
TOKEN_BYTES = 20


def new_token() -> str:
    return base64.b32encode(secrets.token_bytes(TOKEN_BYTES)).decode("ascii").lower()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.strip().lower().encode("ascii", "replace")).hexdigest()


def reply_address(token: str, settings: Settings) -> str:
    return f"reply+{token}@{settings.reply_domain}"


def when(moment: Any, zone: ZoneInfo | None = None) -> str:
    """A time for a page (UTC), or for an email in its reader's zone, the zone named."""
    if zone is not None:
        return words.moment(moment, zone)
    return as_utc(moment).strftime("%Y-%m-%d at %H:%M UTC")


def issue(
    session: Session, *, user_id: int, proposal: Proposal, triggers: list[str], event: str,
    settings: Settings,
) -> str:
    """Store a new token's hash in the caller's transaction and answer the token."""
    token = new_token()
    now = utcnow()
    session.add(ActionToken(
        token_hash=hash_token(token), user_id=user_id, proposal_id=proposal.id or 0,
        version=proposal.version, triggers=triggers, event=event, created_at=now,
        expires_at=now + timedelta(days=settings.action_token_days)))
    return token


def email_actions(session: Session, proposal: Proposal, user: User) -> list[AvailableAction]:
    return [a for a in service.available_triggers(session, proposal, grants_of(session, user))
            if a.trigger in EMAIL_TRIGGERS]


@dataclass(frozen=True)
class Offer:
    """What an "action needed" email offers its recipient: buttons and a reply address."""

    buttons: list[dict[str, str]]  # {"label", "url"}
    reply: dict[str, Any]  # {"address", "approve": bool, "return": bool}


def offer(session: Session, envelope: Envelope, settings: Settings) -> Offer | None:
    """Issue the recipient a token for what they may do now, or None when they may do nothing
    from this email (not an "action needed" email, a proposal that moved on, no account)."""
    proposal, recipient = envelope.proposal, envelope.recipient
    if (not envelope.action_needed or not envelope.current or proposal is None
            or recipient.user_id is None):
        return None
    user = session.get(User, recipient.user_id)
    if user is None or not user.is_active:
        return None
    offered = email_actions(session, proposal, user)
    if not offered:
        return None
    token = issue(session, user_id=user.id or 0, proposal=proposal,
                  triggers=[a.trigger for a in offered], event=envelope.event, settings=settings)
    base = settings.base_url.rstrip("/")
    # An approval whose requirement is unmet (rubric not scored yet) gets no button; the token
    # still allows it, so the link works once the requirement is met.
    shown = [a for a in offered if a.ready or a.comment_required]
    return Offer(
        buttons=[{"label": LABELS[a.trigger], "url": f"{base}/actions/{token}?do={a.trigger}"}
                 for a in shown],
        reply={"address": reply_address(token, settings),
               "approve": any(a.trigger == "approve" for a in shown),
               "return": any(a.trigger == "return" for a in shown),
               "reject": any(a.trigger == "reject" for a in shown)},
    )


# --- using a token ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """What a real token is bound to, for the refusal's audit entry and answer."""

    token: ActionToken
    proposal: Proposal
    user: User


class Refused(Exception):
    """Why a token was not honoured, in plain words for the page or the answer email."""

    def __init__(self, reason: str, message: str, status: int = 409,
                 bound: Bound | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status
        self.token = bound.token if bound else None
        self.proposal = bound.proposal if bound else None
        self.user = bound.user if bound else None


@dataclass
class Preview:
    """What a link would do, for its confirmation page."""

    token: ActionToken
    user: User
    proposal: Proposal
    trigger: str
    to_state: str
    comment_required: bool
    facts: dict[str, Any] = field(default_factory=dict)


def find(session: Session, token: str) -> ActionToken | None:
    token = token.strip().lower()
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    return session.exec(
        select(ActionToken).where(ActionToken.token_hash == hash_token(token))).first()


def moved_on_message(session: Session, proposal: Proposal, since_version: int,
                     zone: ZoneInfo | None = None) -> str:
    """Who moved the proposal on after the token was written, and when, in plain words."""
    last = session.exec(
        select(AuditEntry).where(AuditEntry.proposal_id == proposal.id,
                                 AuditEntry.outcome == "accepted",
                                 col(AuditEntry.to_state).is_not(None),
                                 col(AuditEntry.version) > since_version)
        .order_by(col(AuditEntry.seq).desc()).limit(1)
    ).first()
    stage = words.stage(State(proposal.state).value)
    if last is None:
        return f"This proposal has changed since this email was sent; it is now in {stage}."
    actor = session.get(User, last.actor_id) if last.actor_id is not None else None
    who = f"{actor.name} ({actor.email})" if actor else (last.actor_email or "someone")
    did = DONE.get(last.action, last.action)
    if last.action == "withdraw":
        return (f"This proposal was already withdrawn by {who} on {when(last.at, zone)}; "
                f"it is now {stage}.")
    return (f"This proposal was already {did} by {who} on {when(last.at, zone)}; it is now "
            f"in {stage}.")


def check(session: Session, token: ActionToken | None, trigger: str) -> Preview:
    """Everything a token must be at use; raise Refused with the reason otherwise."""
    if token is None:
        raise Refused("unknown", "This link is not valid. It may have been mistyped or cut "
                      "short by your mail program; open the proposal on the website instead.",
                      404)
    proposal = session.get(Proposal, token.proposal_id)
    user = session.get(User, token.user_id)
    assert proposal is not None and user is not None
    bound = Bound(token, proposal, user)
    if token.used_at is not None:
        raise Refused("used", f"This link was already used on {when(token.used_at)}; each "
                      "email link works once.", 410, bound)
    if as_utc(token.expires_at) <= utcnow():
        raise Refused("expired", f"This link expired on {when(token.expires_at)}. Open the "
                      "proposal on the website to act on it.", 410, bound)
    if proposal.version != token.version:
        raise Refused("moved_on", moved_on_message(session, proposal, token.version), 409,
                      bound)
    if trigger not in token.triggers:
        raise Refused("not_offered", f"This email does not let you {trigger} the proposal.",
                      403, bound)
    if not user.is_active:
        raise Refused("not_allowed", "Your account is no longer active.", 403, bound)
    allowed = {a.trigger: a for a in email_actions(session, proposal, user)}
    if trigger not in allowed:
        raise Refused("not_allowed", f"You may no longer {trigger} this proposal; your roles "
                      "have changed since this email was sent.", 403, bound)
    action = allowed[trigger]
    return Preview(token=token, user=user, proposal=proposal, trigger=trigger,
                   to_state=action.to_state, comment_required=action.comment_required,
                   facts={"unmet": action.unmet})


def preview(session: Session, token: str, trigger: str) -> Preview:
    """What following the link would do; reads only."""
    return check(session, find(session, token), trigger)


OnOutcome = Callable[[Session, "Refused | None", Preview | None], None]


def use(
    session: Session,
    token: str,
    trigger: str,
    *,
    via: str,
    settings: Settings,
    comment: str | None = None,
    proposal_ids: frozenset[int] | None = None,
    audit_detail: Mapping[str, Any] | None = None,
    on_outcome: OnOutcome | None = None,
) -> Proposal:
    """Fire `trigger` with the token: check, mark used, audit and act in one transaction.

    `proposal_ids`, when given, are the proposals the caller meant (the page's form, or the
    thread a reply answers); a token for any other proposal is refused.
    A refusal commits only its own audit entry (and what `on_outcome` adds, such as an answer
    email) and is raised as Refused. The token is never written anywhere; the audit names its
    row id.
    """
    detail = dict(audit_detail or {})
    found = find(session, token)
    try:
        if found is not None:
            # The proposal first, as the door locks it, so no two writers wait on each other.
            session.exec(select(Proposal).where(Proposal.id == found.proposal_id)
                         .with_for_update().execution_options(populate_existing=True)).one()
            found = session.exec(select(ActionToken).where(ActionToken.id == found.id)
                                 .with_for_update()
                                 .execution_options(populate_existing=True)).one()
        ready = check(session, found, trigger)
        if proposal_ids and ready.proposal.id not in proposal_ids:
            raise Refused("other_proposal", "This action belongs to another proposal than the "
                          "one you answered; nothing was done.", 409, _bound(ready))
        comment = comment.strip() if comment and comment.strip() else None
        if ready.comment_required and comment is None:
            raise Refused("comment_missing", "A return needs a comment for the submitter: say "
                          "what should change.", 422, _bound(ready))
        if ready.facts["unmet"]:
            raise Refused("requirements", "This cannot be done yet: "
                          + "; ".join(ready.facts["unmet"]) + ".", 422, _bound(ready))
    except Refused as refusal:
        if refusal.token is None:
            # No token at all: nobody to answer; the caller counts it (inbound/refusals.py).
            session.rollback()
            raise
        record_refusal(session, refusal, via=via, trigger=trigger, detail=detail,
                       on_outcome=on_outcome)
        raise

    now = utcnow()
    ready.token.used_at = now
    ready.token.used_via = via
    session.add(ready.token)
    audit.append(
        session, actor=ready.user, role=None, channel=via, action="email_action",
        proposal_id=ready.proposal.id, version=ready.proposal.version,
        from_state=ready.proposal.state,
        detail={"trigger": trigger, "token_id": ready.token.id, **detail},
    )
    if on_outcome is not None:
        on_outcome(session, None, ready)
    try:
        return service.apply(session, ready.proposal.id or 0, trigger, ready.user, via,
                             settings=settings, comment=comment, version=ready.token.version)
    except WorkflowError as error:
        # The door rolled back (the token stays unused) and committed its own refusal entry.
        door_refusal = _from_door(session, error, ready)
        record_refusal(session, door_refusal, via=via, trigger=trigger, detail=detail,
                       on_outcome=on_outcome)
        raise door_refusal from error


def _bound(ready: Preview) -> Bound:
    return Bound(ready.token, ready.proposal, ready.user)


def _from_door(session: Session, error: WorkflowError, ready: Preview) -> Refused:
    session.rollback()
    proposal = session.get(Proposal, ready.proposal.id)
    assert proposal is not None
    session.refresh(proposal)
    bound = Bound(ready.token, proposal, ready.user)
    if isinstance(error, Conflict):
        return Refused("moved_on", moved_on_message(session, proposal, ready.token.version),
                       409, bound)
    status = {Forbidden: 403, NotFound: 404, Unprocessable: 422}.get(type(error), 409)
    return Refused("refused", f"This could not be done: {_plain(error.detail)}.", status,
                   bound)


def _plain(detail: object) -> str:
    if isinstance(detail, list):
        return "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item)
                         for item in detail)
    return str(detail)


def record_refusal(
    session: Session, refusal: Refused, *, via: str, trigger: str | None,
    detail: Mapping[str, Any], on_outcome: OnOutcome | None = None,
) -> None:
    """Undo what was begun; commit one refused `email_action` entry with the reason."""
    session.rollback()
    proposal = refusal.proposal
    audit.append(
        session, actor=refusal.user, role=None, channel=via, action="email_action",
        outcome="refused", proposal_id=proposal.id if proposal else None,
        version=proposal.version if proposal else None,
        from_state=proposal.state if proposal else None,
        detail={"reason": refusal.reason, "message": refusal.message, "trigger": trigger,
                "token_id": refusal.token.id if refusal.token else None, **detail},
    )
    if on_outcome is not None:
        on_outcome(session, refusal, None)
    session.commit()


def consequence(ready: Preview) -> str:
    """What pressing the button will do, in plain words."""
    stage = ready.to_state.replace("_", " ")
    if ready.trigger == "return":
        return ("Returning sends the proposal back to its submitter with your comment; it "
                "comes back to you when they resubmit it.")
    if ready.trigger == "reject":
        return ("Rejecting ends the proposal for good, with your comment to its submitter; "
                "it cannot be resubmitted.")
    return f"Approving signs for it in your name and moves it on to {stage}."


def problem(ready: Preview) -> str | None:
    if ready.facts["unmet"]:
        return "This cannot be approved yet: " + "; ".join(ready.facts["unmet"]) + "."
    return None
