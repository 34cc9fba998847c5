"""Request dependencies as Annotated aliases."""

import asyncio
import contextvars
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from plumbing.database import (
    WriterBusy,
    first_write_without_waiting,
    is_sqlite,
    read_session,
    sqlite_busy_timeout,
    write_session,
)
from workflow.access import Grants
from workflow.accounts import grants_for_token
from workflow.models import Role


async def get_engine(request: Request) -> Engine:
    # async: a plain function would cost a trip to the threadpool to read an attribute.
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
    token = bearer_token(credentials)
    # Its own session: a request's read session must take its snapshot after the request's
    # write, not before it.
    with read_session(engine) as session:
        grants = grants_for_token(session, token)
    if grants is None:
        raise unauthorized()
    return grants


CurrentUser = Annotated[Grants, Depends(get_current_grants)]

T = TypeVar("T")
# Where the JSON API's database work runs, one trip per request (see Api).
#
# On SQLite, on the event loop itself: the work is CPU under the process's one GIL and SQLite
# answers from memory, so a thread buys nothing, and handing the GIL back and forth at every
# statement cost more than the work. Measured with 16 clients, a transition went from 2.2-2.8
# to 1.5-2.0 ms of CPU, the same-writes baseline from 1.15-1.22 to 0.66-0.88 ms. The loop never
# blocks on a lock: a write that would wait for the writer (another thread or process writing)
# steps aside and tries again a moment later.
#
# On PostgreSQL, in threads: row locks let writes run side by side, and every statement waits on
# the network. As many as the engine's pool hands out connections (pool and overflow), so none
# waits for one.
WORK_THREADS = ThreadPoolExecutor(max_workers=30, thread_name_prefix="microcred-api")
# A waiting SQLite write looks again after this long, doubling up to the last.
WRITER_RETRY_SECONDS = (0.0005, 0.01)


async def database_work(engine: Engine, write: bool, work: Callable[[], T]) -> T:
    """Run blocking database work where its kind runs best (see above), never blocking the
    event loop on a lock."""
    loop = asyncio.get_running_loop()
    if not is_sqlite(engine):
        context = contextvars.copy_context()
        return await loop.run_in_executor(WORK_THREADS, context.run, work)
    pause, longest = WRITER_RETRY_SECONDS
    deadline = loop.time() + sqlite_busy_timeout(engine)
    while True:
        try:
            with first_write_without_waiting():
                return work()
        except WriterBusy as busy:
            if loop.time() > deadline:
                raise OperationalError("BEGIN IMMEDIATE", None, busy) from busy
        await asyncio.sleep(pause)
        pause = min(2 * pause, longest)


class Api:
    """A request's database work and its caller's token check, run together in one trip
    (`database_work`), on one connection.

    A sync dependency and a sync endpoint were two trips to the threadpool, each costing about
    as much as the whole database work of a transition.
    """

    def __init__(self, engine: Engine, token: str) -> None:
        self.engine = engine
        self.token = token

    async def write(self, work: Callable[[Session, Grants], T]) -> T:
        """Run `work` with a write session (it commits) and the caller's grants."""
        return await self._run(write_session, work, write=True)

    async def read(self, work: Callable[[Session, Grants], T]) -> T:
        """Run `work` with a read session (one snapshot) and the caller's grants."""
        return await self._run(read_session, work, write=False)

    async def _run(self, opening: Callable[[Engine], AbstractContextManager[Session]],
                         work: Callable[[Session, Grants], T], *, write: bool) -> T:
        def run() -> T:
            with opening(self.engine) as session:
                grants = grants_for_token(session, self.token)
                if grants is None:
                    raise unauthorized()
                return work(session, grants)

        return await database_work(self.engine, write, run)


def unauthorized() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or invalid bearer token",
                         headers={"WWW-Authenticate": "Bearer"})


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The token a request carries, or a 401 before any database work."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized()
    return credentials.credentials


class ApiBearer(HTTPBearer):
    """The JSON API's one dependency: the bearer scheme itself, answering an `Api`.

    Being the security scheme, it documents bearer auth in the OpenAPI document (under the
    scheme name the other routes use), and FastAPI solves one dependency per request instead of
    three (the scheme, the engine, the Api): each cost about as much as reading the token.
    """

    async def __call__(self, request: Request) -> Api:  # type: ignore[override]
        credentials = await super().__call__(request)
        return Api(request.app.state.engine, bearer_token(credentials))


get_api = ApiBearer(auto_error=False, scheme_name="HTTPBearer",
                    description=bearer.model.description)
ApiDep = Annotated[Api, Depends(get_api)]


def require(*roles: Role) -> Any:
    def check(grants: CurrentUser) -> Grants:
        if not grants.global_roles & set(roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                "this needs the role " + " or ".join(roles))
        return grants

    return Depends(check)
