"""Faults under load: a web process SIGKILLed, PostgreSQL restarted, the SMTP server away."""

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, col, func, select

from notifications.models import OutboxMessage
from plumbing.database import build_engine
from tests.conftest import SMTPServer
from tests.scale.conftest import (
    Cluster,
    Deployment,
    Lifecycle,
    assert_each_message_received_once,
    assert_states_match_audit,
    prepare,
    run_lifecycles,
    transitions_in_audit,
    wait_for_outbox,
)
from workflow import audit


def assert_acknowledged_in_trail(engine: Engine, lives: list[Lifecycle]) -> None:
    """Every transition a client was told succeeded is in the proposal's trail, in order."""
    trail = transitions_in_audit(engine)
    for life in lives:
        steps = [(t, v, to) for t, v, _f, to in trail.get(life.proposal_id or 0, [])]
        told = iter(steps)
        assert all(step in told for step in life.accepted), (life.accepted, steps)


def wait_until_under_way(lives: list[Lifecycle], answers: int = 100) -> None:
    """Wait until the load has had `answers` answers: a fault goes in mid-load by the load's
    own progress, not by the clock (a faster service once finished before a fault two
    seconds in)."""
    deadline = time.monotonic() + 60
    while sum(len(life.statuses) for life in lives) < answers and time.monotonic() < deadline:
        time.sleep(0.02)


def assert_chain_verifies(engine: Engine) -> None:
    with Session(engine) as session:
        result = audit.verify(session)
    assert result.ok, result.first_bad


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'microcred.db'}"
    url: str = request.getfixturevalue("own_postgres")
    return url


def test_a_web_process_killed_mid_load_leaves_every_state_matching_its_audit_trail(
    database_url: str, tmp_path: Path
) -> None:
    engine = build_engine(database_url, pool_size=4)
    cast = prepare(engine)
    deployment = Deployment(database_url, tmp_path)
    try:
        webs = [deployment.add("web"), deployment.add("web")]
        for web in webs:
            web.wait_ready()

        under_way: list[Lifecycle] = []

        def kill_and_restart() -> None:
            wait_until_under_way(under_way)
            webs[0].kill()  # SIGKILL: no shutdown, requests in flight are cut
            time.sleep(0.5)
            webs[0].start()
            webs[0].wait_ready()

        killer = threading.Thread(target=kill_and_restart)
        killer.start()
        lives = run_lifecycles([w.url for w in webs], cast, 60, 16, lives=under_way)
        killer.join()
    finally:
        deployment.stop()

    statuses = {s for life in lives for s in life.statuses}
    assert statuses <= {200, 201, 409, 503}, statuses
    assert sum(life.unclear for life in lives) > 0  # the kill did cut requests
    assert_states_match_audit(engine)
    assert_acknowledged_in_trail(engine, lives)
    assert_chain_verifies(engine)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    engine.dispose()


def test_postgresql_restarted_mid_load_gives_503_with_retry_after_then_success(
    throwaway_postgres: Cluster, smtp: SMTPServer, tmp_path: Path
) -> None:
    engine = build_engine(throwaway_postgres.url, pool_size=4)
    cast = prepare(engine)
    engine.dispose()
    deployment = Deployment(throwaway_postgres.url, tmp_path, smtp_port=smtp.port)
    restarted = threading.Event()
    try:
        web = deployment.add("web")
        deployment.add("worker")
        web.wait_ready()

        under_way: list[Lifecycle] = []

        def restart() -> None:
            wait_until_under_way(under_way)
            throwaway_postgres.ctl("-m", "fast", "stop")
            time.sleep(1.5)  # down long enough that requests meet the closed port
            throwaway_postgres.ctl("-l", str(throwaway_postgres.data.parent / "log"), "-w",
                                   "start")
            restarted.set()

        restarter = threading.Thread(target=restart)
        restarter.start()
        driver_lives = run_lifecycles([web.url], cast, 80, 16, deadline=90, lives=under_way)
        restarter.join()
        engine = build_engine(throwaway_postgres.url, pool_size=2)
        wait_for_outbox(engine, timeout=30)
    finally:
        deployment.stop()

    assert restarted.is_set()
    statuses = [s for life in driver_lives for s in life.statuses]
    assert set(statuses) <= {200, 201, 409, 503}, sorted(set(statuses))
    assert 503 in statuses
    waits = [w for life in driver_lives for w in life.retry_after]
    assert len(waits) == statuses.count(503)
    assert all(w is not None and w.isdigit() for w in waits), set(waits)
    assert sum(life.unclear for life in driver_lives) == 0
    assert all(life.done() for life in driver_lives)
    assert_states_match_audit(engine)
    assert_acknowledged_in_trail(engine, driver_lives)
    # The worker met the restart too, between sending a batch and recording it.
    assert_each_message_received_once(engine, smtp)
    assert_chain_verifies(engine)
    engine.dispose()


OUTAGE_SECONDS = 20


def test_smtp_down_for_a_while_keeps_the_outbox_and_delivers_each_message_once_after(
    own_postgres: str, smtp: SMTPServer, tmp_path: Path
) -> None:
    engine = build_engine(own_postgres, pool_size=4)
    cast = prepare(engine)
    smtp.stop()
    deployment = Deployment(own_postgres, tmp_path, smtp_port=smtp.port)
    try:
        web = deployment.add("web")
        deployment.add("worker")
        deployment.add("worker")
        web.wait_ready()
        down_since = time.monotonic()
        lives = run_lifecycles([web.url], cast, 40, 8)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))
        with Session(engine) as session:
            queued = session.exec(select(func.count()).select_from(OutboxMessage)).one()
            sent = session.exec(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status == "sent")).one()
            retried = session.exec(select(func.max(col(OutboxMessage.attempts)))).one()
        assert queued > 0 and sent == 0
        assert (retried or 0) >= 4  # backoff kept trying while the server was away
        smtp.start()
        wait_for_outbox(engine, timeout=30)
    finally:
        deployment.stop()

    assert all(life.done() for life in lives)
    assert assert_each_message_received_once(engine, smtp) == queued
    with Session(engine) as session:
        dead = session.exec(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == "dead")).one()
    assert dead == 0
    assert_chain_verifies(engine)
    engine.dispose()


