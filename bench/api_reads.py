"""Reading 100,000 proposals through the API: page latency by depth, memory, 50 clients.

Run by hand from the repository root:

    .venv/bin/python bench/api_reads.py             # about 3 minutes
    .venv/bin/python bench/api_reads.py --quick     # 10,000 proposals, 15 s of load

One SQLite file with 100,000 complete proposals (bulk inserted as in
workflow_throughput.py, no audit history: reads do not touch it; the drafts all
belong to the submitter who reads, so every proposal is visible), served by
bench/server.py (uvicorn, one worker). Baselines, measured in the same run:

Part 1, pages. `GET /api/proposals?limit=50` as a submitter (who sees every
submitted proposal and their own drafts): first, the whole list walked page by
page with `next_cursor` (2,000 pages), timing every page; then 300 calls each on
the first page, a page in the middle and the last page, by the cursors the walk
handed out. Baseline: the same keyset SELECT (the rows of one page plus their
owners and department codes) straight through sqlite3 in this process.
Target: p99 under 20 ms, the same at any depth.

Part 2, memory. The web process's resident memory (VmRSS) and the objects it
holds (`GET /bench/memory`: objects of the `transitions` library, `Proposal`
rows) after start-up, after the first walk through all 100,000 proposals and
after a second one. Target: no per-proposal state machine objects, no growth
with the number of proposals read.

Part 3, 50 concurrent clients for 60 seconds, each in a loop: list the first
page (limit 20), read one proposal, list its actions, and every fourth turn
fire a transition on its own proposal (submit, approve, then return and
resubmit in turn). Baseline: the same clients for the same time, the reads
replaced by `GET /bench/baseline-read/{id}` and the transitions by the
same-writes route. Target: no errors, p99 under 100 ms.
"""

import argparse
import itertools
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from load import Call  # bench/ is the script's folder, so first on sys.path
from load import run as run_clients
from workflow_throughput import (
    CLIENTS,
    Database,
    build_database,
    new_drafts,
    running_server,
    workflow_calls,
)

from workflow.queries import decode_cursor

PAGE = 50
SAMPLES = 300
LOAD_CLIENTS = 50


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    ordered = sorted(values)
    return 1000 * ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))]


def line(label: str, values: list[float], errors: int = 0) -> str:
    return (f"  {label:44} {len(values):7d} {percentile(values, 50):8.2f} "
            f"{percentile(values, 99):8.2f} {1000 * max(values):8.2f} {errors:6d}")


HEADER = f"  {'what':44} {'calls':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- part 1: pages ---------------------------------------------------------------------------


def walk(http: httpx.Client, headers: dict[str, str]) -> tuple[list[float], list[str], int]:
    """Every page of the list, in order: the time of each, the cursors, the proposals read."""
    times: list[float] = []
    cursors: list[str] = []
    cursor: str | None = None
    read = 0
    while True:
        params: dict[str, Any] = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
        started = time.perf_counter()
        answer = http.get("/api/proposals", params=params, headers=headers)
        times.append(time.perf_counter() - started)
        answer.raise_for_status()
        body = answer.json()
        read += len(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return times, cursors, read
        cursors.append(cursor)


def sample(http: httpx.Client, headers: dict[str, str], cursor: str | None) -> list[float]:
    params: dict[str, Any] = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
    times = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        http.get("/api/proposals", params=params, headers=headers).raise_for_status()
        times.append(time.perf_counter() - started)
    return times


# The list's query for a submitter of department 1 (user id 1), as workflow.queries builds it,
# and the joins workflow.queries makes for the page's owners and departments.
DRIVER_PAGE = """
SELECT p.* FROM proposal AS p
WHERE (p.state != 'draft' OR p.owner_id = 1 OR CAST(p.co_authors AS VARCHAR) LIKE ? ESCAPE '\\')
  AND p.id < ?
ORDER BY p.id DESC LIMIT ?
"""
DRIVER_PEOPLE = """
SELECT p.id, u.email, u.name, d.code FROM proposal AS p
JOIN app_user AS u ON u.id = p.owner_id JOIN department AS d ON d.id = p.department_id
WHERE p.id IN ({})
"""


def driver_pages(path: Path, before_ids: list[int]) -> list[float]:
    """The same page reads through sqlite3 alone, each in its own read transaction."""
    connection = sqlite3.connect(path, isolation_level=None)
    times = []
    for before in before_ids:
        started = time.perf_counter()
        connection.execute("BEGIN")
        rows = connection.execute(DRIVER_PAGE, ('%"owner0@arizona.edu"%', before, PAGE + 1)
                                  ).fetchall()
        ids = [row[0] for row in rows[:PAGE]]
        connection.execute(DRIVER_PEOPLE.format(",".join("?" * len(ids))), ids).fetchall()
        connection.execute("COMMIT")
        times.append(time.perf_counter() - started)
    connection.close()
    return times


def pages_part(base: str, database: Database, total: int) -> dict[str, Any]:
    headers = bearer(database.people.owners[0])
    with httpx.Client(base_url=base, timeout=60) as http:
        for _ in range(20):  # warm-up
            http.get("/api/proposals", params={"limit": PAGE}, headers=headers)
        before = memory(http)
        walk_times, cursors, read = walk(http, headers)
        after_one = memory(http)
        walk(http, headers)
        after_two = memory(http)
        middle, last = cursors[len(cursors) // 2], cursors[-1]
        first_page = sample(http, headers, None)
        middle_page = sample(http, headers, middle)
        last_page = sample(http, headers, last)
    assert database.path is not None
    driver = {name: driver_pages(database.path, [before_id] * SAMPLES)
              for name, before_id in (("first", 2**62), ("middle", decode_cursor(middle)),
                                      ("last", decode_cursor(last)))}
    tenth = max(1, len(walk_times) // 10)
    print(f"\nPart 1: GET /api/proposals?limit={PAGE}, {total:,} proposals, "
          f"{len(walk_times):,} pages")
    print(HEADER)
    print(line("walk, every page in order", walk_times))
    print(line("walk, first tenth of the pages", walk_times[:tenth]))
    print(line("walk, last tenth of the pages", walk_times[-tenth:]))
    print(line("first page, repeated", first_page))
    print(line(f"page {len(cursors) // 2 + 1} (middle), repeated", middle_page))
    print(line(f"page {len(cursors) + 1} (last), repeated", last_page))
    for name, times in driver.items():
        print(line(f"baseline: same SELECTs via sqlite3, {name} page", times))
    depth = percentile(last_page, 99) / percentile(first_page, 99)
    worst = max(percentile(t, 99) for t in (first_page, middle_page, last_page))
    ratio = percentile(first_page, 50) / percentile(driver["first"], 50)
    print(f"  last / first page p99: {depth:.2f} (no slower at depth, within 1.5x: "
          f"{'yes' if depth <= 1.5 else 'NO'})")
    print(f"  worst p99 of the three: {worst:.2f} ms (target < 20 ms: "
          f"{'meets target' if worst < 20 else 'MISSES target'})")
    print(f"  API / driver p50, first page: {ratio:.1f}x")
    print(f"\nPart 2: memory of the web process (pid {before['pid']})")
    for label, probe in (("after start-up and a warm-up", before),
                         (f"after reading {read:,} proposals", after_one),
                         (f"after reading them all again ({2 * read:,})", after_two)):
        print(f"  {label:46} RSS {probe['rss_kib'] / 1024:7.1f} MiB, "
              f"transitions objects {probe['transitions_objects']:4d}, "
              f"Proposal rows held {probe['proposal_rows']}")
    growth = (after_two["rss_kib"] - after_one["rss_kib"]) / 1024
    per_proposal = 1024 * (after_one["rss_kib"] - before["rss_kib"]) / read
    print(f"  second walk grew RSS by {growth:+.1f} MiB; first walk "
          f"{per_proposal:+.2f} bytes per proposal read")
    print(f"  transitions objects by type: {after_two['transitions_by_type']}")
    return {
        "proposals": total, "pages": len(walk_times),
        "walk": summary(walk_times), "first": summary(first_page),
        "middle": summary(middle_page), "last": summary(last_page),
        "driver": {name: summary(times) for name, times in driver.items()},
        "memory": {"start": before, "after_one_walk": after_one, "after_two_walks": after_two},
    }


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(values, 50), 2), "p99_ms": round(percentile(values, 99), 2),
            "calls": len(values)}


def memory(http: httpx.Client) -> dict[str, Any]:
    answer: dict[str, Any] = http.get("/bench/memory").json()
    return answer


# --- part 3: 50 clients ----------------------------------------------------------------------


def client_calls(transitions: Iterator[Call], proposal_id: int, owner: str,
                 read_ids: list[int], baseline: bool) -> Iterator[Call]:
    """One client's loop: three reads, and a transition every fourth turn."""
    headers = bearer(owner)
    for turn in itertools.count():
        target = read_ids[turn % len(read_ids)]
        if baseline:
            yield from [Call(f"/bench/baseline-read/{target}", method="GET", kind="read")] * 3
        else:
            yield Call("/api/proposals?limit=20", method="GET", headers=headers, kind="read")
            yield Call(f"/api/proposals/{target}", method="GET", headers=headers, kind="read")
            yield Call(f"/api/proposals/{target}/actions", method="GET", headers=headers,
                       kind="read")
        if turn % 4 == 3:
            transition = next(transitions, None)
            if transition is None:
                return
            yield (Call(f"/bench/baseline/{proposal_id}", kind="write") if baseline
                   else transition)


def load(base: str, database: Database, seconds: float, baseline: bool
         ) -> tuple[dict[str, list[float]], list[str], float]:
    drafts = new_drafts(database, LOAD_CLIENTS)
    read_ids = list(range(1, 2_000, 37))  # seeded proposals; drafts among them answer 404
    read_ids = [i for i in read_ids if (i - 1) % 10 not in (6, 9)]  # the seeded drafts
    # Built before the clock starts: more transitions than a client fires in the time given.
    owners = [database.people.owners[n % CLIENTS] for n in range(len(drafts))]
    plans = [iter(workflow_calls(pid, owner, database.people, int(60 * seconds)))
             for pid, owner in zip(drafts, owners, strict=True)]
    clients = [client_calls(plan, pid, owner, read_ids, baseline)
               for plan, pid, owner in zip(plans, drafts, owners, strict=True)]
    results = run_clients(base, list(clients), seconds)
    out = {"read": results.latencies.get("read", []), "write": results.latencies.get("write", [])}
    return out, results.problems, results.seconds


def load_part(base: str, database: Database, seconds: float, workers: int) -> dict[str, Any]:
    print(f"\nPart 3: {LOAD_CLIENTS} concurrent clients for {seconds:.0f} s on SQLite, {workers} "
          "web process(es) (3 reads, and a transition every 4th turn)", flush=True)
    results = {}
    print(HEADER)
    for name, baseline in (("service", False), ("baseline", True)):
        out, problems, wall = load(base, database, seconds, baseline)
        everything = out["read"] + out["write"]
        print(line(f"{name}: all calls ({len(everything) / wall:.0f}/s)", everything,
                   len(problems)))
        print(line(f"{name}: reads", out["read"]))
        print(line(f"{name}: transitions", out["write"]))
        if problems:
            print(f"  ! {name}: {len(problems)} failed calls, first: {problems[0]}")
        results[name] = {"calls_per_second": round(len(everything) / wall, 1),
                         "all": summary(everything), "reads": summary(out["read"]),
                         "writes": summary(out["write"]), "errors": len(problems)}
    service, baseline_figures = results["service"], results["baseline"]
    p99 = service["all"]["p99_ms"]
    print(f"  service / baseline calls per second: "
          f"{service['calls_per_second'] / baseline_figures['calls_per_second']:.2f}")
    print(f"  service p99 {p99:.1f} ms, errors {service['errors']} (target: no errors, p99 < "
          f"100 ms: {'meets target' if p99 < 100 and not service['errors'] else 'MISSES target'})")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 proposals, 15 s of load")
    parser.add_argument("--proposals", type=int, help="how many to seed (default 100,000)")
    parser.add_argument("--seconds", type=float, help="length of each load run (default 60)")
    parser.add_argument("--no-load", action="store_true", help="skip part 3")
    parser.add_argument("--workers", type=int, default=1,
                        help="web processes (default 1; part 2 then probes whichever answers)")
    args = parser.parse_args()
    total = args.proposals or (10_000 if args.quick else 100_000)
    seconds = args.seconds or (15 if args.quick else 60)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="microcred-bench-") as temp:
        folder = Path(temp)
        database = build_database(folder, "reads", total, with_history=False)
        assert database.path is not None
        with sqlite3.connect(database.path) as connection:
            # Drafts are private: give them all to the reader, so the walk reads every proposal.
            connection.execute("UPDATE proposal SET owner_id = 1 WHERE state = 'draft'")
        print(f"seeded {total:,} proposals in {time.perf_counter() - started:.1f} s", flush=True)
        with running_server(database, folder, args.workers) as base:
            pages_part(base, database, total)
            if not args.no_load:
                load_part(base, database, seconds, args.workers)
    print(f"\n(finished in {time.perf_counter() - started:.0f} s; "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
