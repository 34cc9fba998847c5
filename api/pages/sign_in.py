"""Sign-in by one-time email link, demo one-click sign-in, sign-out."""

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from api.deps import ReadSessionDep, SessionDep
from api.web import (
    CsrfChecked,
    MaybeWebUser,
    end_session,
    render,
    see_other,
    settings_of,
    start_session,
)
from notifications.sign_in import send_sign_in_link
from workflow.access import grants_of
from workflow.accounts.models import User
from workflow.accounts.service import end_sessions
from workflow.accounts.sign_in import active_user, link_is_usable, use_link

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Path(min_length=20, max_length=100)]


def _safe_next(target: str | None) -> str:
    """Only a path on this site, so the sign-in page cannot bounce anyone elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _demo_users(request: Request, session: ReadSessionDep) -> list[dict[str, str]]:
    if not settings_of(request).demo_sign_in:
        return []
    users = session.exec(select(User).where(User.is_active == True)  # noqa: E712
                         .order_by(col(User.id))).all()
    listed = []
    for user in users:
        grants = grants_of(session, user)
        roles = sorted({r.value for r in grants.global_roles}
                       | {r.value for r, _ in grants.department_roles})
        listed.append({"email": user.email, "name": user.name,
                       "roles": ", ".join(r.replace("_", " ") for r in roles)})
    return listed


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, session: ReadSessionDep,
                 next: str | None = None) -> HTMLResponse:  # noqa: A002
    return render(request, "sign_in.html", next=_safe_next(next), sent=None,
                  demo_users=_demo_users(request, session))


@router.post("/sign-in", response_class=HTMLResponse, dependencies=[CsrfChecked])
def ask_for_link(
    request: Request, session: SessionDep,
    email: Annotated[str, Form(max_length=254)], next: Annotated[str, Form(max_length=500)] = "/",  # noqa: A002
) -> HTMLResponse:
    settings = settings_of(request)
    send_sign_in_link(session, email, settings, then=_safe_next(next))
    return render(request, "sign_in.html", next=_safe_next(next), sent=email.strip(),
                  minutes=settings.sign_in_link_minutes,
                  demo_users=_demo_users(request, session))


@router.post("/sign-in/demo", dependencies=[CsrfChecked])
def demo_sign_in(request: Request, session: ReadSessionDep,
                 email: Annotated[str, Form(max_length=254)],
                 next: Annotated[str, Form(max_length=500)] = "/",  # noqa: A002
                 ) -> RedirectResponse:
    settings = settings_of(request)
    user = active_user(session, email) if settings.demo_sign_in else None
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "demo sign-in is not available")
    response = see_other(_safe_next(next))
    start_session(response, settings, user)
    return response


@router.get("/sign-in/{token}", response_class=HTMLResponse)
def confirm_link(request: Request, token: Token, session: ReadSessionDep,
                 next: Annotated[str | None, Query(max_length=500)] = None,  # noqa: A002
                 ) -> HTMLResponse:
    # A GET changes nothing: mail scanners open every link.
    return render(request, "sign_in_confirm.html", token=token, next=_safe_next(next),
                  usable=link_is_usable(session, token))


@router.post("/sign-in/{token}", dependencies=[CsrfChecked])
def use_sign_in_link(request: Request, token: Token, session: SessionDep,
                     next: Annotated[str, Form(max_length=500)] = "/",  # noqa: A002
                     ) -> Response:
    user = use_link(session, token)
    if user is None:
        return render(request, "sign_in_confirm.html", status_code=status.HTTP_410_GONE,
                      token=token, next="/", usable=False)
    response = see_other(_safe_next(next))
    start_session(response, settings_of(request), user)
    return response


@router.post("/sign-out", dependencies=[CsrfChecked])
def sign_out(request: Request, session: SessionDep, me: MaybeWebUser) -> RedirectResponse:
    if me is not None:
        # Every cookie of this user ends here, not only this browser's copy.
        end_sessions(session, me.user)
        session.commit()
    response = see_other("/sign-in")
    end_session(response, settings_of(request))
    return response
