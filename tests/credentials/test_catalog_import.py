"""`microcred import-catalog`: good files land whole, bad ones land not at all."""

import csv
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from tests.api.conftest import cli_database, run  # noqa: F401  (cli_database: a fixture)
from tests.conftest import World
from tests.credentials.test_publishing import assert_valid_open_badges_3
from tests.workflow.test_badges import png
from workflow.audit import AuditEntry
from workflow.credentials.catalog_import import COLUMNS
from workflow.credentials.models import Credential
from workflow.proposals.models import Proposal

OUTCOMES = ("Analyze a data set and communicate the findings to a lay audience; "
            "Design a reproducible analysis pipeline")


def row(title: str, **fields: str) -> dict[str, str]:
    return {"title": title, "department": "CS", "summary": f"{title}, approved in 2023.",
            "criteria_narrative": "Pass the three courses with a B or better.",
            "level": "undergraduate", "credit_bearing": "true", "credits": "9",
            "modality": "online", "competencies": "communication;critical_thinking",
            "learning_outcomes": OUTCOMES, "tags": "data;analytics",
            "alt_text": "A blue shield", **fields}


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return path


def tallies(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return tuple(session.exec(select(func.count()).select_from(t)).one()  # type: ignore[return-value]
                     for t in (Proposal, Credential, AuditEntry))


def test_a_good_file_is_imported_whole_and_audited(
    cli_database: str, world: World, client: TestClient, engine: Engine, tmp_path: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "shield.png").write_bytes(png(400, 400))
    path = write(tmp_path / "catalog.csv", [
        row("Data Analytics Foundations", image="shield.png"),
        row("Safe Lab Practice", credit_bearing="no", credits="", hours="12",
            competencies="", tags="", department="MATH"),
        row("Team Leadership", owner_email="owner@arizona.edu",
            competencies="leadership", learning_outcomes="Lead a team through a project"),
    ])
    code, out, err = run(capsys, "import-catalog", str(path), "--dry-run")
    assert (code, out.strip()) == (0, "dry run: all 3 row(s) are good; nothing was imported")
    assert tallies(engine)[:2] == (0, 0)
    code, out, err = run(capsys, "import-catalog", str(path))
    assert (code, out.strip()) == (0, "imported 3 credential(s) from catalog.csv")
    assert "[##############################] 3/3" in err
    items = client.get("/api/credentials").json()["items"]
    assert [c["title"] for c in items] == ["Team Leadership", "Safe Lab Practice",
                                           "Data Analytics Foundations"]
    assert all(c["imported"] and c["status"] == "active" for c in items)
    first = items[2]
    assert first["image_url"] is not None
    for credential in items:
        achievement = client.get(f"/api/credentials/{credential['id']}/achievement").json()
        assert_valid_open_badges_3(achievement)
    assert client.get(f"/api/credentials/{first['id']}/image").content == png(400, 400)
    history = client.get(f"/api/proposals/{first['proposal_id']}/history",
                         headers=world.owner.headers).json()
    assert [(h["action"], h["to_state"], h["detail"]["line"]) for h in history] == [
        ("imported", "published", 2)]
    assert run(capsys, "audit", "verify")[0] == 0


def test_every_bad_row_is_reported_by_line_and_nothing_is_imported(
    cli_database: str, world: World, engine: Engine, tmp_path: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "wide.png").write_bytes(png(600, 400))
    path = write(tmp_path / "catalog.csv", [
        row("Good One"),
        row("Unknown Department", department="ART"),
        row("Credits Missing", credits=""),
        row("Odd Level", level="doctoral"),
        row("Good One"),
        row("Wide Image", image="wide.png"),
        row("No Summary", summary=""),
        row("Maybe Credit", credit_bearing="maybe"),
        row("Nobody Owns It", owner_email="ghost@arizona.edu"),
        row("Missing Image", image="nope.png"),
    ])
    before = tallies(engine)
    code, out, err = run(capsys, "import-catalog", str(path))
    assert code == 1
    reported = [line for line in err.splitlines() if line.startswith("line ")]
    assert reported == [
        "line 3: department: no department with code 'ART'",
        "line 4: credits: required for a credit-bearing credential",
        "line 5: level: Input should be 'undergraduate', 'graduate', 'professional' or "
        "'non_degree'",
        "line 6: title: 'Good One' repeats line 2",
        "line 7: image: the badge image must be square; this one is 600x400",
        "line 8: summary: required",
        "line 9: credit_bearing: 'maybe' is not true or false",
        "line 10: owner_email: no user ghost@arizona.edu (add them with `microcred users add`)",
        "line 11: image: cannot read nope.png (No such file or directory)",
    ]
    assert "9 problem(s) in 10 row(s); nothing was imported" in err
    assert tallies(engine) == before


def test_a_file_with_wrong_columns_is_refused(
    cli_database: str, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text("title,department,colour\nA,CS,red\n")
    code, _, err = run(capsys, "import-catalog", str(path))
    assert code == 2
    assert "missing column(s): summary, criteria_narrative; unknown column(s): colour" in err


def test_five_thousand_rows_import_in_one_go(
    cli_database: str, world: World, engine: Engine, tmp_path: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(tmp_path / "catalog.csv",
                 [row(f"Legacy Credential {n:04d}") for n in range(5000)])
    started = time.perf_counter()
    code, out, _ = run(capsys, "import-catalog", str(path))
    elapsed = time.perf_counter() - started
    assert (code, out.strip()) == (0, "imported 5000 credential(s) from catalog.csv")
    proposals, credentials, _ = tallies(engine)
    assert (proposals, credentials) == (5000, 5000)
    assert elapsed < 60, f"5,000 rows took {elapsed:.1f} s"
