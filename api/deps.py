"""Request dependencies as Annotated aliases."""

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from plumbing import logs
from plumbing.database import read_session, write_session
from plumbing.settings import Settings
from workflow.access import Grants
from workflow.accounts.models import Role
from workflow.accounts.service import grants_for_token


# async: they only read the app's state, so they need no trip to the threadpool.
async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_settings(request: Request) -> Settings:
    """The settings of the app serving the request (tests build apps with their own)."""
    settings: Settings = request.app.state.settings
    return settings


async def get_writer(request: Request) -> Engine:
    engine: Engine = request.app.state.writer
    return engine


def get_session(engine: Annotated[Engine, Depends(get_writer)]) -> Iterator[Session]:
    with write_session(engine) as session:
        yield session


def get_read_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    with read_session(engine) as session:
        yield session


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]

bearer = HTTPBearer(auto_error=False, description="An API token from `microcred users add`")


def get_current_grants(
    engine: EngineDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Grants:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized()
    # Its own session: the request's own sessions begin after the caller is known.
    with read_session(engine) as session:
        grants = grants_for_token(session, credentials.credentials)
    if grants is None:
        raise unauthorized()
    logs.set_actor(grants.user.email)
    return grants


CurrentUser = Annotated[Grants, Depends(get_current_grants)]


def unauthorized() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or invalid bearer token",
                         headers={"WWW-Authenticate": "Bearer"})


def require(*roles: Role) -> Any:
    def check(grants: CurrentUser) -> Grants:
        if not grants.global_roles & set(roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                "this needs the role " + " or ".join(roles))
        return grants

    return Depends(check)
