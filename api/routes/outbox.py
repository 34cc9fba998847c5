"""The email outbox for admins, email preferences, and the dev mailbox page."""

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse
from fastapi.security.utils import get_authorization_scheme_param
from sqlmodel import col, select

from api import errors
from api.deps import CurrentUser, ReadSessionDep, SessionDep, require
from api.web import signed_in_grants
from notifications import outbox
from notifications.models import (
    DevMailboxMessage,
    EmailPreference,
    EmailPreferencePublic,
    OutboxMessagePublic,
    OutboxPage,
    OutboxStatus,
    as_public,
)
from notifications.rendering import environment
from workflow.access import Grants, grants_of
from workflow.accounts.models import Role
from workflow.accounts.service import user_for_token
from workflow.fields import MAX_ID, as_utc, utcnow

router = APIRouter(tags=["email"])

@router.get("/api/outbox", dependencies=[require(Role.ADMIN)],
            responses=errors.responses(401, 403, 422))
def list_outbox(
    session: ReadSessionDep,
    status: OutboxStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> OutboxPage:
    """Outgoing messages, newest first; `status=dead` lists the dead letters."""
    rows, next_cursor = outbox.list_messages(
        session, status=status.value if status else None, limit=limit, cursor=cursor)
    return OutboxPage(items=[as_public(r) for r in rows], next_cursor=next_cursor)


@router.post("/api/outbox/{outbox_id}/retry",
             responses=errors.responses(401, 403, 404, 409, 422, e404="Unknown message",
                                        e409="The message is not a dead letter"))
def retry_outbox(
    outbox_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    session: SessionDep,
    me: Annotated[Grants, require(Role.ADMIN)],
) -> OutboxMessagePublic:
    """Queue a dead letter again with a fresh attempt budget (same Message-ID)."""
    return as_public(outbox.retry(session, outbox_id, me.user))


@router.get("/api/me/email-preferences", responses=errors.responses(401))
def my_email_preferences(session: ReadSessionDep, me: CurrentUser) -> EmailPreferencePublic:
    row = session.get(EmailPreference, me.user.id)
    return EmailPreferencePublic(daily_digest=bool(row and row.daily_digest))


@router.put("/api/me/email-preferences", responses=errors.responses(400, 401, 422))
def set_email_preferences(
    body: EmailPreferencePublic, session: SessionDep, me: CurrentUser
) -> EmailPreferencePublic:
    """Choose one daily digest of pending actions instead of an email per request."""
    row = session.get(EmailPreference, me.user.id) or EmailPreference(user_id=me.user.id or 0)
    row.daily_digest = body.daily_digest
    row.updated_at = utcnow()
    session.add(row)
    session.commit()
    return EmailPreferencePublic(daily_digest=row.daily_digest)


# --- the dev mailbox ------------------------------------------------------------------------


def _page(status_code: int = 200, **context: Any) -> HTMLResponse:
    page = environment().get_template("pages/mailbox.html")
    defaults: dict[str, Any] = {"sign_in": False, "message": None, "messages": []}
    return HTMLResponse(page.render({**defaults, **context}), status_code=status_code,
                        headers={"Referrer-Policy": "no-referrer",
                                 "X-Content-Type-Options": "nosniff"})


def _mailbox_problem(request: Request, session: Any) -> str | None:
    """Why this caller may not read the mailbox, or None for an admin: signed in on the site,
    or (scripts) an admin's API token as a bearer header, never kept in a cookie."""
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    if scheme.lower() == "bearer" and token:
        user = user_for_token(session, token)
        if user is None:
            return "That token is not valid."
        grants: Grants | None = grants_of(session, user)
    else:
        grants = signed_in_grants(request)
    if grants is None:
        return "You are not signed in."
    if not grants.has(Role.ADMIN):
        return "The mailbox is for admins only."
    return None


@router.get("/mailbox", response_class=HTMLResponse, include_in_schema=False)
def mailbox(request: Request, session: ReadSessionDep) -> HTMLResponse:
    problem = _mailbox_problem(request, session)
    if problem:
        return _page(status.HTTP_401_UNAUTHORIZED, sign_in=True, problem=problem)
    rows = session.exec(
        select(DevMailboxMessage.id, DevMailboxMessage.recipient, DevMailboxMessage.subject,
               DevMailboxMessage.received_at)
        .order_by(col(DevMailboxMessage.id).desc()).limit(200)).all()
    messages = [{"id": i, "recipient": r, "subject": s,
                 "received": as_utc(at).strftime("%Y-%m-%d %H:%M:%S UTC")}
                for i, r, s, at in rows]
    return _page(messages=messages)


@router.get("/mailbox/{message_id}", response_class=HTMLResponse, include_in_schema=False)
def mailbox_message(
    message_id: Annotated[int, Path(ge=1, le=MAX_ID)], request: Request, session: ReadSessionDep
) -> HTMLResponse:
    problem = _mailbox_problem(request, session)
    if problem:
        return _page(status.HTTP_401_UNAUTHORIZED, sign_in=True, problem=problem)
    row = session.get(DevMailboxMessage, message_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such message")
    parsed = message_from_bytes(row.raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    return _page(
        message=row,
        headers=[(name, str(value)) for name, value in parsed.items()],
        text=text.get_content() if isinstance(text, EmailMessage) else "",
        html=html.get_content() if isinstance(html, EmailMessage) else "",
    )
