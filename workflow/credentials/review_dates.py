"""Periodic review: each active credential has a review date, MICROCRED_CREDENTIAL_REVIEW_YEARS
after publication (or after its last renewal), or sooner when the proposal set its own
expiration. The coordinator renews it, audited, or retires it through the door."""

import calendar
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import ConfigDict
from sqlalchemy import Date
from sqlmodel import Field, Session, SQLModel, col, func, select

from plumbing.settings import Settings
from workflow import audit, queries
from workflow.access import grants_of, standing
from workflow.accounts.models import Role, User
from workflow.credentials.models import Credential, CredentialStatus
from workflow.errors import Conflict, Forbidden, NotFound, WorkflowError
from workflow.fields import LongText, Timestamp, as_utc, utcnow
from workflow.proposals.models import Proposal


class CredentialRenewal(SQLModel, table=True):
    """One renewal after a periodic review: the credential stays, with a new review date."""

    __tablename__ = "credential_renewal"

    id: int | None = Field(default=None, primary_key=True)
    credential_id: int = Field(foreign_key="credential.id", index=True)
    next_review_on: date = Field(sa_type=Date)
    renewed_by_id: int = Field(foreign_key="app_user.id")
    comment: str = Field(default="", max_length=10_000)
    renewed_at: datetime = Timestamp()


class RenewalRequest(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    comment: LongText = ""


@dataclass(frozen=True)
class ReviewDue:
    public_id: str
    title: str
    department: str
    proposal_id: int
    owner_id: int
    review_on: date
    days_left: int


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def review_period_months(credential: Credential, settings: Settings) -> int:
    """The proposal's own expiration when it set one shorter than the office's period."""
    office = settings.credential_review_years * 12
    own = credential.snapshot.get("expiration_months")
    return min(office, int(own)) if isinstance(own, int | float) and own > 0 else office


def review_date(credential: Credential, last_renewal: date | None, settings: Settings) -> date:
    if last_renewal is not None:
        return last_renewal
    return add_months(as_utc(credential.published_at).date(),
                      review_period_months(credential, settings))


def latest_renewals(session: Session, credential_ids: list[int]) -> dict[int, date]:
    if not credential_ids:
        return {}
    newest = (select(CredentialRenewal.credential_id, func.max(CredentialRenewal.id).label("id"))
              .where(col(CredentialRenewal.credential_id).in_(credential_ids))
              .group_by(col(CredentialRenewal.credential_id)).subquery())
    rows = session.exec(select(CredentialRenewal)
                        .join(newest, col(CredentialRenewal.id) == newest.c.id)).all()
    return {row.credential_id: row.next_review_on for row in rows}


def review_dates(session: Session, settings: Settings, today: date | None = None
                 ) -> list[ReviewDue]:
    """Every active credential with its review date, soonest first."""
    today = today or utcnow().date()
    rows = session.exec(
        select(Credential, Proposal.owner_id)
        .join(Proposal, col(Proposal.id) == Credential.proposal_id)
        .where(Credential.status == CredentialStatus.ACTIVE.value)).all()
    renewed = latest_renewals(session, [c.id or 0 for c, _ in rows])
    due = []
    for credential, owner_id in rows:
        on = review_date(credential, renewed.get(credential.id or 0), settings)
        due.append(ReviewDue(public_id=credential.public_id, title=credential.title,
                             department=credential.department_code,
                             proposal_id=credential.proposal_id, owner_id=owner_id,
                             review_on=on, days_left=(on - today).days))
    return sorted(due, key=lambda d: (d.review_on, d.public_id))


def due_within(session: Session, settings: Settings, days: int,
               today: date | None = None) -> list[ReviewDue]:
    """Credentials whose review date is at most `days` away, or past."""
    return [d for d in review_dates(session, settings, today) if d.days_left <= days]


def renew(session: Session, public_id: str, data: RenewalRequest, actor: User, via: str,
          settings: Settings) -> CredentialRenewal:
    """The coordinator renews an active credential after its review: a new review date one
    review period from today, audited on its proposal."""
    credential = session.exec(select(Credential).where(
        Credential.public_id == public_id)).first()
    if credential is None:
        session.rollback()
        raise NotFound("no such credential")
    proposal = queries.locked_proposal(session, credential.proposal_id)
    grants = grants_of(session, actor)
    try:
        if not grants.has(Role.COORDINATOR):
            raise Forbidden("only the coordinator renews a credential")
        if standing(grants, proposal).authors:
            raise Forbidden("separation of duties: you own or co-author this credential")
        if credential.status != CredentialStatus.ACTIVE.value:
            raise Conflict(f"a {credential.status} credential is not renewed")
    except WorkflowError as refusal:
        audit.record_refusal(session, refusal, actor=actor, role="coordinator", channel=via,
                             action="renew", proposal_id=proposal.id or 0,
                             from_state=proposal.state, version=proposal.version,
                             detail={"credential": public_id})
        raise
    previous = review_date(credential, latest_renewals(session, [credential.id or 0]).get(
        credential.id or 0), settings)
    renewal = CredentialRenewal(
        credential_id=credential.id or 0, renewed_by_id=actor.id or 0,
        next_review_on=add_months(utcnow().date(), review_period_months(credential, settings)),
        comment=data.comment.strip())
    session.add(renewal)
    session.flush()
    audit.append(session, actor=actor, role="coordinator", channel=via, action="renew",
                 from_state=proposal.state, to_state=proposal.state, proposal_id=proposal.id,
                 version=proposal.version,
                 detail={"credential": public_id, "previous_review_on": previous.isoformat(),
                         "next_review_on": renewal.next_review_on.isoformat(),
                         **({"comment": renewal.comment} if renewal.comment else {})})
    session.commit()
    return renewal
