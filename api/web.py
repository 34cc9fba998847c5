"""What every web page shares: templates, the session cookie, CSRF, the signed-in user,
security headers. Pages live in api/pages/; they call the same door as the API."""

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import markdown
from api.forwarded import FROM_PROXY
from plumbing import logs
from plumbing.database import read_session
from plumbing.settings import Settings
from workflow.access import Grants, grants_of
from workflow.accounts.models import Role, User
from workflow.accounts.sign_in import active_user
from workflow.errors import WorkflowError
from workflow.fields import MAX_ID

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "microcred_session"
CSRF_COOKIE = "microcred_csrf"
CSRF_FIELD = "csrf_token"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
# The dev mailbox (notifications) styles itself inline and shows mail in a sandboxed frame.
CSP_MAILBOX = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def settings_of(request: Request) -> Settings:
    return settings_of_app(request.app)


def settings_of_app(app: FastAPI) -> Settings:
    settings: Settings = app.state.settings
    return settings


def _sign(settings: Settings, purpose: str, value: str) -> str:
    return hmac.new(settings.verifying_keys()[0], f"{purpose}:{value}".encode(),
                    hashlib.sha256).hexdigest()


def signed_by_a_key(settings: Settings, purpose: str, value: str, signature: str) -> bool:
    """Whether the signature is the current key's, or an earlier one's still listed in
    MICROCRED_OLD_SECRET_KEYS (so that rotating the key signs nobody out)."""
    message, given = f"{purpose}:{value}".encode(), signature.encode()
    return any(hmac.compare_digest(given, hmac.new(key, message, hashlib.sha256).hexdigest()
                                   .encode()) for key in settings.verifying_keys())


# --- the session cookie: "<user id>.<generation>.<issued at>.<HMAC>" ------------------------
# The generation is the user's `session_generation` when the cookie was issued; signing out,
# a role change and deactivation advance it, which ends every cookie issued before.


def session_cookie_value(settings: Settings, user: User) -> str:
    payload = f"{user.id}.{user.session_generation}.{int(time.time())}"
    return f"{payload}.{_sign(settings, 'session', payload)}"


def session_from_cookie(settings: Settings, value: str) -> tuple[int, int] | None:
    """The user id and session generation a genuine, unexpired cookie names."""
    payload, _, signature = value.rpartition(".")
    parts = payload.split(".")
    if len(parts) != 3 or not all(part.isascii() and part.isdigit() for part in parts):
        return None
    if not signed_by_a_key(settings, "session", payload, signature):
        return None
    user_id, generation, issued = (int(part) for part in parts)
    if time.time() - issued > settings.session_hours * 3600:
        return None
    return user_id, generation


def is_https(settings: Settings) -> bool:
    return settings.base_url.lower().startswith("https://")


def start_session(response: Response, settings: Settings, user: User) -> None:
    response.set_cookie(SESSION_COOKIE, session_cookie_value(settings, user), httponly=True,
                        samesite="lax", secure=is_https(settings),
                        max_age=int(settings.session_hours * 3600), path="/")


def end_session(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=is_https(settings))


# --- who is asking -------------------------------------------------------------------------


def from_trusted_proxy(settings: Settings, request: Request) -> bool:
    """Whether the request came from the proxy, with its secret (api/forwarded.py decided, on
    the connection itself, not on what a forwarded header claims)."""
    return settings.trusted_proxy_secret is not None and bool(request.scope.get(FROM_PROXY))


def signed_in_grants(request: Request) -> Grants | None:
    """The user of this request: the trusted header from a trusted proxy, else the cookie."""
    settings = settings_of(request)
    engine: Engine = request.app.state.engine
    with read_session(engine) as session:
        user: User | None = None
        header = settings.trusted_user_header
        if header and request.headers.get(header) and from_trusted_proxy(settings, request):
            user = active_user(session, request.headers[header])
        elif request.cookies.get(SESSION_COOKIE):
            named = session_from_cookie(settings, request.cookies[SESSION_COOKIE])
            found = session.get(User, named[0]) if named and named[0] <= MAX_ID else None
            if found is not None and found.is_active and named is not None \
                    and found.session_generation == named[1]:
                user = found
        if user is None:
            return None
        logs.set_actor(user.email)
        return grants_of(session, user)


class SignInRequired(Exception):
    """Raised by page dependencies; answered with a redirect to the sign-in page."""


def web_user(request: Request) -> Grants:
    grants = signed_in_grants(request)
    if grants is None:
        raise SignInRequired
    request.state.grants = grants
    return grants


WebUser = Annotated[Grants, Depends(web_user)]


def maybe_web_user(request: Request) -> Grants | None:
    """The signed-in user if any: public pages show them their menu, and need nobody."""
    grants = signed_in_grants(request)
    request.state.grants = grants
    return grants


MaybeWebUser = Annotated[Grants | None, Depends(maybe_web_user)]


def web_role(*roles: Role) -> Any:
    def check(grants: WebUser) -> Grants:
        if not grants.global_roles & set(roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                "this page needs the role " + " or ".join(roles))
        return grants

    return Depends(check)


# --- CSRF: a random cookie per browser; forms carry its HMAC ----------------------------------


def csrf_token(request: Request) -> str:
    return _sign(settings_of(request), "csrf", request.state.csrf_seed)


async def check_csrf(request: Request) -> None:
    """Refuse a POST whose form does not carry this browser's token."""
    form = await request.form()
    refuse_without_csrf(request, form.get(CSRF_FIELD))


def refuse_without_csrf(request: Request, sent: object) -> None:
    """Refuse a form (already read) whose token does not fit this browser's cookie."""
    seed = request.cookies.get(CSRF_COOKIE)
    if not seed or not isinstance(sent, str) or not signed_by_a_key(
            settings_of(request), "csrf", seed, sent):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "the form's security token is missing or stale; reload the page")


CsrfChecked = Depends(check_csrf)


# --- rendering -----------------------------------------------------------------------------


def file_size(count: int) -> str:
    """Bytes as people read them: 2 MB, 512 KB, 900 bytes (binary units, as the limit is set)."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count} bytes"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["label"] = lambda value: str(value or "").replace("_", " ")
    env.filters["shown"] = lambda value: "; ".join(str(v) for v in value) if isinstance(
        value, list) else ("" if value is None else value)
    env.filters["when"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""
    env.filters["number"] = lambda value: "" if value is None else f"{value:g}"
    env.filters["size"] = file_size
    env.filters["markdown"] = markdown.to_html
    return env


def render(request: Request, template: str, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    grants: Grants | None = getattr(request.state, "grants", None)
    base = {
        "request": request, "me": grants, "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request),
        "roles": ({r.value for r in grants.global_roles}
                  | {r.value for r, _ in grants.department_roles}) if grants else set(),
        "notice": request.query_params.get("done"),
    }
    html = environment().get_template(template).render({**base, **context})
    return HTMLResponse(html, status_code=status_code)


def chosen_value(choices: Iterable[str], value: str | None, what: str) -> str | None:
    """A GET form's select: empty means "any"; anything not offered is the client's mistake."""
    if not value:
        return None
    if value not in set(choices):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no {what} named {value!r}")
    return value


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


def is_page(request: Request) -> bool:
    return is_page_path(request.url.path)


def is_page_path(path: str) -> bool:
    return not path.startswith(("/api", "/openapi", "/docs", "/redoc"))


def shows_error_page(request: Request) -> bool:
    """Whether a refused request gets the site's HTML error page: pages do, except the dev
    mailbox and the email action pages, which answer in their own words."""
    return is_page(request) and not request.url.path.startswith(("/mailbox", "/actions"))


class PageHeaders:
    """Security headers on every answer, and on pages the CSP and the CSRF cookie (a pure
    ASGI middleware, as Starlette recommends for middleware that only adds headers)."""

    def __init__(self, app: ASGIApp, service: FastAPI) -> None:
        self.app = app
        self.service = service  # whose settings say whether cookies are Secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        page = is_page_path(path)
        # Only pages have forms: the JSON API neither reads nor sets the CSRF cookie.
        seed, csrf_seed = None, ""
        if page:
            seed = Request(scope).cookies.get(CSRF_COOKIE)
            csrf_seed = seed or secrets.token_urlsafe(24)
        scope.setdefault("state", {})["csrf_seed"] = csrf_seed

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if page:
                    headers.setdefault("Content-Security-Policy",
                                       CSP_MAILBOX if path.startswith("/mailbox") else CSP)
                    headers.setdefault("X-Frame-Options", "DENY")
                    if seed is None:
                        cookie = Response()
                        cookie.set_cookie(CSRF_COOKIE, csrf_seed, httponly=True, samesite="lax",
                                          secure=is_https(settings_of_app(self.service)),
                                          path="/")
                        headers.append("set-cookie", cookie.headers["set-cookie"])
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI) -> None:
    """Security headers, the CSRF cookie, and HTML answers to refusals on pages."""
    app.add_middleware(PageHeaders, service=app)

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, _error: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return see_other(f"/sign-in?next={quote(target, safe='')}")


def error_page(request: Request, error: WorkflowError | StarletteHTTPException,
               code: int) -> HTMLResponse:
    detail = error.detail
    if isinstance(detail, list):
        messages = [str(item.get("msg", item)) if isinstance(item, dict) else str(item)
                    for item in detail]
    else:
        messages = [str(detail)]
    if getattr(request.state, "grants", None) is None:
        maybe_web_user(request)
    return render(request, "error.html", status_code=code, code=code, messages=messages)
