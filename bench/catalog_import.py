"""`microcred import-catalog` on 5,000 rows: how long the check and the write take.

Run by hand from the repository root:

    .venv/bin/python bench/catalog_import.py                 # 5,000 rows on SQLite
    .venv/bin/python bench/catalog_import.py --rows 20000
    .venv/bin/python bench/catalog_import.py --database-url postgresql+psycopg://...

It writes a CSV of complete, distinct credentials (every documented column but `image`,
varied departments, levels, modalities and competencies) into a temporary folder, makes a
fresh SQLite database there (or uses the given one, which must be empty of credentials), and
runs the product's own import three times: a dry run (every row checked, including its Open
Badges 3.0 Achievement, nothing written), then the real import (checked again, then written in
one transaction with one audit entry per row), then a check of the whole audit chain.
Printed: rows, seconds and rows per second for each, and the chain check's result.
"""

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import Session  # noqa: E402

from plumbing.database import build_engine  # noqa: E402
from plumbing.migrate import upgrade  # noqa: E402
from plumbing.settings import Settings  # noqa: E402
from workflow import audit  # noqa: E402
from workflow.accounts.models import DepartmentCreate, Role
from workflow.accounts.service import add_department, add_user
from workflow.credentials.catalog_import import COLUMNS, import_catalog

DEPARTMENTS = ("CS", "NURS", "MATH", "ENGR", "EDUC")
LEVELS = ("undergraduate", "graduate", "professional", "non_degree")
MODALITIES = ("in_person", "online", "hybrid")
COMPETENCIES = ("communication", "critical_thinking", "teamwork", "technology", "leadership")


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        for n in range(rows):
            credit = n % 3 != 0
            writer.writerow({
                "title": f"Legacy Micro-credential {n:06d}",
                "department": DEPARTMENTS[n % len(DEPARTMENTS)],
                "summary": f"A micro-credential approved before this service (number {n}).",
                "criteria_narrative": "Complete the required courses with a B or better.",
                "level": LEVELS[n % len(LEVELS)],
                "credit_bearing": "true" if credit else "false",
                "credits": "9" if credit else "", "hours": "" if credit else "30",
                "modality": MODALITIES[n % len(MODALITIES)],
                "competencies": ";".join(COMPETENCIES[: 1 + n % 3]),
                "learning_outcomes": "Analyze a problem; Communicate a solution",
                "prerequisites": "Bachelor's degree" if n % 4 == 1 else "",
                "tags": "legacy;catalog", "alt_text": "A round badge",
                "expiration_months": "36" if n % 5 == 0 else "",
            })


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "catalog.csv"
        write_csv(csv_path, args.rows)
        engine = build_engine(args.database_url or f"sqlite:///{folder}/bench.db")
        upgrade(engine)
        settings = Settings(_env_file=None, database_url=str(engine.url))  # type: ignore[call-arg]
        with Session(engine, expire_on_commit=False) as session:
            for code in DEPARTMENTS:
                add_department(session, DepartmentCreate(code=code, name=f"Department {code}"))
            add_user(session, settings.badge_office_email, "Badge office", [Role.COORDINATOR],
                     None)
        print(f"{args.rows:,} rows, database {engine.dialect.name}")
        for label, dry_run in (("dry run (check only)", True), ("import (check + write)", False)):
            with Session(engine, expire_on_commit=False) as session:
                started = time.perf_counter()
                report = import_catalog(session, csv_path, settings, dry_run=dry_run)
                elapsed = time.perf_counter() - started
            assert report.ok, report.bad[:5]
            print(f"  {label:24} {elapsed:7.2f} s  {args.rows / elapsed:8.0f} rows/s")
        with Session(engine) as session:
            started = time.perf_counter()
            verification = audit.verify(session)
            elapsed = time.perf_counter() - started
        print(f"  {'audit chain verify':24} {elapsed:7.2f} s  ok={verification.ok} "
              f"entries={verification.entries}")
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
