"""Request dependencies as Annotated aliases."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from plumbing.database import read_session, write_session
from workflow.access import Grants
from workflow.accounts import grants_for_token
from workflow.models import Role


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


# Async generators, so the session's cleanup runs on the event loop: a sync one needs a
# threadpool thread to give back SQLite's writer lock, and under load every thread may be
# queued behind that very lock.
async def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> AsyncIterator[Session]:
    with write_session(engine) as session:
        yield session


async def get_read_session(
    engine: Annotated[Engine, Depends(get_engine)],
) -> AsyncIterator[Session]:
    with read_session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]

bearer = HTTPBearer(auto_error=False, description="An API token from `microcred users add`")


def get_current_grants(
    engine: Annotated[Engine, Depends(get_engine)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Grants:
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED, "missing or invalid bearer token",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized
    # Its own session: a request's read session must take its snapshot after the request's
    # write, not before it.
    with read_session(engine) as session:
        grants = grants_for_token(session, credentials.credentials)
    if grants is None:
        raise unauthorized
    return grants


CurrentUser = Annotated[Grants, Depends(get_current_grants)]


def require(*roles: Role) -> Any:
    def check(grants: CurrentUser) -> Grants:
        if not grants.global_roles & set(roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                "this needs the role " + " or ".join(roles))
        return grants

    return Depends(check)
