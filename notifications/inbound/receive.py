"""Replies by email: `approve`, or `return` and a comment, sent to `reply+<token>@...`.

Every message is checked before its words are read: its size and shape (parts, nesting), the
rate limits per connecting address and per reply token (counted in the database, so they hold
across processes), automatic replies (dropped without an answer, so two robots never loop), the
token, the From address (the token's own user, so a forwarded email cannot be answered by its
new reader), and the receiving server's `Authentication-Results`: with
MICROCRED_INBOUND_REQUIRE_AUTH (the default) a trusted server must vouch that DMARC passed, or
SPF and DKIM passed aligned with From. Then quoted text, signatures and HTML are removed, so a
keyword inside the quoted original never acts. The sender gets a short answer, sent as
`Auto-Submitted: auto-replied` from the null sender `<>`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from notifications import words
from notifications.about import proposal_facts, thread_root
from notifications.compose import enqueue
from notifications.inbound import action_tokens, refusals
from notifications.inbound.action_tokens import Preview, Refused
from notifications.inbound.models import InboundMessage
from notifications.inbound.parse import Inbound, Unreadable, parse, reply_text
from notifications.inbound.policy import (
    VIA,
    admit,
    automatic,
    sender_unverified,
    thread_proposals,
    tokens_in,
)
from notifications.inbound.verbs import Command, command, words_that_work
from notifications.recipients import Recipient
from notifications.rendering import mail_domain
from plumbing.database import write_session
from plumbing.settings import Settings
from workflow import audit
from workflow.accounts.models import User
from workflow.proposals.models import Proposal


def not_understood(wanted: Command, allowed: list[str]) -> str:
    """The "not understood" answer: what we read, why it was not an action, the words that
    work for what this person may do."""
    read = f'We read the first line of your reply as "{wanted.read}"' if wanted.read else (
        "We found nothing written above the quoted email in your reply")
    why = f", and {wanted.why}" if wanted.read and wanted.why else ""
    return "\n".join([f"{read}{why}, so nothing was done.",
                       "Reply again with one of these words at the start of the first line:",
                       *words_that_work(allowed),
                       "Or use the buttons in the original email."])


def comment_missing(trigger: str) -> str:
    return (f'To {trigger} the proposal, write your comment for the submitter after the word, '
            f'for example "{trigger}: please add a third learning outcome." Nothing was done.')


@dataclass(frozen=True)
class Received:
    """What became of an inbound message: done, refused, help or dropped, and why."""

    outcome: str
    reason: str
    answered: bool = False


def receive(engine: Engine, raw: bytes, settings: Settings, *,
            envelope_from: str | None = None, envelope_to: Sequence[str] = (),
            peer: str | None = None) -> Received:
    """Check and act on one inbound message from `peer` (the connecting address).

    A message tied to a real reply token leaves one audit entry; what nobody authenticated (no
    token, an unknown one, over a limit, unreadable) is counted per source and window, with one
    audit entry per window (notifications/inbound/refusals.py)."""
    source = refusals.source_of(peer)
    try:
        inbound = parse(raw, envelope_from, envelope_to)
    except Unreadable as error:
        with write_session(engine) as session:
            refusals.refuse_stranger(session, source=source, kind="unreadable",
                                     message=str(error), settings=settings)
        return Received("refused", "unreadable")
    tokens = tokens_in(inbound, settings)
    token_hash = action_tokens.hash_token(tokens[0]) if tokens else None
    with write_session(engine) as session:
        limited = admit(session, inbound, source, token_hash, settings)
    with write_session(engine) as session:
        if limited == "address_rate_limited":
            _stranger(session, inbound, source, limited,
                      f"more than {settings.inbound_address_rate_limit} messages from this "
                      f"address within {settings.inbound_rate_window_seconds:g} seconds",
                      settings)
            return Received("deferred", limited)
        if limited == "rate_limited":
            _stranger(session, inbound, source, limited,
                      f"more than {settings.inbound_rate_limit} messages to this reply address "
                      f"within {settings.inbound_rate_window_seconds:g} seconds", settings)
            return Received("dropped", limited)
        return _handle(session, inbound, tokens, source, settings)


def _handle(session: Session, inbound: Inbound, tokens: list[str], source: str,
            settings: Settings) -> Received:
    sender_user = _active_user(session, inbound.sender)
    robot = automatic(inbound)
    if robot:
        return _drop(session, inbound, sender_user, "automatic", f"automatic message ({robot})")
    if not tokens:
        _stranger(session, inbound, source, "no_token", "not addressed to a reply address",
                  settings)
        return Received("dropped", "no_token")
    token = tokens[0]
    found = action_tokens.find(session, token)
    if found is None:
        _stranger(session, inbound, source, "unknown", "addressed to no reply address of ours",
                  settings)
        return Received("refused", "unknown")
    owner = session.get(User, found.user_id)
    proposal = session.get(Proposal, found.proposal_id)
    if owner is None or owner.email.lower() != inbound.sender:
        return _refuse(session, inbound, sender_user, proposal, "other_sender",
                       "This email was sent to someone else, and only they can act on it by "
                       "replying. Nothing was done.", settings)
    unverified = sender_unverified(inbound, settings)
    if unverified:
        reason, said = unverified
        return _refuse(session, inbound, sender_user, proposal, reason,
                       f"Your message could not be shown to come from you: the receiving "
                       f"server's sender checks did not pass ({said}). Nothing was done; please "
                       "use the link in the email or the website.", settings)
    allowed = list(found.triggers)
    wanted = command(reply_text(inbound.message, owner.name), allowed)
    if wanted.trigger is None:
        return _refuse(session, inbound, sender_user, proposal, "not_understood",
                       not_understood(wanted, allowed), settings)
    if wanted.trigger != "approve" and wanted.comment is None:
        return _refuse(session, inbound, sender_user, proposal, "comment_missing",
                       comment_missing(wanted.trigger), settings)
    return _act(session, inbound, token, wanted, sender_user, settings)


def _stranger(session: Session, inbound: Inbound, source: str, reason: str, message: str,
              settings: Settings) -> None:
    """A refusal nobody authenticated: counted, audited once per source and window."""
    _mark(session, inbound, reason)
    refusals.refuse_stranger(session, source=source, kind=reason, message=message,
                             settings=settings, detail=_detail(inbound))


def _act(session: Session, inbound: Inbound, token: str, wanted: Command,
         sender_user: User | None, settings: Settings) -> Received:
    answered: list[bool] = []

    def answer(session: Session, refusal: Refused | None, ready: Preview | None) -> None:
        _mark(session, inbound, "done" if refusal is None else "refused")
        if refusal is not None:
            message = refusal.message
            zone = words.zone_of(sender_user, settings)
            if refusal.reason in ("used", "moved_on") and refusal.proposal is not None:
                # A second reply to a used address: say where the proposal is and who moved it.
                message = action_tokens.moved_on_message(
                    session, refusal.proposal, refusal.token.version if refusal.token else 0,
                    zone=zone)
            elif refusal.reason == "expired" and refusal.token is not None:
                message = (f"This email's reply address expired on "
                           f"{words.moment(refusal.token.expires_at, zone)}. Nothing was done; "
                           "open the proposal on the website to act on it.")
            answered.append(_answer(session, sender_user, inbound, refusal.proposal, "refused",
                                    message, settings))
        elif ready is not None:
            answered.append(_answer(session, sender_user, inbound, ready.proposal, "done",
                                    done_text(ready, wanted.comment), settings,
                                    stage=ready.to_state))
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


def done_text(ready: Preview, comment: str | None) -> str:
    """The "done" answer: what was done, the stage it is in now, and the comment as stored."""
    did = action_tokens.DONE[ready.trigger]
    text = f'Done: you {did} "{ready.proposal.title}". It is now in {words.stage(ready.to_state)}.'
    if comment and ready.trigger != "approve":
        text += f"\nYour comment, as the submitter will see it:\n{comment}"
    return text


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
            kind: str, text: str, settings: Settings, stage: str | None = None) -> bool:
    """Queue a short answer to a known user (never to a stranger: no backscatter to forged
    senders), from the null sender, marked as an automatic reply."""
    if user is None:
        return False
    headers = {"Auto-Submitted": "auto-replied"}
    # The answer threads under the reply, and with it into the proposal's conversation.
    root = thread_root(proposal, mail_domain(settings.mail_from)) if proposal else ""
    if inbound.message_id:
        headers |= {"In-Reply-To": inbound.message_id,
                    "References": f"{root} {inbound.message_id}".strip()}
    what = {"done": "Done", "help": "Reply not understood", "refused": "Not done"}[kind]
    context: dict[str, Any] = {"answer": {"kind": kind, "text": text}}
    if proposal is not None and stage is not None:
        # Written in the transaction that moves it: show the stage it is moving to.
        context["proposal"] = {**proposal_facts(session, proposal), "stage": words.stage(stage)}
    return bool(enqueue(
        session, event="email_answer", proposal=proposal,
        recipients=[Recipient(email=user.email, name=user.name, user_id=user.id)],
        context=context, what=what, subject=what,
        headers=headers, envelope_sender="", settings=settings,
    ))
