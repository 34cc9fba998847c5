"""The SQLite file's disk fills up or turns read-only: a clear answer, no corruption."""

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session

from api.app import create_app
from api.demo import sample_proposal
from plumbing.database import build_engine
from plumbing.settings import Settings
from tests.conftest import IN_CI
from tests.scale.conftest import Cast, prepare
from workflow import audit


def mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        if IN_CI:
            pytest.fail(f"CI=true but mount {' '.join(args)} failed: {done.stderr}")
        pytest.skip(f"cannot mount here ({done.stderr.strip()}); under CI this fails")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs, and a bind mount of it that the test can make read-only."""
    disk, view = tmp_path / "disk", tmp_path / "view"
    disk.mkdir()
    view.mkdir()
    mount("-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk))
    try:
        mount("--bind", str(disk), str(view))
        yield view
    finally:
        subprocess.run(["umount", "-l", str(view)], capture_output=True)
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def create(client: TestClient, cast: Cast, title: str) -> tuple[int, dict[str, object]]:
    data = sample_proposal(title, "CS").model_dump(mode="json")
    response = client.post("/api/proposals", json=data, headers=cast.owners[0])
    return response.status_code, response.json()


def assert_intact(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    with Session(engine) as session:
        assert audit.verify(session).ok


def settings() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_a_full_disk_answers_507_changes_nothing_and_works_again_once_space_returns(
    small_disk: Path,
) -> None:
    engine = build_engine(f"sqlite:///{small_disk / 'microcred.db'}", busy_timeout_ms=2000)
    cast = prepare(engine, owners=1)
    with TestClient(create_app(settings(), engine)) as client:
        assert create(client, cast, "Before the disk filled")[0] == 201
        # An empty write-ahead log, so the next write must grow a file.
        direct = sqlite3.connect(small_disk / "microcred.db", isolation_level=None)
        assert direct.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        direct.close()
        filler = small_disk / "filler"
        with filler.open("wb") as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass

        code, body = create(client, cast, "While the disk is full")
        assert code == 507
        assert "disk is full" in str(body["detail"])
        assert "nothing was changed" in str(body["detail"])
        listed = client.get("/api/proposals", headers=cast.owners[0])
        assert listed.status_code == 200
        assert [p["title"] for p in listed.json()["items"]] == ["Before the disk filled"]

        filler.unlink()
        assert create(client, cast, "After space returned")[0] == 201
        titles = [p["title"] for p in
                  client.get("/api/proposals", headers=cast.owners[0]).json()["items"]]
        assert sorted(titles) == ["After space returned", "Before the disk filled"]
    assert_intact(engine)
    engine.dispose()


def test_a_read_only_database_answers_503_with_the_reason_and_works_again_when_writable(
    small_disk: Path,
) -> None:
    path = small_disk / "microcred.db"
    engine = build_engine(f"sqlite:///{path}", busy_timeout_ms=2000)
    cast = prepare(engine, owners=1)
    app = create_app(settings(), engine)
    with TestClient(app) as client:
        assert create(client, cast, "Before it turned read-only")[0] == 201
        # Linux refuses a read-only remount while files are open for writing.
        engine.dispose()
        app.state.writer.dispose()
        mount("-o", "remount,bind,ro", str(small_disk))
        code, body = create(client, cast, "While read-only")
        assert code == 503
        assert "read-only" in str(body["detail"])
        listed = client.get("/api/proposals", headers=cast.owners[0])
        assert listed.status_code == 503  # WAL mode cannot even read without its -shm file
        assert "read-only" in listed.json()["detail"]

        engine.dispose()
        app.state.writer.dispose()
        mount("-o", "remount,bind,rw", str(small_disk))
        assert create(client, cast, "Writable again")[0] == 201
    assert os.access(path, os.W_OK)
    assert_intact(engine)
    engine.dispose()
