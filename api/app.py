"""The application factory."""

from fastapi import FastAPI
from sqlalchemy import Engine

from api import errors
from api.routes import accounts, proposals
from plumbing.database import get_engine
from plumbing.settings import Settings, get_settings


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
    errors.install(app)
    app.include_router(accounts.router)
    app.include_router(proposals.router)
    return app
