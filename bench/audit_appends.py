"""Audit chain appends per second on PostgreSQL, with 1, 2, 4 and 8 concurrent writers.

Each writer is a process that commits one transaction per append (as a transition does),
against the same writers committing one plain INSERT of the same size into a table with no
chain: the difference is what the one locked head row (`audit_head`) costs.

    MICROCRED_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:55432/postgres \\
        .venv/bin/python bench/audit_appends.py [--seconds 3]

It creates and drops its own database.
"""

import argparse
import multiprocessing
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session  # noqa: E402

from plumbing.database import build_engine  # noqa: E402
from plumbing.migrate import upgrade  # noqa: E402
from workflow import audit  # noqa: E402


def writer(url: str, mode: str, seconds: float, start: float, counts: "multiprocessing.Queue[int]"
           ) -> None:
    engine = build_engine(url, pool_size=1)
    detail = {"comment": "x" * 80}
    while time.time() < start:
        time.sleep(0.001)
    done = 0
    end = start + seconds
    while time.time() < end:
        with Session(engine) as session:
            if mode == "chain":
                audit.append(session, actor=None, role=None, channel="system",
                             action="bench", detail=detail)
            else:
                session.execute(text("INSERT INTO bench_plain (payload, hash) VALUES (:p, :h)"),
                                {"p": str(detail), "h": "0" * 64})
            session.commit()
        done += 1
    counts.put(done)
    engine.dispose()


def measure(url: str, mode: str, writers: int, seconds: float) -> float:
    counts: multiprocessing.Queue[int] = multiprocessing.Queue()
    start = time.time() + 1.0  # every process connected before the clock starts
    procs = [multiprocessing.Process(target=writer, args=(url, mode, seconds, start, counts))
             for _ in range(writers)]
    for p in procs:
        p.start()
    total = sum(counts.get() for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3)
    args = parser.parse_args()
    base = make_url(os.environ.get("MICROCRED_TEST_POSTGRES_URL",
                                   "postgresql+psycopg://postgres@127.0.0.1:55432/postgres"))
    name = f"microcred_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        engine = build_engine(url)
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE bench_plain (id bigserial PRIMARY KEY, "
                              "payload text NOT NULL, hash char(64) NOT NULL)"))
        engine.dispose()
        print(f"{'writers':>7} {'chain/s':>9} {'plain/s':>9} {'ratio':>6}")
        for writers in (1, 2, 4, 8):
            chain = measure(url, "chain", writers, args.seconds)
            plain = measure(url, "plain", writers, args.seconds)
            print(f"{writers:>7} {chain:>9.0f} {plain:>9.0f} {chain / plain:>6.2f}")
        engine = build_engine(url)
        with Session(engine) as session:
            result = audit.verify(session)
        print(f"chain verifies: {result.ok} ({result.entries} entries)")
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
