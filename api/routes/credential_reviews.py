"""Periodic review of published credentials: what is due, and renewing."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api import errors
from api.deps import ReadSessionDep, SessionDep, SettingsDep, require
from api.routes.credentials import CredentialId
from workflow.access import Grants
from workflow.accounts.models import Role
from workflow.audit import Channel
from workflow.credentials import review_dates
from workflow.credentials.review_dates import RenewalRequest

router = APIRouter(prefix="/api", tags=["credentials"])
Office = Annotated[Grants, require(Role.COORDINATOR, Role.ADMIN)]


class ReviewDatePublic(BaseModel):
    credential: str
    title: str
    department: str
    proposal_id: int
    review_on: date
    days_left: int


class Renewed(BaseModel):
    credential: str
    next_review_on: date


@router.get("/credential-reviews", responses=errors.responses(401, 403, 422))
def review_due(session: ReadSessionDep, _me: Office, settings: SettingsDep,
               within_days: Annotated[int | None, Query(ge=-100_000, le=100_000)] = None
               ) -> list[ReviewDatePublic]:
    """Active credentials with their review dates, soonest first; with `within_days`, only
    those due within that many days (or past)."""
    rows = (review_dates.review_dates(session, settings) if within_days is None
            else review_dates.due_within(session, settings, within_days))
    return [ReviewDatePublic(credential=r.public_id, title=r.title, department=r.department,
                             proposal_id=r.proposal_id, review_on=r.review_on,
                             days_left=r.days_left) for r in rows]


@router.post("/credentials/{credential_id}/renew",
             responses=errors.responses(400, 401, 403, 404, 409, 422))
def renew(credential_id: CredentialId, body: RenewalRequest, session: SessionDep,
          me: Office, settings: SettingsDep) -> Renewed:
    """The coordinator renews an active credential after its review: a new review date."""
    renewal = review_dates.renew(session, credential_id, body, me.user, Channel.API, settings)
    return Renewed(credential=credential_id, next_review_on=renewal.next_review_on)
