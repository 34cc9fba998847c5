"""Fixtures: each database test runs on SQLite and on the real PostgreSQL, in a clean database.

PostgreSQL comes from MICROCRED_TEST_POSTGRES_URL (`.ci/run` starts one and sets it).
Without it the PostgreSQL half skips locally and fails under CI=true.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from api.app import create_app
from api.demo import sample_proposal
from plumbing.database import build_engine
from plumbing.migrate import upgrade
from plumbing.settings import Settings
from workflow import service
from workflow.accounts.models import DepartmentCreate, Role, User
from workflow.accounts.service import add_department, add_user, issue_token
from workflow.audit import Channel
from workflow.proposals.models import Proposal
from workflow.reviews.rubrics import install_rubrics

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("MICROCRED_TEST_POSTGRES_URL")
KEEP_TABLES = ("alembic_version", "audit_head")


SKIPPED: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under CI=true nothing may be skipped silently: any skip fails the run."""
    if IN_CI and SKIPPED:
        print(f"\nCI=true: {len(SKIPPED)} test(s) skipped, every test must run in CI: "
              + ", ".join(SKIPPED[:10]))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def need_postgres() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if IN_CI:
        pytest.fail("CI=true but MICROCRED_TEST_POSTGRES_URL is not set: PostgreSQL is required")
    pytest.skip("no PostgreSQL here (set MICROCRED_TEST_POSTGRES_URL); under CI this fails")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = build_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    url = make_url(need_postgres())
    name = f"microcred_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = build_engine(url.set(database=name).render_as_string(hide_password=False),
                          pool_size=25)
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_postgres(engine: Engine) -> None:
    with engine.begin() as conn:
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                 "AND NOT tablename = ANY(:keep)"), {"keep": list(KEEP_TABLES)}
        ).scalars().all()
        # Replica mode skips the append-only triggers, for this cleanup only.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        conn.execute(text("UPDATE audit_head SET last_seq = 0, last_hash = repeat('0', 64)"))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = tmp_path / "microcred.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        sqlite = build_engine(f"sqlite:///{path}", pool_size=25)
        yield sqlite
        sqlite.dispose()
    else:
        postgres: Engine = request.getfixturevalue("postgres_engine")
        _empty_postgres(postgres)
        yield postgres


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None, database_url="sqlite://", secret_key="test-secret")  # type: ignore[call-arg]


@pytest.fixture
def client(engine: Engine, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine)) as test_client:
        yield test_client


@dataclass
class Person:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def email(self) -> str:
        return self.user.email


@dataclass
class World:
    """Two departments and one person in every position a test needs."""

    owner: Person
    co_author: Person
    colleague: Person  # another submitter in the owner's department
    lead: Person  # lead of the owner's department
    other_lead: Person  # lead of another department
    outsider: Person  # submitter in another department
    coordinator: Person
    reviewer: Person
    admin: Person
    session: Session
    settings: Settings

    def proposal(self, title: str = "Applied Data Storytelling", **fields: object) -> Proposal:
        fields.setdefault("co_authors", [self.co_author.email])
        data = sample_proposal(title, "CS", **fields)
        return service.create_proposal(self.session, data, self.owner.user, Channel.API)

    def fire(self, proposal: Proposal, trigger: str, who: Person, comment: str | None = None
             ) -> Proposal:
        return service.apply(self.session, proposal.id or 0, trigger, who.user, Channel.API,
                             settings=self.settings, comment=comment)


@pytest.fixture
def world(session: Session, settings: Settings) -> World:
    install_rubrics(session, settings)
    add_department(session, DepartmentCreate(code="CS", name="Computer Science"))
    add_department(session, DepartmentCreate(code="MATH", name="Mathematics"))

    def person(email: str, roles: list[Role], department: str | None = None) -> Person:
        user = add_user(session, email, email.split("@")[0].title(), roles, department)
        return Person(user, issue_token(session, user))

    return World(
        owner=person("owner@arizona.edu", [Role.SUBMITTER], "CS"),
        co_author=person("coauthor@arizona.edu", [Role.SUBMITTER], "CS"),
        colleague=person("colleague@arizona.edu", [Role.SUBMITTER], "CS"),
        lead=person("lead@arizona.edu", [Role.DEPARTMENT_LEAD], "CS"),
        other_lead=person("mathlead@arizona.edu", [Role.DEPARTMENT_LEAD], "MATH"),
        outsider=person("mathsub@arizona.edu", [Role.SUBMITTER], "MATH"),
        coordinator=person("badge@arizona.edu", [Role.COORDINATOR], None),
        reviewer=person("reviewer@arizona.edu", [Role.REVIEWER], None),
        admin=person("admin@arizona.edu", [Role.ADMIN], None),
        session=session,
        settings=settings,
    )


def force_state(engine: Engine, proposal_id: int, state: str,
                returned_from: str | None = None) -> None:
    """Put a proposal in a state for a test's setup, around the door (test use only). Any
    state but draft is reached as if it had been submitted once."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE proposal SET state = :s, returned_from = :r, submitted_at = CASE "
                 "WHEN :draft THEN NULL ELSE coalesce(submitted_at, created_at) END "
                 "WHERE id = :i"),
            {"s": state, "r": returned_from, "i": proposal_id, "draft": state == "draft"},
        )


@contextmanager
def serving(app: Any, **config: Any) -> Iterator[str]:
    """Run `app` under a real uvicorn server on a free local port; yield its base URL."""
    import threading
    import time

    import uvicorn

    port = free_port()
    config.setdefault("log_level", "warning")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_server(engine: Engine, settings: Settings) -> Iterator[str]:
    """The app under a real uvicorn server on a free local port; yields its base URL."""
    with serving(create_app(settings, engine)) as url:
        yield url


# --- email: a real SMTP server on 127.0.0.1 (notifications) -------------------------------


@dataclass
class ReceivedMail:
    envelope_from: str
    recipients: list[str]
    raw: bytes
    peer: tuple[str, int]

    @property
    def message(self):  # type: ignore[no-untyped-def]
        from email import message_from_bytes
        from email.policy import default

        return message_from_bytes(self.raw, policy=default)


class RecordingHandler:
    """Accepts everything except the recipients told to refuse, and keeps what it got."""

    def __init__(self) -> None:
        self.received: list[ReceivedMail] = []
        self.refuse: dict[str, str] = {}  # recipient -> SMTP reply, such as "550 no such user"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        reply = self.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos),
                                          bytes(envelope.original_content or envelope.content),
                                          tuple(session.peer)))
        return "250 Message accepted for delivery"


class SMTPServer:
    """aiosmtpd on a fixed free port, which tests can stop and start again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.handler = RecordingHandler()
        self.controller = None

    @property
    def received(self) -> list[ReceivedMail]:
        return self.handler.received

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     server_hostname="smtp.test", ready_timeout=10)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def settings(self, base: Settings) -> Settings:
        return base.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": self.port})


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port, recording what it receives."""
    server = SMTPServer(free_port())
    server.start()
    yield server
    server.stop()
