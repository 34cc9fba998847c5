"""Helpers for the email tests: a clock to move by hand, a sender with small timings, the
inbound webhook's client and the reply listener."""

import asyncio
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from api.app import create_app
from notifications.inbound import listener
from notifications.models import OutboxMessage
from notifications.sender import DrainReport, Sender
from plumbing.retry import DeliveryPolicy
from plumbing.settings import Settings
from tests.conftest import SMTPServer, free_port

# Timings as in production, but the clock is ours: no test sleeps for a backoff or a lease.
POLICY = DeliveryPolicy(max_attempts=5, backoff_seconds=60, backoff_max_seconds=3600,
                        lease_seconds=300, batch_size=50, smtp_timeout_seconds=5)


@dataclass
class FakeClock:
    """Real time plus however far a test has moved it on."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mail_settings(settings: Settings, smtp_server: SMTPServer) -> Settings:
    """Settings that point the sender at the test's SMTP server."""
    return smtp_server.settings(settings)


def sender(engine: Engine, settings: Settings, clock: FakeClock | None = None,
           policy: DeliveryPolicy = POLICY,
           name: str | None = None) -> Sender:
    return Sender(engine, settings, policy=policy, clock=clock or FakeClock(),
                  rng=random.Random(4), name=name)


def drain(engine: Engine, settings: Settings, clock: FakeClock | None = None,
          policy: DeliveryPolicy = POLICY) -> DrainReport:
    """Send everything due now, as one worker pass would."""
    return asyncio.run(sender(engine, settings, clock, policy).drain())


def outbox_count(engine: Engine, **where: object) -> int:
    with Session(engine) as session:
        query = select(func.count()).select_from(OutboxMessage)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return session.exec(query).one()


SECRET = "inbound-test-secret"


@pytest.fixture
def app_client(engine: Engine, mail_settings: Settings) -> TestClient:
    settings = mail_settings.model_copy(update={"inbound_secret": SecretStr(SECRET)})
    return TestClient(create_app(settings, engine))


@pytest.fixture
def reply_listener(engine: Engine, mail_settings: Settings) -> Iterator[int]:
    """The inbound SMTP listener (`microcred inbound-smtp`) on a free local port."""
    port = free_port()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(
        listener.start(engine, mail_settings, "127.0.0.1", port), loop).result(timeout=10)
    yield port

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()
