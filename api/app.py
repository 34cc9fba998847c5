"""The application factory."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from api import errors, pages, web
from api.forwarded import ForwardedHeaders
from api.json_bodies import refuse_unreadable_json
from api.request_log import RequestLog
from api.routes import (
    accounts,
    attachments,
    awards,
    badges,
    credential_reviews,
    credentials,
    discussion,
    email_actions,
    meetings,
    operations,
    outbox,
    proposals,
    reviews,
)
from notifications import routing
from notifications.inbound import listener
from notifications.worker import in_background
from plumbing import logs
from plumbing.database import get_engine, write_session, writer_engine
from plumbing.secret_key import WeakSecretKey, require_secret_key
from plumbing.settings import ConfigurationError, Settings, get_settings
from workflow.reviews.rubrics import install_rubrics


def proxy_secret(settings: Settings) -> str | None:
    """The proxy's secret; a single sign-on header without one is refused, since any process
    that reaches a web process could then name any user."""
    secret = settings.trusted_proxy_secret
    if settings.trusted_user_header and secret is None:
        raise ConfigurationError(
            "MICROCRED_TRUSTED_USER_HEADER needs MICROCRED_TRUSTED_PROXY_SECRET, which the "
            "proxy sends as X-Microcred-Proxy-Secret (docs/deployment.md)")
    return secret.get_secret_value() if secret else None


def create_app(
    settings: Settings | None = None, engine: Engine | None = None, *, with_worker: bool = False,
    with_inbound_smtp: bool = False,
) -> FastAPI:
    """Build the service; tests pass their own settings and engine.

    With `with_worker` (or MICROCRED_EMAIL_WORKER_IN_WEB) the email worker runs beside it; with
    `with_inbound_smtp` and MICROCRED_INBOUND_SMTP_PORT set, the listener for email replies too.
    """
    if settings is None:
        # Built from the environment, as uvicorn's `--factory` does: a service about to start,
        # so a missing or weak key stops it here, and its logging is ours to set. Tests pass
        # their own settings and keep pytest's.
        settings = get_settings()
        try:
            require_secret_key(settings)
        except WeakSecretKey as error:
            raise SystemExit(f"microcred: {error}") from None
        logs.configure(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as background:
            if with_worker or settings.email_worker_in_web:
                await background.enter_async_context(in_background(app.state.engine, settings))
            if with_inbound_smtp and settings.inbound_smtp_port:
                await background.enter_async_context(listener.in_background(
                    app.state.engine, settings, settings.inbound_smtp_host,
                    settings.inbound_smtp_port))
            try:
                yield
            finally:
                if app.state.writer is not app.state.engine:
                    app.state.writer.dispose()

    app = FastAPI(
        dependencies=[Depends(refuse_unreadable_json)],
        title="microcred",
        summary="University micro-credential proposals, from first draft to published Open Badge",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine or get_engine(settings.database_url, "microcred-web")
    app.state.writer = writer_engine(app.state.engine, settings.sqlite_busy_timeout_ms)
    # A malformed rubric file stops start-up here, with the file and the problem named.
    with write_session(app.state.engine) as session:
        install_rubrics(session, settings)
    routing.rules_for(settings)  # likewise a routing rules file that cannot be used
    # One line and one count per request; inside ForwardedHeaders, so it logs the client.
    app.add_middleware(RequestLog)
    # X-Forwarded-* from the trusted proxies only, the connecting peer kept for sign-on.
    app.add_middleware(ForwardedHeaders, trusted_proxies=settings.trusted_proxies,
                       proxy_secret=proxy_secret(settings))
    logs.redact_library_loggers()
    errors.install(app)
    app.include_router(operations.router)
    app.include_router(accounts.router)
    app.include_router(reviews.router)
    app.include_router(badges.router)
    app.include_router(outbox.router)
    app.include_router(credentials.router)
    app.include_router(awards.router)
    app.include_router(email_actions.router)
    app.include_router(meetings.router)
    app.include_router(discussion.router)
    app.include_router(attachments.router)
    app.include_router(credential_reviews.router)
    # After the others: its `POST /api/proposals/{id}/{trigger}` would take their POSTs.
    app.include_router(proposals.router)
    web.install(app)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=web.STATIC), name="static")
    return app
