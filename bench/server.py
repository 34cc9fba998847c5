"""The real app under uvicorn, plus a baseline route that exists only in the benchmark.

`POST /bench/baseline/{proposal_id}` makes the database writes of one
transition as a plain FastAPI route (a `def` endpoint in FastAPI's threadpool)
on the database's own driver (sqlite3, or psycopg for PostgreSQL): BEGIN
IMMEDIATE, read the proposal's state, one UPDATE of its state and version, one
INSERT of an audit entry hashed like the real ones, COMMIT. No authentication,
no access or separation-of-duties checks, no state machine, no pre-screen, no
outbox event, no audit head, no ORM and no response model beyond a small dict.
The gap between it and a real transition is what the workflow and its
framework cost.

`GET /bench/memory` (also bench-only) answers the process's resident memory and
how many `transitions` objects and `Proposal` rows it holds right now, so a
benchmark can show that reading proposals leaves nothing behind per proposal.
`GET /bench/baseline-read/{proposal_id}` is the read counterpart of the
baseline: one SELECT of the row on the driver, no auth, no presenting.

Run by the benchmarks in this folder; by hand:
    .venv/bin/python bench/server.py --database-url sqlite:////tmp/x.db --port 8123 [--workers 4]
"""

import argparse
import gc
import itertools
import os
import socket
import sqlite3
import sys
import threading
from contextlib import closing
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import psycopg
import uvicorn
from fastapi import FastAPI, HTTPException
from sqlalchemy.engine import make_url
from uvicorn.supervisors import Multiprocess

from api.app import create_app
from plumbing.database import build_engine
from plumbing.settings import Settings
from workflow.audit import GENESIS_HASH, entry_hash
from workflow.proposals.models import Proposal

# Baseline entries are numbered far above the real chain so the two never share a `seq`; the
# real appends keep reading audit_head, which the baseline leaves alone. Each web process gets
# its own block of a million (by pid), so several processes never share one either; the whole
# range stays under 2**31 for PostgreSQL's integer column.
BASELINE_SEQ_FLOOR = 1_000_000_000
BASELINE_BLOCK = 1_000_000
FLIP = {"rubric_review": "returned", "returned": "rubric_review"}


def add_baseline_route(app: FastAPI, database_url: str) -> None:
    """The same writes as a transition, as a plain FastAPI route on the database's own driver."""
    url = make_url(database_url)
    sqlite = url.get_backend_name() == "sqlite"
    block = BASELINE_SEQ_FLOOR + (os.getpid() % 1000) * BASELINE_BLOCK
    local = threading.local()

    def connection() -> Any:
        # One connection per threadpool thread, kept: a pool, as the service's engine keeps one.
        conn = getattr(local, "conn", None)
        if conn is None:
            if sqlite:
                conn = sqlite3.connect(url.database or "", timeout=30, isolation_level=None,
                                       check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            else:
                conn = psycopg.connect(url.set(drivername="postgresql").render_as_string(
                    hide_password=False), autocommit=True)
            local.conn = conn
        return conn

    mark = "?" if sqlite else "%s"
    with closing(connection()) as first:
        highest = first.execute(
            f"SELECT max(seq) FROM audit_entry WHERE seq >= {mark} AND seq < {mark}",
            (block, block + BASELINE_BLOCK)).fetchone()[0] or 0
    local.conn = None
    next_seq = itertools.count(max(highest, block) + 1)
    lock_row = "" if sqlite else " FOR UPDATE"
    columns = ("seq", "at", "actor_id", "actor_email", "role", "channel", "action", "outcome",
               "from_state", "to_state", "proposal_id", "version", "detail", "prev_hash", "hash")
    insert = (f"INSERT INTO audit_entry ({', '.join(columns)}) "
              f"VALUES ({', '.join([mark] * len(columns))})")

    @app.post("/bench/baseline/{proposal_id}", include_in_schema=False)
    def baseline_transition(proposal_id: int) -> dict[str, object]:
        conn = connection()
        conn.execute("BEGIN IMMEDIATE" if sqlite else "BEGIN")
        try:
            row = conn.execute(f"SELECT state, version FROM proposal WHERE id = {mark}{lock_row}",
                               (proposal_id,)).fetchone()
            if row is None:
                raise HTTPException(404, "no such proposal")
            state, version = row
            new_state = FLIP.get(state, "rubric_review")
            now = datetime.now(UTC)
            conn.execute(f"UPDATE proposal SET state = {mark}, version = {mark}, "
                         f"updated_at = {mark} WHERE id = {mark}",
                         (new_state, version + 1, stored_time(now, sqlite), proposal_id))
            entry = SimpleNamespace(
                seq=next(next_seq), at=now, actor_id=None, actor_email=None,
                role=None, channel="api", action="baseline", outcome="accepted",
                from_state=state, to_state=new_state, proposal_id=proposal_id,
                version=version + 1, detail={}, prev_hash=GENESIS_HASH)
            values = {**vars(entry), "hash": entry_hash(entry)}  # type: ignore[arg-type]
            values["at"] = stored_time(now, sqlite)
            values["detail"] = "{}"
            conn.execute(insert, tuple(values[name] for name in columns))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return {"id": proposal_id, "state": new_state, "version": version + 1}

    @app.get("/bench/baseline-read/{proposal_id}", include_in_schema=False)
    def baseline_read(proposal_id: int) -> dict[str, object]:
        row = connection().execute(f"SELECT id, state, title FROM proposal WHERE id = {mark}",
                                   (proposal_id,)).fetchone()
        if row is None:
            raise HTTPException(404, "no such proposal")
        return {"id": row[0], "state": row[1], "title": row[2]}


def stored_time(moment: datetime, sqlite: bool) -> object:
    """A time as SQLAlchemy's DateTime stores it: text on SQLite, the value on PostgreSQL."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else moment


def resident_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def add_memory_route(app: FastAPI) -> None:

    @app.get("/bench/memory", include_in_schema=False)
    def memory() -> dict[str, object]:
        gc.collect()
        by_module: dict[str, int] = {}
        proposals = 0
        for thing in gc.get_objects():
            kind = type(thing)
            module = kind.__module__  # not always a str: some C types answer a descriptor
            if isinstance(module, str) and module.startswith("transitions"):
                by_module[kind.__name__] = by_module.get(kind.__name__, 0) + 1
            elif kind is Proposal:
                proposals += 1
        return {"pid": os.getpid(), "rss_kib": resident_kib(),
                "transitions_objects": sum(by_module.values()),
                "transitions_by_type": by_module, "proposal_rows": proposals}


def build(database_url: str) -> FastAPI:
    """The service as `microcred serve` builds it, plus the bench-only routes."""
    settings = Settings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    engine = build_engine(database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms,
                          pool_size=settings.database_pool_size)
    app = create_app(settings, engine)
    own = len(app.router.routes)
    add_baseline_route(app, database_url)
    add_memory_route(app)
    # Routing walks the routes in order: the bench's go before the service's routers (after
    # FastAPI's four documentation routes), so the baseline pays no more routing than a
    # transition does (the busiest router, the proposals', comes first in the service).
    added = app.router.routes[own:]
    del app.router.routes[own:]
    app.router.routes[4:4] = added
    return app


def from_environment() -> FastAPI:
    """The factory each worker process calls when uvicorn runs several."""
    return build(os.environ["MICROCRED_DATABASE_URL"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1, help="web processes (default 1)")
    args = parser.parse_args()
    # Without the per-request access log: it would flood the terminal and costs both routes alike.
    if args.workers == 1:
        uvicorn.run(build(args.database_url), host="127.0.0.1", port=args.port,
                    log_level="warning", access_log=False)
        return
    os.environ["MICROCRED_DATABASE_URL"] = args.database_url
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    config = uvicorn.Config("server:from_environment", factory=True, host="127.0.0.1",
                            port=args.port, workers=args.workers, log_level="warning",
                            access_log=False)
    Multiprocess(config, sockets=[tcp_listener("127.0.0.1", args.port)]).run()


def tcp_listener(host: str, port: int) -> socket.socket:
    """A listening socket whose connections get TCP_NODELAY.

    `uvicorn --workers N` binds `socket.socket(family)`, whose protocol number is 0; asyncio
    sets TCP_NODELAY only on sockets that say IPPROTO_TCP, so every response (headers and body
    are two writes) waits out the client's delayed ACK: about 40 ms per request on Linux.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock

if __name__ == "__main__":
    main()
