"""The application factory."""

from fastapi import FastAPI
from sqlalchemy import Engine

from api import errors
from api.routes import accounts, proposals, reviews
from plumbing.database import get_engine, write_session
from plumbing.settings import Settings, get_settings
from workflow.reviews import install_rubrics


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the service; tests pass their own settings and engine."""
    settings = settings or get_settings()
    app = FastAPI(
        title="microcred",
        summary="University micro-credential proposals, from first draft to published Open Badge",
        version="0.1.0",
    )
    app.state.settings = settings
    app.state.engine = engine or get_engine(settings.database_url)
    # A malformed rubric file stops start-up here, with the file and the problem named.
    with write_session(app.state.engine) as session:
        install_rubrics(session, settings)
    errors.install(app)
    app.include_router(accounts.router)
    # Before proposals: its POST /{id}/{trigger} would otherwise swallow /{id}/reviewers.
    app.include_router(reviews.router)
    app.include_router(proposals.router)
    return app
