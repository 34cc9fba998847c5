"""The overview's parts for the committee's process: meetings' decision times and credentials
due for their periodic review (with the renewal form)."""

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import SessionDep, SettingsDep
from api.routes.credentials import CredentialId
from api.web import CsrfChecked, WebUser, see_other
from plumbing.settings import Settings
from workflow.audit import Channel
from workflow.credentials import review_dates
from workflow.credentials.review_dates import RenewalRequest
from workflow.meetings import agenda

router = APIRouter(include_in_schema=False)


def overview_sections(session: Session, settings: Settings) -> dict[str, Any]:
    return {
        "timeliness": agenda.timeliness(session, settings),
        "decision_days": settings.meeting_decision_days,
        "reviews_due": review_dates.due_within(session, settings,
                                               settings.credential_review_notice_days),
        "notice_days": settings.credential_review_notice_days,
    }


@router.post("/credentials/{credential_id}/renew", dependencies=[CsrfChecked])
def renew(credential_id: CredentialId, session: SessionDep, me: WebUser,
          settings: SettingsDep,
          comment: Annotated[str, Form(max_length=10_000)] = "") -> Response:
    review_dates.renew(session, credential_id, RenewalRequest(comment=comment), me.user,
                       Channel.WEB, settings)
    return see_other("/overview?done=credential_renewed#reviews-due")
