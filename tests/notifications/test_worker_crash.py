"""A worker killed mid-batch sends (almost) nothing twice: each message is marked sent as soon
as its 250 arrives, and what it had claimed but not sent comes back within a short lease."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from plumbing.database import build_engine
from plumbing.migrate import upgrade
from plumbing.settings import Settings
from tests.conftest import SMTPServer, free_port
from tests.notifications.test_delivery import queue, statuses

REPO = Path(__file__).resolve().parents[2]


def worker(tmp_path: Path, database: str, smtp_port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICROCRED_")}
    env.update({
        "PYTHONPATH": str(REPO), "MICROCRED_DATABASE_URL": database,
        "MICROCRED_SECRET_KEY": "Zq0uN3l8mW1b7tV4cX9yA2sD5fG6hJ8kL0pO3iU7yT1r",
        "MICROCRED_SMTP_HOST": "127.0.0.1", "MICROCRED_SMTP_PORT": str(smtp_port),
        "MICROCRED_EMAIL_BATCH_SIZE": "50", "MICROCRED_EMAIL_POLL_SECONDS": "0.1",
        "MICROCRED_SMTP_TIMEOUT_SECONDS": "3", "MICROCRED_EMAIL_LEASE_SECONDS": "8",
    })
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "api.cli", "worker"], cwd=tmp_path,
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def wait_for(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_worker_killed_mid_batch_sends_at_most_the_message_in_flight_twice(
    tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path}/crash.db"
    engine = build_engine(database)
    upgrade(engine)
    ids = queue(engine, [f"p{n}@arizona.edu" for n in range(80)])
    smtp = SMTPServer(free_port())
    accept = smtp.handler.handle_DATA

    async def slowly(server, session, envelope):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.05)  # a server that takes its time, as real ones do
        return await accept(server, session, envelope)

    smtp.handler.handle_DATA = slowly  # type: ignore[method-assign]
    smtp.start()
    log = tmp_path / "worker.log"
    try:
        first = worker(tmp_path, database, smtp.port, log)
        assert wait_for(lambda: len(smtp.received) >= 20, 60), log.read_text()
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        second = worker(tmp_path, database, smtp.port, log)
        try:
            everything = wait_for(lambda: len({m.message["Message-ID"]
                                                   for m in smtp.received}) == len(ids), 60)
            took = time.monotonic() - killed_at
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
    finally:
        smtp.stop()
    assert everything, log.read_text()
    twice = {mid: n for mid, n in Counter(m.message["Message-ID"]
                                          for m in smtp.received).items() if n > 1}
    assert len(twice) <= 1, f"{len(twice)} messages arrived twice"
    # What was claimed but not sent came back when the (short) lease ran out, not later.
    assert took < 8 + 15
    assert statuses(engine) == {"sent": len(ids)}
    engine.dispose()


def test_the_default_lease_is_what_a_batch_needs_not_minutes() -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert defaults.email_lease_seconds <= 2 * defaults.smtp_timeout_seconds
