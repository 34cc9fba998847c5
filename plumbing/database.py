"""The database engine and sessions.

SQLite runs in WAL mode and takes its write lock when a write transaction
begins (BEGIN IMMEDIATE): with plain deferred transactions, two writers that
both read first deadlock on the upgrade and one fails with "database is
locked" instead of queueing behind the busy timeout. Within one process the
writers also queue on a lock of ours first: SQLite's busy handler waits by
sleeping with back-off, which left p99 near seconds under 16 writers.
"""

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from pydantic_core import from_json
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session

from plumbing.settings import get_settings

READ_ONLY = {"sqlite_begin": "DEFERRED"}
log = logging.getLogger(__name__)
# The database's own trouble, not the caller's: busy past the timeout, the server gone away
# (restart, failover), the connection lost. Worth waiting out and trying again.
DATABASE_AWAY = (OperationalError, InterfaceError)


class WriterBusy(Exception):
    """A write that was asked not to wait (`first_write_without_waiting`) found SQLite's writer
    taken, by another thread of this process or by another process; nothing had begun."""


# Set by `first_write_without_waiting`; the scope's first BEGIN spends it.
_no_wait: ContextVar[bool] = ContextVar("microcred_sqlite_no_wait", default=False)


@contextmanager
def first_write_without_waiting() -> Iterator[None]:
    """Within this scope the first SQLite write transaction begins only if it need not wait
    for the writer (else `WriterBusy`, before anything happened); later ones wait as always,
    so work that has committed something is never refused half-way. The scope's work runs in
    the caller's own context (not a copy), so the BEGIN that spends the flag spends it here."""
    token = _no_wait.set(True)
    try:
        yield
    finally:
        _no_wait.reset(token)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def build_engine(url: str, *, busy_timeout_ms: int = 30_000, pool_size: int = 10) -> Engine:
    """Create an engine configured for this service's concurrency rules."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            pool_size=pool_size,
            max_overflow=2 * pool_size,
            json_deserializer=read_json,
        )
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    return create_engine(
        url, pool_size=pool_size, max_overflow=2 * pool_size, pool_pre_ping=True,
        json_deserializer=read_json,
    )


def read_json(text: str | bytes) -> Any:
    """A stored JSON column's value, as `json.loads` reads it, through pydantic-core's parser:
    five times as fast, and a page of twenty proposals reads 120 of them. What that parser
    refuses and `json.loads` takes (a lone surrogate escape, NaN) is read by `json.loads`."""
    try:
        return from_json(text)
    except ValueError:
        return json.loads(text)


def sqlite_busy_timeout(engine: Engine) -> float:
    """How long, in seconds, a write to this SQLite engine may wait for the writer."""
    return float(engine.__dict__.get("_microcred_busy_timeout_ms", 30_000)) / 1000


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    engine.__dict__["_microcred_busy_timeout_ms"] = busy_timeout_ms
    writer = threading.Lock()
    holders: set[int] = set()  # ids of the DBAPI connections holding `writer`

    def release(dbapi_connection: Any) -> None:
        # The dialect hooks get the pool's proxy; the "begin" event recorded the raw connection.
        raw = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)
        if id(raw) in holders:
            holders.discard(id(raw))
            writer.release()

    # Release after SQLite has really committed or rolled back (the "commit" event fires before),
    # so the next writer never meets SQLite's own lock. The pool's reset-on-return rolls back
    # through here as well, so a session dropped mid-transaction cannot keep the lock.
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            release(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            release(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]

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
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        raw = connection.connection.dbapi_connection
        without_waiting = _no_wait.get() and mode == "IMMEDIATE"
        _no_wait.set(False)  # only a scope's first BEGIN may step aside
        # Re-entrant per connection: Alembic ends some transactions with plain SQL.
        if mode == "IMMEDIATE" and id(raw) not in holders:
            if without_waiting:
                if not writer.acquire(blocking=False):
                    raise WriterBusy("another thread of this process is writing")
            elif not writer.acquire(timeout=busy_timeout_ms / 1000):
                raise OperationalError("BEGIN IMMEDIATE", None,
                                       Exception("database is busy: writers queued too long"))
            holders.add(id(raw))
        assert raw is not None
        if without_waiting:
            # Another process may hold SQLite's own write lock: ask once, without its busy wait.
            raw.execute("PRAGMA busy_timeout=0")
        try:
            connection.exec_driver_sql(f"BEGIN {mode}")
        except OperationalError as error:
            release(raw)
            code = getattr(error.orig, "sqlite_errorcode", 0) & 0xFF
            if without_waiting and code == sqlite3.SQLITE_BUSY:
                raise WriterBusy("another process is writing") from error
            raise
        except BaseException:
            release(raw)
            raise
        finally:
            if without_waiting:
                raw.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for a database URL (the configured one by default)."""
    settings = get_settings()
    return build_engine(
        url or settings.database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=settings.database_pool_size,
    )


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
            log.warning("closing a database session failed; dropping its connection: %s",
                        error.orig)
            session.invalidate()


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    with _closing(Session(engine, expire_on_commit=False)) as session:
        yield session


def reading(session: Session) -> Session:
    """Make the session's next transaction a read (on SQLite: no writer lock), for an answer
    read after a write session committed."""
    if not session.in_transaction():
        session.connection(execution_options=READ_ONLY)
    return session


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with _closing(Session(read_only(engine), expire_on_commit=False)) as session:
        yield session


def read_only(engine: Engine) -> Engine:
    """The engine's read-only twin (same pool), made once per engine: a session on a twin made
    afresh costs a quarter more than one on a twin it has seen."""
    twin: Engine | None = engine.__dict__.get("_microcred_read_only")
    if twin is None:
        # Kept on the engine itself, so the two go away together.
        twin = engine.__dict__["_microcred_read_only"] = engine.execution_options(**READ_ONLY)
    return twin
