"""The real app under uvicorn, plus a baseline route that exists only in the benchmark.

`POST /bench/baseline/{proposal_id}` makes the database writes of one
transition, in one write transaction opened exactly as the service opens its
own (`write_session`, BEGIN IMMEDIATE behind the engine's writer lock): read
the proposal's state, one UPDATE of its state and version, one INSERT of an
audit entry hashed like the real ones. No authentication, no access or
separation-of-duties checks, no state machine, no pre-screen, no response
model beyond a small dict. The gap between it and a real transition is what
the workflow costs.

Run by `bench/workflow_throughput.py`; by hand:
    .venv/bin/python bench/server.py --database-url sqlite:////tmp/x.db --port 8123
"""

import argparse
import itertools
from datetime import UTC, datetime
from types import SimpleNamespace

import uvicorn
from fastapi import FastAPI, HTTPException
from sqlalchemy import Engine, text

from api.app import create_app
from plumbing.database import build_engine, write_session
from plumbing.settings import Settings
from workflow.audit import GENESIS_HASH, entry_hash

# Baseline entries are numbered far above the real chain so the two never share a `seq`; the
# real appends keep reading audit_head, which the baseline leaves alone.
BASELINE_SEQ_FLOOR = 1_000_000_000
FLIP = {"rubric_review": "returned", "returned": "rubric_review"}


def stored_time(moment: datetime | None = None) -> str:
    """A time as SQLAlchemy's SQLite DateTime stores it (UTC, no offset)."""
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S.%f")


def add_baseline_route(app: FastAPI, engine: Engine) -> None:
    with engine.connect() as connection:
        highest = connection.execute(text("SELECT max(seq) FROM audit_entry")).scalar() or 0
    next_seq = itertools.count(max(highest, BASELINE_SEQ_FLOOR) + 1)

    @app.post("/bench/baseline/{proposal_id}", include_in_schema=False)
    def baseline_transition(proposal_id: int) -> dict[str, object]:
        with write_session(engine) as session:
            row = session.execute(text("SELECT state, version FROM proposal WHERE id = :id"),
                                  {"id": proposal_id}).first()
            if row is None:
                raise HTTPException(404, "no such proposal")
            state, version = row
            new_state = FLIP.get(state, "rubric_review")
            session.execute(
                text("UPDATE proposal SET state = :state, version = :version,"
                     " updated_at = :at WHERE id = :id"),
                {"state": new_state, "version": version + 1, "at": stored_time(),
                 "id": proposal_id})
            entry = SimpleNamespace(
                seq=next(next_seq), at=datetime.now(UTC), actor_id=None, actor_email=None,
                role=None, channel="api", action="baseline", outcome="accepted",
                from_state=state, to_state=new_state, proposal_id=proposal_id,
                version=version + 1, detail={}, prev_hash=GENESIS_HASH)
            session.execute(
                text("INSERT INTO audit_entry (seq, at, channel, action, outcome, from_state,"
                     " to_state, proposal_id, version, detail, prev_hash, hash) VALUES (:seq,"
                     " :at, :channel, :action, :outcome, :from_state, :to_state, :proposal_id,"
                     " :version, '{}', :prev_hash, :hash)"),
                {**vars(entry), "at": stored_time(entry.at),
                 "hash": entry_hash(entry)})  # type: ignore[arg-type]
            session.commit()
        return {"id": proposal_id, "state": new_state, "version": version + 1}


def build(database_url: str) -> FastAPI:
    """The service as `microcred serve` builds it, plus the baseline route."""
    settings = Settings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    engine = build_engine(database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms,
                          pool_size=settings.database_pool_size)
    app = create_app(settings, engine)
    add_baseline_route(app, engine)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # Without the per-request access log: it would flood the terminal and costs both routes alike.
    uvicorn.run(build(args.database_url), host="127.0.0.1", port=args.port, workers=1,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
