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
from sqlmodel import Session

from plumbing.database import is_sqlite, read_session, write_session
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
# The JSON API's database work runs in these threads, one trip per request (see Api). Reads,
# and writes on PostgreSQL (row locks let them run side by side): as many threads as the
# engine's pool hands out connections (pool and overflow), so none waits for one.
WORK_THREADS = ThreadPoolExecutor(max_workers=30, thread_name_prefix="microcred-api")
# Writes on SQLite, which has one writer: one thread takes them in turn. Sixteen threads
# queueing on the writer lock cost more in handing it (and the GIL) around than the writes
# themselves: measured, a third more transitions per second and a lower p99 with one thread.
SQLITE_WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="microcred-sqlite-writer")


# Reads on SQLite are CPU, and one process has one GIL: more threads only hand it around. With
# 50 clients reading, one thread answered 557 calls/s, 30 threads 298; two keep one slow read
# from holding up the rest.
SQLITE_READERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="microcred-sqlite-reader")


async def in_worker_thread(engine: Engine, write: bool, work: Callable[[], T]) -> T:
    """Run blocking database work off the event loop, in the threads its kind of work uses."""
    if is_sqlite(engine):
        threads = SQLITE_WRITER if write else SQLITE_READERS
    else:
        threads = WORK_THREADS
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(threads, context.run, work)


class Api:
    """A request's database work and its caller's token check, run together in one thread.

    A sync dependency and a sync endpoint are two trips to the threadpool, each costing about
    as much as the whole database work of a transition; this makes it one, on one connection.
    """

    def __init__(self, engine: Engine, token: str) -> None:
        self.engine = engine
        self.token = token

    async def write(self, work: Callable[[Session, Grants], T]) -> T:
        """Run `work` with a write session (it commits) and the caller's grants."""
        return await self._in_thread(write_session, work, write=True)

    async def read(self, work: Callable[[Session, Grants], T]) -> T:
        """Run `work` with a read session (one snapshot) and the caller's grants."""
        return await self._in_thread(read_session, work, write=False)

    async def _in_thread(self, opening: Callable[[Engine], AbstractContextManager[Session]],
                         work: Callable[[Session, Grants], T], *, write: bool) -> T:
        def run() -> T:
            with opening(self.engine) as session:
                grants = grants_for_token(session, self.token)
                if grants is None:
                    raise unauthorized()
                return work(session, grants)

        return await in_worker_thread(self.engine, write, run)


def unauthorized() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or invalid bearer token",
                         headers={"WWW-Authenticate": "Bearer"})


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The token a request carries, or a 401 before any database work."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized()
    return credentials.credentials


async def get_api(
    engine: Annotated[Engine, Depends(get_engine)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Api:
    return Api(engine, bearer_token(credentials))


ApiDep = Annotated[Api, Depends(get_api)]


def require(*roles: Role) -> Any:
    def check(grants: CurrentUser) -> Grants:
        if not grants.global_roles & set(roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                "this needs the role " + " or ".join(roles))
        return grants

    return Depends(check)
