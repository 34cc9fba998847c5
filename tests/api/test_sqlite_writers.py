"""On SQLite, one writer at a time: a waiting write holds up no read, writes are served in the
order they came, and a write kept waiting past the busy timeout is a 503 that changes nothing."""

import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import col, select

from api.app import create_app
from plumbing.database import build_engine, write_session
from plumbing.settings import Settings
from tests.conftest import World
from workflow.audit import AuditEntry, verify

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def test_a_write_waiting_for_the_writer_leaves_the_server_answering(
    engine: Engine, world: World, live_server: str
) -> None:
    proposal = world.proposal()
    answers: dict[str, httpx.Response] = {}

    def submit() -> None:
        answers["submit"] = httpx.post(f"{live_server}/api/proposals/{proposal.id}/submit",
                                       headers=world.owner.headers, timeout=30)

    with write_session(engine) as holder:
        holder.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: this thread has the writer
        waiting = threading.Thread(target=submit)
        waiting.start()
        time.sleep(0.5)
        assert waiting.is_alive(), "the submit should wait for the writer"
        started = time.monotonic()
        read = httpx.get(f"{live_server}/api/proposals/{proposal.id}",
                         headers=world.owner.headers, timeout=5)
        assert read.status_code == 200 and read.json()["state"] == "draft"
        assert time.monotonic() - started < 1, "a read waited behind the waiting write"
        holder.commit()
    waiting.join(timeout=10)
    assert answers["submit"].status_code == 200
    assert answers["submit"].json()["state"] == "department_review"


def test_a_write_kept_waiting_past_the_busy_timeout_gets_503_and_changes_nothing(
    engine: Engine, world: World, settings: Settings
) -> None:
    proposal = world.proposal()
    proposal_id, version = proposal.id, proposal.version
    entries_before = verify(world.session).entries
    world.session.rollback()  # the fixture's session writes: give the writer back
    # A second engine on the same file stands for another process: it does not share this
    # one's writer lock, so it meets SQLite's own.
    other_process = build_engine(str(engine.url), busy_timeout_ms=300)
    with TestClient(create_app(settings.model_copy(update={"sqlite_busy_timeout_ms": 300}),
                               other_process)) as client:
        with write_session(engine) as holder:
            holder.execute(text("SELECT 1"))
            started = time.monotonic()
            answer = client.post(f"/api/proposals/{proposal_id}/submit",
                                 headers=world.owner.headers)
            waited = time.monotonic() - started
            holder.rollback()
        assert answer.status_code == 503
        assert answer.headers["Retry-After"]
        assert 0.25 < waited < 5
        again = client.get(f"/api/proposals/{proposal_id}", headers=world.owner.headers)
        assert again.json()["state"] == "draft" and again.json()["version"] == version
    other_process.dispose()
    world.session.rollback()
    assert verify(world.session).entries == entries_before


def test_writes_waiting_for_the_writer_are_served_in_the_order_they_came(
    engine: Engine, world: World, live_server: str
) -> None:
    drafts = [world.proposal(f"Proposal {n}").id for n in range(8)]
    world.session.commit()
    answers: dict[int | None, int] = {}

    def submit(proposal_id: int | None) -> None:
        answers[proposal_id] = httpx.post(f"{live_server}/api/proposals/{proposal_id}/submit",
                                          headers=world.owner.headers, timeout=30).status_code

    # A first request pays for warming the server; make it before the order matters.
    assert httpx.get(f"{live_server}/api/proposals/{drafts[0]}", headers=world.owner.headers,
                     timeout=30).status_code == 200
    waiting = []
    with write_session(engine) as holder:
        holder.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: this session has the writer
        for proposal_id in drafts:
            waiting.append(threading.Thread(target=submit, args=(proposal_id,)))
            waiting[-1].start()
            time.sleep(0.3)  # each arrives well after the one before
        holder.rollback()
    for thread in waiting:
        thread.join(timeout=30)
    assert set(answers.values()) == {200}
    world.session.rollback()
    served = world.session.exec(
        select(AuditEntry.proposal_id).where(AuditEntry.action == "submit")
        .order_by(col(AuditEntry.seq))).all()
    assert served == drafts
