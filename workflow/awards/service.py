"""Awarding a published credential to learners, and revoking an award: the door for both.

Each award is an Open Badges 3.0 `OpenBadgeCredential` whose subject carries the credential's
Achievement, signed once when it is made and kept exactly as signed. Its audit entry and the
event that emails the learner commit with it.
"""

import hashlib
import json
import secrets
from calendar import monthrange
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from plumbing.settings import Settings
from workflow import audit, events
from workflow.access import Grants
from workflow.accounts.models import Department, Role, User
from workflow.audit import Channel
from workflow.awards import status_list
from workflow.awards.models import Award, AwardPublic, Recipient, SigningKey
from workflow.awards.signing import (
    OB3_CONTEXT_URL,
    VC2_CONTEXT_URL,
    Signer,
    iso,
    sign_document,
    signer,
    verify_document,
)
from workflow.credentials.catalog import by_public_id
from workflow.credentials.models import Credential, CredentialStatus
from workflow.credentials.publishing import credential_url
from workflow.errors import Conflict, Forbidden, NotFound, Unprocessable
from workflow.fields import as_utc, utcnow
from workflow.machine import State
from workflow.proposals.models import Proposal


def award_url(settings: Settings, public_id: str) -> str:
    return f"{settings.base_url.rstrip('/')}/awards/{public_id}"


def document_url(settings: Settings, public_id: str) -> str:
    return f"{settings.base_url.rstrip('/')}/api/awards/{public_id}/credential"


def awarders_problem(session: Session, grants: Grants, credential: Credential) -> str | None:
    """Why this user may not award (or revoke) this credential, or None when they may: the
    leads of its department and the authors of the proposal it was published from."""
    proposal = session.get(Proposal, credential.proposal_id)
    department = session.exec(select(Department).where(
        Department.code == credential.department_code)).first()
    email = grants.user.email.lower()
    if proposal is not None and (proposal.owner_id == grants.user.id
                                 or email in {a.lower() for a in proposal.co_authors}):
        return None
    if department is not None and grants.leads(department.id or 0):
        return None
    return ("only the leads of the credential's department and the authors of its proposal "
            "award it")


def issue(session: Session, public_id: str, recipients: Sequence[Recipient], actor: Grants, *,
          evidence_url: str | None, via: str | Channel, settings: Settings,
          commit: bool = True) -> list[Award]:
    """Award the credential to each recipient: sign, store, audit, and record the event that
    emails each learner; all or nothing. Without `commit`, the caller commits them with its
    own change."""
    credential = by_public_id(session, public_id)
    problem = awarders_problem(session, actor, credential)
    if problem:
        raise Forbidden(problem)
    if credential.status != CredentialStatus.ACTIVE.value:
        raise Conflict(f"only an active credential is awarded; this one is {credential.status}")
    duplicates = {r.email for r in recipients if sum(x.email == r.email for x in recipients) > 1}
    if duplicates:
        raise Unprocessable(f"each learner once per request: {', '.join(sorted(duplicates))}")
    keys = signer(session, settings)
    now = utcnow()
    made = [_award(session, credential, recipient, actor.user, evidence_url, keys, now,
                   settings) for recipient in recipients]
    session.flush()
    audit.append_many(session, now, [{
        "actor_id": actor.user.id, "actor_email": actor.user.email, "role": None,
        "channel": str(via), "action": "award", "proposal_id": credential.proposal_id,
        "detail": {"award": award.public_id, "credential": public_id,
                   "recipient": award.recipient_email},
    } for award in made])
    for award in made:
        events.record(session, events.ProposalEvent(
            events.Event.AWARDED, credential.proposal_id, State.PUBLISHED,
            _version(session, credential), actor_id=actor.user.id, award_id=award.id))
    if commit:
        session.commit()
    return made


def _version(session: Session, credential: Credential) -> int:
    proposal = session.get(Proposal, credential.proposal_id)
    return proposal.version if proposal is not None else 1


def _award(session: Session, credential: Credential, recipient: Recipient, actor: User,
           evidence_url: str | None, keys: Signer, now: datetime, settings: Settings) -> Award:
    public_id = secrets.token_urlsafe(12)
    number, index = status_list.free_place(session)
    months = credential.snapshot.get("expiration_months")
    expires = add_months(now, int(months)) if months else None
    document = credential_document(
        credential, recipient, public_id=public_id, evidence_url=evidence_url,
        issued=now, expires=expires, status=status_list.entry(settings, number, index),
        issuer={"id": keys.did, "type": ["Profile"], "name": settings.issuer_name,
                "url": settings.issuer_url,
                **({"email": settings.issuer_email} if settings.issuer_email else {})},
        settings=settings)
    award = Award(public_id=public_id, credential_id=credential.id or 0,
                  recipient_email=recipient.email, recipient_name=recipient.name,
                  evidence_url=evidence_url, issued_at=now, issued_by_id=actor.id or 0,
                  status_list=number, status_index=index, key_id=keys.key_id,
                  document=signing_document(document, keys, now), expires_at=expires)
    session.add(award)
    session.flush()  # the next award's free place must see this one's
    return award


def signing_document(document: dict[str, Any], keys: Signer, now: datetime) -> dict[str, Any]:
    try:
        return sign_document(document, keys, now)
    except ValueError as error:
        raise Unprocessable(str(error)) from error


def credential_document(credential: Credential, recipient: Recipient, *, public_id: str,
                        evidence_url: str | None, issued: datetime, expires: datetime | None,
                        status: dict[str, Any], issuer: dict[str, Any],
                        settings: Settings) -> dict[str, Any]:
    """The OpenBadgeCredential, unsigned: the Achievement as published (without its own
    @context, which belongs at the top only), the learner's hashed address and name."""
    achievement = {k: v for k, v in credential.achievement.items() if k != "@context"}
    salt = secrets.token_hex(8)
    digest = hashlib.sha256((recipient.email.lower() + salt).encode()).hexdigest()
    document: dict[str, Any] = {
        "@context": [VC2_CONTEXT_URL, OB3_CONTEXT_URL],
        "id": document_url(settings, public_id),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": credential.title,
        "issuer": issuer,
        "validFrom": iso(issued),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {"type": "IdentityObject", "hashed": True, "identityHash": f"sha256${digest}",
                 "identityType": "emailAddress", "salt": salt},
                {"type": "IdentityObject", "hashed": False, "identityHash": recipient.name,
                 "identityType": "name"},
            ],
            "achievement": achievement,
        },
        "credentialStatus": status,
    }
    if expires is not None:
        document["validUntil"] = iso(expires)
    if evidence_url:
        document["evidence"] = [{"id": evidence_url, "type": ["Evidence"]}]
    return document


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later (the month's last day when it has fewer)."""
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month,
                          day=min(moment.day, monthrange(year, month)[1]))


def revoke(session: Session, public_id: str, reason: str, actor: Grants, *,
           via: str | Channel) -> Award:
    """Revoke an award: its status bit is set in the next list served. The awarders and the
    badge office may revoke."""
    award = session.exec(select(Award).where(Award.public_id == public_id)
                         .with_for_update()).first()
    if award is None:
        raise NotFound("no such award")
    credential = session.get(Credential, award.credential_id)
    assert credential is not None
    if not actor.has(Role.COORDINATOR) and awarders_problem(session, actor, credential):
        raise Forbidden("only the badge office and the credential's awarders revoke awards")
    if award.revoked_at is not None:
        raise Conflict(f"this award was already revoked on {as_utc(award.revoked_at):%Y-%m-%d}")
    award.revoked_at = utcnow()
    award.revoked_by_id = actor.user.id
    award.revocation_reason = reason
    session.add(award)
    audit.append(session, actor=actor.user, role=None, channel=str(via), action="revoke_award",
                 proposal_id=credential.proposal_id,
                 detail={"award": public_id, "reason": reason})
    session.commit()
    return award


def by_public(session: Session, public_id: str) -> Award:
    award = session.exec(select(Award).where(Award.public_id == public_id)).first()
    if award is None:
        raise NotFound("no such award")
    return award


def to_public(session: Session, award: Award, settings: Settings) -> AwardPublic:
    credential = session.get(Credential, award.credential_id)
    assert credential is not None
    return AwardPublic(
        id=award.public_id, credential=credential.public_id, credential_title=credential.title,
        recipient_name=award.recipient_name, recipient_email=award.recipient_email,
        evidence_url=award.evidence_url, issued_at=as_utc(award.issued_at),
        expires_at=as_utc(award.expires_at) if award.expires_at else None,
        revoked=award.revoked_at is not None,
        revoked_at=as_utc(award.revoked_at) if award.revoked_at else None,
        revocation_reason=award.revocation_reason,
        url=award_url(settings, award.public_id),
        credential_url=credential_url(settings, credential.public_id))


def of_credential(session: Session, credential: Credential) -> list[Award]:
    return list(session.exec(select(Award).where(Award.credential_id == credential.id)
                             .order_by(col(Award.issued_at).desc())).all())


def may_see_awards(session: Session, grants: Grants, credential: Credential) -> bool:
    return grants.has(Role.COORDINATOR) or awarders_problem(session, grants, credential) is None


def json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def document_bytes(award: Award) -> bytes:
    """The award's credential as it was signed."""
    return json_bytes(award.document)


@dataclass(frozen=True)
class Check:
    """What the award's page tells an employer: whether the signature is the university's,
    and whether the award is revoked or expired."""

    signed: bool
    revoked: bool
    expired: bool

    @property
    def valid(self) -> bool:
        return self.signed and not self.revoked and not self.expired


def check(session: Session, award: Award) -> Check:
    method = award.document.get("proof", [{}])[0].get("verificationMethod")
    key = session.exec(select(SigningKey).where(SigningKey.key_id == method)).first()
    signed = key is not None and verify_document(award.document, key.public_multibase)
    expired = award.expires_at is not None and as_utc(award.expires_at) <= utcnow()
    return Check(signed=signed, revoked=award.revoked_at is not None, expired=expired)
