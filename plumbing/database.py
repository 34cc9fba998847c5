"""The database engine and sessions.

SQLite runs in WAL mode, and a write transaction takes SQLite's write lock when it begins
(`BEGIN IMMEDIATE`, SQLAlchemy's documented pysqlite recipe): with deferred transactions two
writers that both read first deadlock on the upgrade, and one fails with "database is locked"
instead of waiting out the busy timeout. Read sessions begin deferred, so readers never wait
for a writer.

SQLite has one writer at a time. A web process writes through an engine of one pooled
connection (`writer_engine`), so its writers wait in the pool's queue, served in the order
they came; left to SQLite's busy handler, which sleeps and polls with growing pauses, a writer
that has waited long is passed over by newer ones.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session

from plumbing.logs import Throttled, first_line
from plumbing.settings import get_settings

# The execution option that picks how a SQLite transaction begins.
SQLITE_BEGIN = "sqlite_begin"
READ_ONLY = {SQLITE_BEGIN: "DEFERRED"}
log = logging.getLogger(__name__)
closing_failed = Throttled(log, 10)
# The database's own trouble, not the caller's: busy past the timeout, the server gone away
# (restart, failover), the connection lost. Worth waiting out and trying again.
DATABASE_AWAY = (OperationalError, InterfaceError)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def build_engine(url: str, *, busy_timeout_ms: int = 30_000, pool_size: int = 10,
                 application_name: str = "microcred") -> Engine:
    """Create an engine configured for this service's concurrency rules.

    On PostgreSQL each connection names its process kind (`application_name`, seen in
    pg_stat_activity), unless the URL names one itself."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            pool_size=pool_size,
            max_overflow=2 * pool_size if pool_size > 1 else 0,
            pool_timeout=busy_timeout_ms / 1000,
        )
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    named = "application_name" in make_url(url).query
    return create_engine(url, pool_size=pool_size, max_overflow=2 * pool_size,
                         pool_pre_ping=True,
                         connect_args={} if named else {"application_name": application_name})


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, decide how a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


def writer_engine(engine: Engine, busy_timeout_ms: int) -> Engine:
    """The engine a web process writes through: for SQLite, one connection to the same file,
    whose pool queues the writers; for PostgreSQL, whose row locks let writers run side by
    side, the engine itself."""
    if not is_sqlite(engine):
        return engine
    return build_engine(engine.url.render_as_string(hide_password=False),
                        busy_timeout_ms=busy_timeout_ms, pool_size=1)


@lru_cache(maxsize=8)
def get_engine(url: str | None = None, application_name: str = "microcred") -> Engine:
    """The process-wide engine for a database URL (the configured one by default)."""
    settings = get_settings()
    return build_engine(
        url or settings.database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=settings.database_pool_size,
        application_name=application_name,
    )


def shown_url(url: str) -> str:
    """A database URL fit to print: its password masked."""
    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def _closing(session: Session) -> Iterator[Session]:
    try:
        yield session
    finally:
        try:
            session.close()
        except DATABASE_AWAY as error:
            # Closing only rolls back what is left; when the server has gone away (restart,
            # failover) there is nothing to roll back, and raising here would turn an answered
            # request into a dropped connection.
            closing_failed.warning("closing a database session failed; dropping its "
                                   "connection: %s", first_line(error))
            session.invalidate()


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    with _closing(Session(engine, expire_on_commit=False)) as session:
        yield session


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reading: on SQLite its transactions take no write lock. Like every
    session it takes a connection from the pool only when it first runs a statement."""
    with _closing(Session(engine.execution_options(**READ_ONLY),
                          expire_on_commit=False)) as session:
        yield session
