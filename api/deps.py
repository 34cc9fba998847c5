"""Request dependencies as Annotated aliases."""

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from plumbing.database import read_session, write_session
from workflow.access import Grants, grants_of
from workflow.accounts import user_for_token
from workflow.models import Role


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    with write_session(engine) as session:
        yield session


def get_read_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    with read_session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]

bearer = HTTPBearer(auto_error=False, description="An API token from `microcred users add`")


def get_current_grants(
    session: ReadSessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Grants:
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED, "missing or invalid bearer token",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized
    user = user_for_token(session, credentials.credentials)
    if user is None:
        raise unauthorized
    return grants_of(session, user)


CurrentUser = Annotated[Grants, Depends(get_current_grants)]


def require(*roles: Role) -> Any:
    def check(grants: CurrentUser) -> Grants:
        if not grants.global_roles & set(roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                "this needs the role " + " or ".join(roles))
        return grants

    return Depends(check)
