"""What every email about a proposal says of it: its facts, its links, its thread, and where
a return sent it back from, worked out once per event."""

import secrets
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from notifications import badge_image, words
from notifications.rendering import mail_domain
from plumbing.settings import Settings
from workflow.accounts.models import Department, User
from workflow.audit import AuditEntry
from workflow.credentials.models import BadgeDesign, Credential
from workflow.fields import as_utc
from workflow.machine import State
from workflow.proposals.models import Proposal

AsOf = tuple[State, int]  # a proposal's state and version right after an event



def links(proposal: Proposal | None, settings: Settings,
          credential_id: str | None = None) -> dict[str, str]:
    base = settings.base_url.rstrip("/")
    if proposal is None:
        return {"home": base, "settings": f"{base}/settings"}
    page = f"{base}/proposals/{proposal.id}"
    return {
        "home": base,
        "settings": f"{base}/settings",
        "proposal": page,
        "edit": f"{page}/edit",
        "design": f"{page}/design",
        "review": f"{page}/review",
        "reviewers": f"{page}#reviewers",
        "credential": f"{base}/credentials/{credential_id or proposal.id}",
    }


def published_id(session: Session, proposal: Proposal | None) -> str | None:
    """The public id of the proposal's published credential, once there is one."""
    if proposal is None or proposal.state not in (State.PUBLISHED, State.RETIRED):
        return None
    return session.exec(select(Credential.public_id)
                        .where(Credential.proposal_id == proposal.id)).first()


def proposal_facts(session: Session, proposal: Proposal, owner: User | None = None,
                   state: str | None = None) -> dict[str, Any]:
    """The key facts every email about a proposal shows (at `state`, its current one unless
    an event says which)."""
    state = state or proposal.state
    department = session.get(Department, proposal.department_id)
    owner = owner or session.get(User, proposal.owner_id)
    return {
        "id": proposal.id,
        "title": proposal.title,
        "department": f"{department.name} ({department.code})" if department else "",
        "owner": f"{owner.name} <{owner.email}>" if owner else "",
        "level": words.level(proposal.level),
        "credit_bearing": proposal.credit_bearing,
        "credits": f"{proposal.credits:g}" if proposal.credits is not None else "not given",
        "hours": f"{proposal.hours:g}" if proposal.hours is not None else "not given",
        "modality": words.modality(proposal.modality),
        "stage": words.stage(state),
        "state": state,
        "returned_from": proposal.returned_from,
        "alt_text": None,
        "badge_image": None,
        "returned_from_words": words.stage(proposal.returned_from or "department_review"),
    }


def thread_root(proposal: Proposal, domain: str) -> str:
    """A stable Message-ID every email about this proposal replies to."""
    created = int(as_utc(proposal.created_at).timestamp())
    return f"<proposal-{proposal.id}.{created}@{domain}>"


def new_message_id(proposal: Proposal | None, domain: str) -> str:
    about = f"p{proposal.id}" if proposal is not None else "mc"
    return f"<{about}.{secrets.token_hex(12)}@{domain}>"


@dataclass(frozen=True)
class About:
    """What every message of one event shares about its proposal, worked out once per event."""

    proposal: Proposal | None
    domain: str
    thread: str | None
    facts: dict[str, Any] | None
    links: dict[str, str]
    current: bool = True


def about_proposal(session: Session, proposal: Proposal | None, settings: Settings,
                   owner: User | None = None, as_of: AsOf | None = None) -> About:
    domain = mail_domain(settings.mail_from)
    if proposal is None:
        return About(None, domain, None, None, links(None, settings))
    state, version = as_of or (State(proposal.state), proposal.version)
    facts = proposal_facts(session, proposal, owner, state.value)
    design = session.exec(select(BadgeDesign.alt_text, BadgeDesign.sha256)
                          .where(BadgeDesign.proposal_id == proposal.id)).first()
    if design is not None:
        facts["alt_text"] = design[0]
        facts["badge_image"] = badge_image.url(settings, proposal.id or 0, design[1])
    return About(proposal, domain, thread_root(proposal, domain), facts,
                 links(proposal, settings, published_id(session, proposal)),
                 current=version == proposal.version)


def returned_from(session: Session, proposal: Proposal, version: int | None) -> str:
    """The stage the proposal's latest return (up to `version`) sent it back from."""
    query = select(AuditEntry.from_state).where(
        AuditEntry.proposal_id == proposal.id, AuditEntry.action == "return",
        AuditEntry.outcome == "accepted")
    if version is not None:
        query = query.where(col(AuditEntry.version) <= version)
    found = session.exec(query.order_by(col(AuditEntry.seq).desc()).limit(1)).first()
    return found or proposal.returned_from or State.DEPARTMENT_REVIEW.value
