"""Email actions: the pages behind the links in "action needed" emails, and the inbound webhook.

`GET /actions/{token}` only shows what would happen (mail scanners open every link);
`POST /actions/{token}` does it. The token is the capability, so no session is needed.
"""

from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine
from sqlmodel import Session

from api import errors
from api.deps import ReadSessionDep, SessionDep
from notifications.about import links, proposal_facts
from notifications.inbound import action_tokens, policy, receive, refusals
from notifications.inbound.action_tokens import Preview, Refused
from plumbing.database import write_session
from plumbing.settings import Settings
from workflow.accounts.models import User
from workflow.audit import Channel
from workflow.proposals.models import Proposal

router = APIRouter(tags=["email actions"])
TEMPLATES = FilePath(__file__).resolve().parent.parent / "templates"
PAGE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'",
}
TokenPath = Annotated[str, Path(max_length=64)]
Trigger = Annotated[str, Query(alias="do", max_length=32)]


@lru_cache(maxsize=1)
def pages() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                       undefined=StrictUndefined)


def page(name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    body = pages().get_template(f"email_actions/{name}").render(context)
    return HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)


def about(session: Session, proposal: Proposal | None, settings: Settings) -> dict[str, Any]:
    if proposal is None:
        return {"proposal": None, "summary": None, "proposal_link": None}
    return {"proposal": proposal_facts(session, proposal), "summary": proposal.summary,
            "proposal_link": links(proposal, settings)["proposal"]}


def refused_page(session: Session, refusal: Refused, settings: Settings) -> HTMLResponse:
    return page("refused.html", {"message": refusal.message,
                                 **about(session, refusal.proposal, settings)}, refusal.status)


def confirm_page(session: Session, ready: Preview, settings: Settings, *,
                 comment: str | None = None, problem: str | None = None) -> HTMLResponse:
    user: User = ready.user
    return page("confirm.html", {
        **about(session, ready.proposal, settings),
        "label": action_tokens.LABELS[ready.trigger], "trigger": ready.trigger,
        "consequence": action_tokens.consequence(ready),
        "problem": problem or action_tokens.problem(ready),
        "comment_required": ready.comment_required, "comment": comment,
        "user": {"name": user.name, "email": user.email},
    }, 422 if problem else 200)


@router.get("/actions/{token}", response_class=HTMLResponse, include_in_schema=False)
def show_action(token: TokenPath, request: Request, session: ReadSessionDep,
                trigger: Trigger = "approve") -> HTMLResponse:
    """Show what the link would do; changes nothing."""
    settings = request.app.state.settings
    try:
        ready = action_tokens.preview(session, token, trigger)
    except Refused as refusal:
        return refused_page(session, refusal, settings)
    return confirm_page(session, ready, settings)


def meant_proposal(field: str | None) -> frozenset[int] | None:
    """The proposal the confirmation form names, if it names one.

    A value that is not a plain proposal id ("-1", "²", which `str.isdigit` accepts and `int`
    refuses) was not written by our page: it names no proposal (0), so the action is refused.
    """
    if not field:
        return None
    return frozenset({int(field) if field.isascii() and field.isdigit() else 0})


@router.post("/actions/{token}", response_class=HTMLResponse, include_in_schema=False)
def do_action(
    token: TokenPath, request: Request, session: SessionDep,
    trigger: Annotated[str, Form(alias="do", max_length=32)] = "approve",
    comment: Annotated[str | None, Form(max_length=5000)] = None,
    proposal: Annotated[str | None, Form(max_length=12)] = None,
) -> HTMLResponse:
    """Do what the link offers, through the door, as the token's user."""
    settings = request.app.state.settings
    meant = meant_proposal(proposal)
    try:
        done = action_tokens.use(session, token, trigger, via=Channel.EMAIL_LINK.value,
                                 settings=settings, comment=comment, proposal_ids=meant)
    except Refused as refusal:
        if refusal.reason == "unknown":
            # No token at all: anyone can send that, as fast as they like.
            if refusals.refuse_stranger(session, source=client_source(request), kind="unknown",
                                        message="an action link that names no token",
                                        settings=settings, channel=Channel.EMAIL_LINK.value):
                raise too_many() from refusal
        if refusal.reason == "comment_missing":
            with_comment = action_tokens.preview(session, token, trigger)
            return confirm_page(session, with_comment, settings, problem=refusal.message)
        return refused_page(session, refusal, settings)
    return page("done.html", {**about(session, done, settings),
                              "did": action_tokens.DONE[trigger]})


@router.post("/api/inbound-email", status_code=status.HTTP_202_ACCEPTED, responses=errors.responses(
    401, 413, 422, 429, e401="Wrong or missing X-Inbound-Secret", e413="The message is too large",
    e503="Inbound email is not configured, or the database is busy"))
async def inbound_email(
    request: Request,
    x_inbound_secret: Annotated[str | None, Header(max_length=500)] = None,
) -> dict[str, str]:
    """Take one raw RFC 822 message (a mail provider's inbound webhook); answers by email."""
    settings: Settings = request.app.state.settings
    engine = request.app.state.engine
    if settings.inbound_secret is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "inbound email is not configured (MICROCRED_INBOUND_SECRET)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.inbound_max_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "the message is too large")
    raw = await request.body()
    if len(raw) > settings.inbound_max_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "the message is too large")
    source = client_source(request)
    if not policy.secret_matches(settings, x_inbound_secret):
        over = await run_in_threadpool(_bad_secret, engine, source, raw, settings)
        if over:
            raise too_many()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong or missing X-Inbound-Secret")
    received = await run_in_threadpool(receive.receive, engine, raw, settings, peer=source)
    if received.reason == "unreadable":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "the message has too many parts or nests them too deep")
    if received.reason == "address_rate_limited":
        raise too_many()
    return {"status": received.outcome, "reason": received.reason}


def client_source(request: Request) -> str:
    """The address the request came from (its proxy's view, from MICROCRED_TRUSTED_PROXIES)."""
    return refusals.source_of(request.client.host if request.client else None)


def too_many() -> HTTPException:
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                         "too many refused requests from this address; try again later",
                         headers={"Retry-After": "600"})


def _bad_secret(engine: Engine, source: str, raw: bytes, settings: Settings) -> bool:
    """Count a webhook call with a wrong or missing secret (its message is not read further,
    but the first of a window is audited with its sender and Message-ID)."""
    headers = BytesHeaderParser(policy=default).parsebytes(raw[:65536])
    detail = {"message_id": " ".join(str(headers.get("Message-ID", "")).split())[:255],
              "from": parseaddr(str(headers.get("From", "")))[1].strip().lower()[:254]}
    with write_session(engine) as session:
        return refusals.refuse_stranger(session, source=source, kind="bad_inbound_secret",
                                        message="wrong or missing X-Inbound-Secret",
                                        settings=settings, detail=detail)

