"""The real app under uvicorn, plus a baseline route that exists only in the benchmark.

`POST /bench/baseline/{proposal_id}` makes the database writes of one
transition, in one write transaction opened exactly as the service opens its
own (`write_session`, BEGIN IMMEDIATE behind the engine's writer lock): read
the proposal's state, one UPDATE of its state and version, one INSERT of an
audit entry hashed like the real ones, as statements prepared once
(`plumbing.statements.Prepared`), as the door's are. It has the JSON API's
shape (an async route, its database work run where the service runs its own,
`api.deps.database_work`), but no authentication, no access or
separation-of-duties checks, no state machine, no pre-screen, no outbox event,
no audit head and no response model beyond a small dict. The gap between it and
a real transition is what the workflow costs.

`GET /bench/memory` (also bench-only) answers the process's resident memory and
how many `transitions` objects and `Proposal` rows it holds right now, so a
benchmark can show that reading proposals leaves nothing behind per proposal.
`GET /bench/baseline-read/{proposal_id}` is the read counterpart of the
baseline: one SELECT of the row through the driver, no auth, no presenting.

Run by the benchmarks in this folder; by hand:
    .venv/bin/python bench/server.py --database-url sqlite:////tmp/x.db --port 8123 [--workers 4]
"""

import argparse
import gc
import itertools
import os
import socket
import sys
from datetime import UTC, datetime
from types import SimpleNamespace

import uvicorn
from fastapi import FastAPI, HTTPException
from sqlalchemy import Engine, bindparam, select, text
from uvicorn.supervisors import Multiprocess

from api.app import create_app
from api.deps import database_work
from plumbing.database import build_engine, read_session, write_session
from plumbing.settings import Settings
from plumbing.statements import Prepared
from workflow.audit import GENESIS_HASH, entry_hash
from workflow.models import AuditEntry, Proposal

# Baseline entries are numbered far above the real chain so the two never share a `seq`; the
# real appends keep reading audit_head, which the baseline leaves alone. Each web process gets
# its own block of a million (by pid), so several processes never share one either; the whole
# range stays under 2**31 for PostgreSQL's integer column.
BASELINE_SEQ_FLOOR = 1_000_000_000
BASELINE_BLOCK = 1_000_000
FLIP = {"rubric_review": "returned", "returned": "rubric_review"}


def add_baseline_route(app: FastAPI, engine: Engine) -> None:
    block = BASELINE_SEQ_FLOOR + (os.getpid() % 1000) * BASELINE_BLOCK
    with engine.connect() as connection:
        highest = connection.execute(
            text("SELECT max(seq) FROM audit_entry WHERE seq >= :low AND seq < :high"),
            {"low": block, "high": block + BASELINE_BLOCK}).scalar() or 0
    next_seq = itertools.count(max(highest, block) + 1)
    proposals, entries = Proposal.__table__, AuditEntry.__table__  # type: ignore[attr-defined]
    # Locked on PostgreSQL, as the door locks the row it changes; prepared once and run on the
    # driver's cursor, as the door's are (plumbing.statements).
    read_state = Prepared(select(proposals.c.state, proposals.c.version)
                          .where(proposals.c.id == bindparam("proposal_id")).with_for_update())
    move = Prepared(proposals.update().where(proposals.c.id == bindparam("proposal_id")))
    add_entry = Prepared(entries.insert())

    def transition(proposal_id: int) -> dict[str, object]:
        with write_session(engine) as session:
            row = read_state.first(session, {"proposal_id": proposal_id})
            if row is None:
                raise HTTPException(404, "no such proposal")
            state, version = row["state"], row["version"]
            new_state = FLIP.get(state, "rubric_review")
            now = datetime.now(UTC)
            move.run(session, {"state": new_state, "version": version + 1,
                               "updated_at": now, "proposal_id": proposal_id})
            entry = SimpleNamespace(
                seq=next(next_seq), at=now, actor_id=None, actor_email=None,
                role=None, channel="api", action="baseline", outcome="accepted",
                from_state=state, to_state=new_state, proposal_id=proposal_id,
                version=version + 1, detail={}, prev_hash=GENESIS_HASH)
            add_entry.run(session, {**vars(entry),
                                    "hash": entry_hash(entry)})  # type: ignore[arg-type]
            session.commit()
        return {"id": proposal_id, "state": new_state, "version": version + 1}

    # The request's shape is the JSON API's (api.deps.Api): an async route, its work run where
    # the service runs its own (api.deps.database_work), so the two differ only in what the
    # workflow does.
    @app.post("/bench/baseline/{proposal_id}", include_in_schema=False)
    async def baseline_transition(proposal_id: int) -> dict[str, object]:
        return await database_work(engine, True, lambda: transition(proposal_id))

    read_row = Prepared(select(proposals).where(proposals.c.id == bindparam("proposal_id")))

    def read(proposal_id: int) -> dict[str, object]:
        with read_session(engine) as session:
            row = read_row.first(session, {"proposal_id": proposal_id})
        if row is None:
            raise HTTPException(404, "no such proposal")
        return {"id": row["id"], "state": row["state"], "title": row["title"]}

    @app.get("/bench/baseline-read/{proposal_id}", include_in_schema=False)
    async def baseline_read(proposal_id: int) -> dict[str, object]:
        return await database_work(engine, False, lambda: read(proposal_id))


def resident_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def add_memory_route(app: FastAPI) -> None:

    @app.get("/bench/memory", include_in_schema=False)
    def memory() -> dict[str, object]:
        # What start-up built is frozen while the app serves (api.app), and `get_objects` does
        # not list frozen objects: thawed for the count, frozen again after.
        gc.unfreeze()
        try:
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
        finally:
            gc.freeze()
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
    add_baseline_route(app, engine)
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
