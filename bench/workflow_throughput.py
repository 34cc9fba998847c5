"""Workflow transitions per second against a same-writes baseline, and as the database grows.

Run by hand from the repository root:

    .venv/bin/python bench/workflow_throughput.py            # full: about a minute
    .venv/bin/python bench/workflow_throughput.py --quick    # under a minute

Part 1 starts the real server (uvicorn, one worker, a fresh SQLite file) and
drives submit / approve / return / resubmit cycles from 16 concurrent HTTP
clients, each on its own proposal; and, in the same run and against the same
server, a baseline route that makes the same database writes (one UPDATE of
the proposal, one INSERT of an audit entry) with no workflow logic. The two
take five turns each, alternately, so a drift in the machine's speed falls
on both alike; the ratio is of their totals, and each turn's is printed too.
Targets: workflow >= 0.6 x baseline throughput, workflow p99 < 50 ms.

With --matrix, part 1 runs on SQLite and on PostgreSQL (--postgres-url, or
MICROCRED_BENCH_POSTGRES_URL; a fresh database is made there and dropped), each
with 1 and with 4 web processes (uvicorn --workers), and ends with one table.

Part 2 runs the same workflow load on a database of 1,000 proposals and on
one of 100,000 proposals with 1,000,000 audit entries (--quick: 10,000 and
100,000). Target: time per transition within 20% of each other.
"""

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import load  # bench/ is the script's folder, so first on sys.path
from load import Call
from server import BASELINE_SEQ_FLOOR
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from api.demo import sample_proposal
from plumbing.database import build_engine, read_session, write_session
from plumbing.migrate import upgrade
from workflow import service
from workflow.accounts.models import DepartmentCreate, Role, User
from workflow.accounts.service import add_department, add_user, issue_token
from workflow.audit import GENESIS_HASH, AuditEntry, Channel, entry_hash
from workflow.proposals.models import Proposal

BENCH = Path(__file__).resolve().parent
CLIENTS = 16
WARMUP_STEPS = 12
SOLO_STEPS = 100
ROUNDS = 5  # turns each of the workflow and the baseline take in part 1
RETURN_COMMENT = "Please make the assessment measurable."
# How SQLAlchemy's SQLite DateTime stores a time, so bulk rows read back like live ones.
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"

# The ten-step life behind each seeded proposal's history: action, from, to, role.
HISTORY = [
    ("create", None, "draft", "submitter"),
    ("edit", "draft", "draft", "submitter"),
    ("submit", "draft", "department_review", "submitter"),
    ("approve", "department_review", "rubric_review", "department_lead"),
    ("review", "rubric_review", "rubric_review", "coordinator"),
    ("return", "rubric_review", "returned", "coordinator"),
    ("edit", "returned", "returned", "submitter"),
    ("resubmit", "returned", "rubric_review", "submitter"),
    ("approve", "rubric_review", "design_review", "coordinator"),
    ("approve", "design_review", "published", "coordinator"),
]
SEEDED_STATES = ["published", "published", "published", "withdrawn", "rejected", "retired",
                 "draft", "returned", "withdrawn", "draft"]


# --- the database ------------------------------------------------------------


@dataclass
class People:
    owners: list[str]  # one submitter's token per client
    lead: str
    coordinator: str
    emails: dict[str, tuple[int, str]]  # role -> (id, email) of someone holding it


@dataclass
class Database:
    name: str
    url: str
    path: Path | None  # None on PostgreSQL
    people: People
    seeded_proposals: int
    seeded_entries: int
    admin_url: str | None = None  # where to drop a PostgreSQL database at the end

    @property
    def backend(self) -> str:
        return "PostgreSQL" if self.path is None else "SQLite"

    def drop(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            return
        admin = create_engine(self.admin_url or "", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(
                f'DROP DATABASE IF EXISTS "{make_url(self.url).database}" WITH (FORCE)'))
        admin.dispose()


def seed_people(session: Session) -> People:
    add_department(session, DepartmentCreate(code="CS", name="Computer Science"))
    owners = [add_user(session, f"owner{n}@arizona.edu", f"Owner {n}", [Role.SUBMITTER], "CS")
              for n in range(CLIENTS)]
    lead = add_user(session, "lead@arizona.edu", "Lead", [Role.DEPARTMENT_LEAD], "CS")
    coordinator = add_user(session, "badge@arizona.edu", "Coordinator", [Role.COORDINATOR])
    return People(
        owners=[issue_token(session, owner) for owner in owners],
        lead=issue_token(session, lead),
        coordinator=issue_token(session, coordinator),
        emails={"submitter": (owners[0].id or 0, owners[0].email),
                "department_lead": (lead.id or 0, lead.email),
                "coordinator": (coordinator.id or 0, coordinator.email)},
    )


def bulk_proposals(engine: Engine, count: int) -> tuple[int, int]:
    """Insert `count` complete proposals in a spread of states; answer the first and last id."""
    template = sample_proposal("x", "CS").model_dump(mode="json", exclude={"department"})
    since = datetime(2024, 1, 1, tzinfo=UTC)
    with engine.begin() as connection:
        first = int(connection.execute(
            text("SELECT coalesce(max(id), 0) + 1 FROM proposal")).scalar_one())
        for start in range(0, count, 10_000):
            rows = [{**template, "title": f"Seeded credential {first + n}", "department_id": 1,
                     "owner_id": 1 + n % CLIENTS,
                     "state": SEEDED_STATES[n % len(SEEDED_STATES)],
                     "version": len(HISTORY), "created_at": since + timedelta(minutes=n),
                     "updated_at": since + timedelta(minutes=n)}
                    for n in range(start, min(count, start + 10_000))]
            connection.execute(insert(Proposal), rows)
    return first, first + count - 1


def bulk_audit_history(path: Path, people: People, first_id: int, last_id: int) -> int:
    """Append ten hash-chained entries per proposal straight into SQLite; move the head along."""
    columns = ("seq", "at", "actor_id", "actor_email", "role", "channel", "action", "outcome",
               "from_state", "to_state", "proposal_id", "version", "detail", "prev_hash", "hash")
    statement = (f"INSERT INTO audit_entry ({', '.join(columns)}) "
                 f"VALUES ({', '.join('?' * len(columns))})")
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("BEGIN IMMEDIATE")
    seq, prev_hash = connection.execute(
        "SELECT last_seq, last_hash FROM audit_head WHERE id = 1").fetchone()
    # One reused stand-in, hashed by the product's own entry_hash, so the chain verifies.
    entry = SimpleNamespace(seq=0, at=None, actor_id=None, actor_email=None, role=None,
                            channel="web", action="", outcome="accepted", from_state=None,
                            to_state=None, proposal_id=None, version=None, detail={},
                            prev_hash="")
    at = datetime(2024, 1, 1, tzinfo=UTC)
    batch: list[tuple[object, ...]] = []
    for proposal_id in range(first_id, last_id + 1):
        for version, (action, from_state, to_state, role) in enumerate(HISTORY, start=1):
            seq += 1
            at += timedelta(seconds=3)
            actor_id, actor_email = people.emails[role]
            entry.seq, entry.at, entry.actor_id, entry.actor_email = seq, at, actor_id, actor_email
            entry.role, entry.action, entry.from_state, entry.to_state = (
                role, action, from_state, to_state)
            entry.proposal_id, entry.version, entry.prev_hash = proposal_id, version, prev_hash
            digest = entry_hash(entry)  # type: ignore[arg-type]
            batch.append((seq, at.strftime(SQLITE_TIME), actor_id, actor_email, role, "web",
                          action, "accepted", from_state, to_state, proposal_id, version, "{}",
                          prev_hash, digest))
            prev_hash = digest
        if len(batch) >= 50_000:
            connection.executemany(statement, batch)
            batch.clear()
    connection.executemany(statement, batch)
    connection.execute("UPDATE audit_head SET last_seq = ?, last_hash = ? WHERE id = 1",
                       (seq, prev_hash))
    connection.execute("COMMIT")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return (last_id - first_id + 1) * len(HISTORY)


def build_postgres_database(admin_url: str, name: str, seeded_proposals: int = 0) -> Database:
    """A fresh PostgreSQL database beside the others on that server: schema, people, proposals."""
    database = f"microcred_bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=database).render_as_string(hide_password=False)
    engine = build_engine(url)
    upgrade(engine)
    with write_session(engine) as session:
        people = seed_people(session)
    if seeded_proposals:
        bulk_proposals(engine, seeded_proposals)
    engine.dispose()
    return Database(name, url, None, people, seeded_proposals, 0, admin_url)


def build_database(folder: Path, name: str, seeded_proposals: int, *,
                   with_history: bool = True) -> Database:
    """A fresh file: schema, people, and `seeded_proposals` with ten audit entries each."""
    path = folder / f"{name}.db"
    url = f"sqlite:///{path}"
    engine = build_engine(url)
    upgrade(engine)
    with write_session(engine) as session:
        people = seed_people(session)
    entries = 0
    if seeded_proposals:
        first, last = bulk_proposals(engine, seeded_proposals)
        engine.dispose()
        if with_history:
            entries = bulk_audit_history(path, people, first, last)
    engine.dispose()
    return Database(name, url, path, people, seeded_proposals, entries)


def new_drafts(database: Database, count: int) -> list[int]:
    """Create drafts through the service, client n's owned by owner n."""
    engine = build_engine(database.url)
    ids = []
    with write_session(engine) as session:
        users = {user.email: user for user in session.exec(select(User)).all()}
        for n in range(count):
            proposal = service.create_proposal(
                session, sample_proposal(f"Benchmark credential {time.time_ns()}-{n}", "CS"),
                users[f"owner{n % CLIENTS}@arizona.edu"], Channel.API)
            ids.append(proposal.id or 0)
    engine.dispose()
    return ids


def counts(database: Database) -> tuple[int, int]:
    engine = build_engine(database.url)
    with engine.connect() as connection:
        proposals = connection.execute(text("SELECT count(*) FROM proposal")).scalar_one()
        entries = connection.execute(text("SELECT count(*) FROM audit_entry")).scalar_one()
    engine.dispose()
    return int(proposals), int(entries)


def verify_tail(database: Database, entries: int | None = None) -> str:
    """Check the newest `entries` links (seeded ones and live ones; all of them by default) and
    the head, as verify does."""
    engine = build_engine(database.url)
    with read_session(engine) as session:
        rows = list(reversed(session.exec(
            select(AuditEntry).where(col(AuditEntry.seq) < BASELINE_SEQ_FLOOR)
            .order_by(col(AuditEntry.seq).desc()).limit(entries)).all()))
        head = session.execute(text("SELECT last_seq, last_hash FROM audit_head")).one()
    engine.dispose()
    previous = rows[0].prev_hash if rows[0].seq > 1 else GENESIS_HASH
    for entry in rows:
        if entry.prev_hash != previous or entry_hash(entry) != entry.hash:
            return f"BROKEN at seq {entry.seq}"
        previous = entry.hash
    if tuple(head) != (rows[-1].seq, rows[-1].hash):
        return "BROKEN: the head does not name the last entry"
    return f"ok (last {len(rows)} links, seq {rows[0].seq}..{rows[-1].seq}, and the head)"


# --- the server --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def running_server(database: Database, folder: Path, workers: int = 1) -> Iterator[str]:
    """Run bench/server.py (with `workers` web processes) on a free port; yield its base URL."""
    port = free_port()
    log = (folder / f"{database.name}.server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, str(BENCH / "server.py"), "--database-url", database.url,
         "--port", str(port), "--workers", str(workers)],
        # The temp dir as cwd, so no stray .env changes the service's settings.
        cwd=folder, env={**os.environ, "MICROCRED_DATABASE_URL": database.url},
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.close()
                sys.exit(f"the server did not start:\n{(folder / log.name).read_text()}")
            time.sleep(0.1)
        if workers > 1:
            time.sleep(3)  # the first process answers before the others have started
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


# --- the load ----------------------------------------------------------------

def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def workflow_calls(proposal_id: int, owner: str, people: People, steps: int,
                   kind: str = "write") -> list[Call]:
    """submit, approve, then return and resubmit in turn: `steps` transitions in all."""
    path = f"/api/proposals/{proposal_id}/"
    calls: list[Call] = [Call(path + "submit", None, bearer(owner), kind=kind),
                         Call(path + "approve", None, bearer(people.lead), kind=kind)]
    while len(calls) < steps:
        calls.append(Call(path + "return", {"comment": RETURN_COMMENT},
                          bearer(people.coordinator), kind=kind))
        calls.append(Call(path + "resubmit", None, bearer(owner), kind=kind))
    return calls[:steps]


def baseline_calls(proposal_id: int, steps: int) -> list[Call]:
    return [Call(f"/bench/baseline/{proposal_id}", kind="write")] * steps


@dataclass
class Figures:
    label: str
    seconds: float
    latencies: list[float]
    errors: int
    first_error: str

    @property
    def transitions(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.transitions / self.seconds

    @property
    def ms_per_transition(self) -> float:
        return 1000 * self.seconds / self.transitions

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        ordered = sorted(self.latencies)
        return 1000 * ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))]

    def as_dict(self) -> dict[str, float | int]:
        return {"transitions": self.transitions, "seconds": round(self.seconds, 3),
                "per_second": round(self.per_second, 1),
                "p50_ms": round(self.percentile(50), 2), "p99_ms": round(self.percentile(99), 2),
                "errors": self.errors}


def drive(base: str, label: str, plans: list[list[Call]]) -> Figures:
    """One lean client (bench/load.py) and one keep-alive connection per plan; all start
    together."""
    results = load.run(base, list(plans))
    return Figures(label, results.seconds, results.all_latencies(), len(results.problems),
                   results.problems[0] if results.problems else "")


def run_workflow(base: str, database: Database, label: str, steps: int,
                 clients: int = CLIENTS) -> Figures:
    """Warm up on throwaway proposals, then measure `steps` transitions per client."""
    people = database.people
    warm = new_drafts(database, clients)
    drive(base, "warm-up", [workflow_calls(pid, people.owners[n], people, WARMUP_STEPS)
                            for n, pid in enumerate(warm)])
    measured = new_drafts(database, clients)
    figures = drive(base, label, [workflow_calls(pid, people.owners[n], people, steps)
                                  for n, pid in enumerate(measured)])
    engine = build_engine(database.url)
    with engine.connect() as connection:
        versions = connection.execute(
            select(Proposal.version).where(col(Proposal.id).in_(measured))).scalars().all()
    engine.dispose()
    # Each accepted transition bumps the version once; a lost or doubled one shows here.
    wrong = [v for v in versions if v != 1 + steps]
    if wrong and not figures.errors:
        figures.errors = len(wrong)
        figures.first_error = f"versions {sorted(set(versions))} where {1 + steps} was due"
    return figures


def run_baseline(base: str, database: Database, label: str, steps: int,
                 clients: int = CLIENTS) -> Figures:
    warm, measured = new_drafts(database, clients), new_drafts(database, clients)
    drive(base, "warm-up", [baseline_calls(pid, WARMUP_STEPS) for pid in warm])
    return drive(base, label, [baseline_calls(pid, steps) for pid in measured])


def audit_verify(base: str, people: People) -> str:
    """The service's own full chain check (GET /api/audit/verify)."""
    answer = httpx.get(f"{base}/api/audit/verify", timeout=600,
                       headers={"Authorization": f"Bearer {people.coordinator}"}).json()
    return f"ok={answer['ok']} over {answer['entries']} entries" + (
        f", first bad {answer['first_bad']}" if answer.get("first_bad") else "")


# --- the report --------------------------------------------------------------

HEADER = (f"  {'run':42} {'transitions':>11} {'per s':>8} {'ms/tr':>7} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'errors':>6}")


def row(figures: Figures) -> str:
    return (f"  {figures.label:42} {figures.transitions:11d} {figures.per_second:8.1f} "
            f"{figures.ms_per_transition:7.2f} {figures.percentile(50):7.1f} "
            f"{figures.percentile(99):7.1f} {figures.errors:6d}")


def verdict(met: bool) -> str:
    return "meets target" if met else "MISSES target"


def report_errors(*figures: Figures) -> None:
    for f in figures:
        if f.errors:
            print(f"  ! {f.label}: {f.errors} failed calls, first: {f.first_error}")


def throughput_part(folder: Path, steps: int, *, postgres_url: str | None = None,
                    workers: int = 1) -> dict[str, Any]:
    database = (build_postgres_database(postgres_url, "throughput") if postgres_url
                else build_database(folder, "throughput", 0))
    processes = "one uvicorn worker" if workers == 1 else f"{workers} uvicorn workers"
    print(f"Part 1: throughput on {database.backend}, {CLIENTS} clients x {steps} transitions, "
          f"{processes}", flush=True)
    try:
        return measure_throughput(folder, steps, database, workers)
    finally:
        database.drop()


def measure_throughput(folder: Path, steps: int, database: Database, workers: int
                       ) -> dict[str, Any]:
    with running_server(database, folder, workers) as base:
        # Each load once, unmeasured, before any is measured: a fresh server and database are
        # slower for their first few hundred writes (the WAL file grows, caches fill).
        run_workflow(base, database, "server warm-up", 3 * WARMUP_STEPS)
        run_baseline(base, database, "server warm-up", 3 * WARMUP_STEPS)
        # Then the two take turns (and turns at going first): this machine's speed drifts by up
        # to 1.6x within a minute, and measured one after the other the ratio took the drift
        # as well. Each turn is `steps / ROUNDS` transitions per client, on fresh proposals.
        per_round = max(2, steps // ROUNDS)
        turns: dict[str, list[Figures]] = {"workflow": [], "baseline": []}
        for turn in range(ROUNDS):
            for kind in ("workflow", "baseline")[::1 if turn % 2 == 0 else -1]:
                run = run_workflow if kind == "workflow" else run_baseline
                turns[kind].append(run(base, database, kind, per_round))
        workflow = combined("workflow (submit/approve/return/resubmit)", turns["workflow"])
        baseline = combined("baseline (same writes, no workflow)", turns["baseline"])
        alone = run_workflow(base, database, "workflow, 1 client (no queueing)", SOLO_STEPS, 1)
        baseline_alone = run_baseline(base, database, "baseline, 1 client (no queueing)",
                                      SOLO_STEPS, 1)
    # The whole chain from its first entry, and its head, as the service's verify walks it; the
    # baseline's entries sit outside it on purpose (numbered from BASELINE_SEQ_FLOOR).
    chain = verify_tail(database)
    ratio = workflow.per_second / baseline.per_second
    by_turn = [w.per_second / b.per_second for w, b in zip(turns["workflow"], turns["baseline"],
                                                          strict=True)]
    print(HEADER)
    for figures in (workflow, baseline, alone, baseline_alone):
        print(row(figures))
    report_errors(workflow, baseline, alone, baseline_alone)
    print(f"  workflow / baseline throughput: {ratio:.2f}  (target >= 0.60: "
          f"{verdict(ratio >= 0.6)}); by turn {' '.join(f'{r:.2f}' for r in by_turn)}")
    print(f"  workflow p99: {workflow.percentile(99):.1f} ms  (target < 50 ms: "
          f"{verdict(workflow.percentile(99) < 50)})")
    print(f"  audit chain after the run: {chain}")
    return {"database": database.backend, "workers": workers,
            "workflow": workflow.as_dict(), "baseline": baseline.as_dict(),
            "workflow_1_client": alone.as_dict(), "baseline_1_client": baseline_alone.as_dict(),
            "ratio": round(ratio, 3), "ratio_by_turn": [round(r, 3) for r in by_turn],
            "audit_chain": chain}


def combined(label: str, parts: list[Figures]) -> Figures:
    """Several measured runs as one: their transitions over their summed time."""
    problems = [part.first_error for part in parts if part.errors]
    return Figures(label, sum(part.seconds for part in parts),
                   [latency for part in parts for latency in part.latencies],
                   sum(part.errors for part in parts), problems[0] if problems else "")


def matrix_summary(runs: list[dict[str, Any]]) -> None:
    print(f"\nSummary ({CLIENTS} clients; transitions/s, p50 / p99 ms; baseline = same writes "
          "straight through the driver, same server)")
    print(f"  {'database':11} {'processes':>9} {'workflow/s':>10} {'p50':>6} {'p99':>6} "
          f"{'baseline/s':>10} {'p50':>6} {'p99':>6} {'ratio':>6} {'1-client ms':>12}")
    for run in runs:
        w, b, one = run["workflow"], run["baseline"], run["workflow_1_client"]
        print(f"  {run['database']:11} {run['workers']:9d} {w['per_second']:10.1f} "
              f"{w['p50_ms']:6.1f} {w['p99_ms']:6.1f} {b['per_second']:10.1f} "
              f"{b['p50_ms']:6.1f} {b['p99_ms']:6.1f} {run['ratio']:6.2f} "
              f"{1000 * one['seconds'] / one['transitions']:12.2f}")


def scale_part(folder: Path, steps: int, small: int, large: int) -> dict[str, Any]:
    print(f"\nPart 2: scale, the same workflow load on {small:,} and {large:,} seeded proposals "
          f"(ten audit entries each)", flush=True)
    results: list[tuple[Figures, tuple[int, int], str]] = []
    for name, seeded in (("small", small), ("large", large)):
        started = time.perf_counter()
        database = build_database(folder, name, seeded)
        print(f"  seeded {seeded:,} proposals and {database.seeded_entries:,} audit entries "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
        with running_server(database, folder) as base:
            size = counts(database)
            figures = run_workflow(base, database, f"{size[0]:,} proposals, {size[1]:,} entries",
                                   steps)
            # The service's own check walks every entry; past ~20k a tail check is enough.
            chain = audit_verify(base, database.people) if seeded <= 2_000 else ""
        chain = chain or verify_tail(database, 5_000)
        results.append((figures, counts(database), chain))
        database.path.unlink()
    (few, few_size, few_chain), (many, many_size, many_chain) = results
    print(HEADER)
    print(row(few))
    print(row(many))
    report_errors(few, many)
    change = many.ms_per_transition / few.ms_per_transition - 1
    print(f"  time per transition: {few.ms_per_transition:.2f} ms -> "
          f"{many.ms_per_transition:.2f} ms ({change:+.1%}; target within 20%: "
          f"{verdict(abs(change) <= 0.2)})")
    print(f"  p50 {few.percentile(50):.1f} -> {many.percentile(50):.1f} ms, "
          f"p99 {few.percentile(99):.1f} -> {many.percentile(99):.1f} ms")
    print(f"  audit chain, small: {few_chain}")
    print(f"  audit chain, large: {many_chain}")
    return {"small": {**few.as_dict(), "proposals": few_size[0], "entries": few_size[1]},
            "large": {**many.as_dict(), "proposals": many_size[0], "entries": many_size[1]},
            "change": round(change, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="fewer transitions, and the scale part at 10k instead of 100k")
    parser.add_argument("--steps", type=int,
                        help="transitions per client per run (default 150, --quick 30)")
    parser.add_argument("--no-scale", action="store_true", help="skip part 2")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--matrix", action="store_true",
                        help="part 1 on SQLite and PostgreSQL, with 1 and 4 web processes")
    parser.add_argument("--postgres-url", default=os.environ.get("MICROCRED_BENCH_POSTGRES_URL"),
                        help="a PostgreSQL server where a throwaway database may be made")
    args = parser.parse_args()
    steps = args.steps or (30 if args.quick else 150)
    large = 10_000 if args.quick else 100_000

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="microcred-bench-") as temp:
        folder = Path(temp)
        if args.matrix:
            backends = [None] + ([args.postgres_url] if args.postgres_url else [])
            if not args.postgres_url:
                print("(no --postgres-url: PostgreSQL is left out)")
            runs = [throughput_part(folder, steps, postgres_url=url, workers=workers)
                    for url in backends for workers in (1, 4)]
            matrix_summary(runs)
            figures: dict[str, Any] = {"matrix": runs}
        else:
            figures = {"throughput": throughput_part(folder, steps)}
        if not args.no_scale:
            figures["scale"] = scale_part(folder, steps, 1_000, large)
    print(f"\n(finished in {time.perf_counter() - started:.0f} s; "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
