"""The operator's commands: migrations, configuration checks, audit checkpoints."""

import json
import secrets
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from api.demo import sample_proposal
from plumbing.database import build_engine, get_engine
from plumbing.migrate import in_order
from plumbing.settings import get_settings
from tests.api.conftest import run
from workflow import service
from workflow.accounts.models import DepartmentCreate, Role
from workflow.accounts.service import add_department, add_user
from workflow.audit import Channel


def add_history(engine: Engine, titles: list[str]) -> None:
    """Entries in the chain: one proposal created per title."""
    with Session(engine, expire_on_commit=False) as session:
        owner = add_user(session, "owner@arizona.edu", "Owner", [Role.SUBMITTER], "CS")
        for title in titles:
            service.create_proposal(session, sample_proposal(title, "CS"), owner, Channel.API)


@pytest.fixture
def backup_of(engine: Engine) -> Iterator[Callable[[], str]]:
    """Copies the test database, as a backup would, and yields the copy's URL."""
    made: list[str] = []

    def backup() -> str:
        if engine.dialect.name == "sqlite":
            source = Path(engine.url.database or "")
            copy = source.with_name(f"backup-{len(made)}.db")
            with sqlite3.connect(source) as live, sqlite3.connect(copy) as target:
                live.backup(target)
            url = f"sqlite:///{copy}"
        else:
            name = f"{engine.url.database}_backup_{uuid.uuid4().hex[:6]}"
            engine.dispose()  # a template database must have no other sessions
            with admin(engine).connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{engine.url.database}"'))
            url = engine.url.set(database=name).render_as_string(hide_password=False)
        made.append(url)
        return url

    yield backup
    for url in made:
        get_engine(url, "microcred-cli").dispose()
        if url.startswith("postgresql"):
            with admin(engine).connect() as conn:
                name = make_url(url).database
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def admin(engine: Engine) -> Engine:
    return create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def point_cli_at(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICROCRED_DATABASE_URL", url)
    get_settings.cache_clear()


REVISIONS = [script.revision for script in in_order()]
HEAD = REVISIONS[-1]


def test_db_upgrade_says_what_it_applied_and_current_and_history_say_where_it_stands(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    point_cli_at(f"sqlite:///{tmp_path}/fresh.db", monkeypatch)
    code, out, _ = run(capsys, "db", "current")
    assert code == 1
    assert out.startswith("no schema yet")
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0
    assert out.splitlines()[0].startswith(
        f"applied {len(REVISIONS)} migration(s): 0001, 0002_outbox, ")
    assert f"up to date at {HEAD}" in out
    code, out, _ = run(capsys, "db", "upgrade")
    assert (code, out.startswith("database schema is up to date")) == (0, True)
    assert run(capsys, "db", "current")[:2] == (0, f"{HEAD}\n")
    code, out, _ = run(capsys, "db", "history")
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["0001", "applied"]
    assert lines[-1].split()[:2] == [HEAD, "applied"]
    get_engine(f"sqlite:///{tmp_path}/fresh.db", "microcred-cli").dispose()


def test_db_current_names_pending_migrations(
        cli_database: str, engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    before_last = REVISIONS[-2]
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": before_last})
    try:
        code, out, _ = run(capsys, "db", "current")
        history = run(capsys, "db", "history")[1]
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": HEAD})
    assert code == 1
    assert out.splitlines() == [before_last, f"1 migration(s) not applied yet: {HEAD}"]
    assert history.splitlines()[-1].split()[:2] == [HEAD, "pending"]


def test_a_checkpoint_fails_on_a_database_restored_from_before_it_and_holds_on_the_live_one(
        cli_database: str, engine: Engine, capsys: pytest.CaptureFixture[str],
        backup_of: Callable[[], str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with Session(engine) as session:
        add_department(session, DepartmentCreate(code="CS", name="Computer Science"))
    add_history(engine, ["First", "Second"])
    backup = backup_of()
    add_history(engine, ["Third"])

    checkpoint = tmp_path / "checkpoint.json"
    code, out, _ = run(capsys, "audit", "checkpoint", "--out", str(checkpoint))
    statement = json.loads(out)
    assert code == 0 and statement == json.loads(checkpoint.read_text())
    assert (statement["statement"], statement["seq"]) == ("microcred audit checkpoint", 3)
    assert statement["signature"].startswith("hmac-sha256:")

    code, out, _ = run(capsys, "audit", "verify", "--checkpoint", str(checkpoint))
    assert code == 0
    assert out.splitlines() == ["audit chain intact: 3 entries",
                                f"checkpoint holds: entry 3 of {statement['taken_at']} is in "
                                "the chain"]

    point_cli_at(backup, monkeypatch)
    assert run(capsys, "audit", "verify")[:2] == (0, "audit chain intact: 2 entries\n")
    code, out, _ = run(capsys, "audit", "verify", "--checkpoint", str(checkpoint))
    assert code == 1
    assert "checkpoint FAILED: entry 3" in out and "older than the checkpoint" in out

    # The restored copy carried on: entry 3 exists again, but it is another one.
    add_history(build_engine(backup), ["Another third"])
    code, out, _ = run(capsys, "audit", "verify", "--checkpoint", str(checkpoint))
    assert code == 1
    assert "entry 3 is not the one the checkpoint saw" in out


def test_an_edited_checkpoint_is_refused(
        cli_database: str, engine: Engine, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    with Session(engine) as session:
        add_department(session, DepartmentCreate(code="CS", name="Computer Science"))
    add_history(engine, ["First", "Second"])
    statement = json.loads(run(capsys, "audit", "checkpoint")[1])
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps({**statement, "seq": 1}))
    code, out, _ = run(capsys, "audit", "verify", "--checkpoint", str(edited))
    assert code == 1
    assert "signature does not match" in out


def test_a_checkpoint_is_emailed_to_the_badge_office_and_verifies_from_the_saved_message(
        cli_database: str, engine: Engine, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    from notifications.models import OutboxMessage

    with Session(engine) as session:
        add_department(session, DepartmentCreate(code="CS", name="Computer Science"))
    add_history(engine, ["First"])
    code, _, err = run(capsys, "audit", "checkpoint", "--email")
    assert code == 0 and "queued for badge@arizona.edu" in err
    with Session(engine) as session:
        message = session.exec(select(OutboxMessage).where(
            OutboxMessage.event == "audit_checkpoint")).one()
    assert message.recipient == "badge@arizona.edu"
    assert message.subject == "Audit checkpoint: entry 1"
    saved = tmp_path / "message.txt"
    saved.write_text(message.body_text)
    code, out, _ = run(capsys, "audit", "verify", "--checkpoint", str(saved))
    assert code == 0, out


def test_check_config_names_unset_arizona_defaults_and_unsafe_values(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file here
    for name, value in {"MICROCRED_BASE_URL": "http://microcred.university.test",
                        "MICROCRED_SECRET_KEY": "short",
                        "MICROCRED_TRUSTED_PROXIES": "0.0.0.0/0",
                        "MICROCRED_DEMO_SIGN_IN": "true",
                        "MICROCRED_TRUSTED_USER_HEADER": "X-Remote-User"}.items():
        monkeypatch.setenv(name, value)
    code, out, _ = run(capsys, "check-config")
    assert code == 1
    lines = out.splitlines()
    assert "unset    MICROCRED_SMTP_HOST: no email leaves the machine: it lands in the dev " \
           "mailbox" in lines
    assert not any("MICROCRED_BASE_URL" in line and line.startswith("unset") for line in lines)
    assert any(line.startswith("default  MICROCRED_BADGE_OFFICE_EMAIL") for line in lines)
    assert any(line.startswith("default  MICROCRED_ISSUER_NAME") for line in lines)
    unsafe = [line.split(":")[0] for line in lines if line.startswith("unsafe")]
    assert unsafe == ["unsafe   MICROCRED_SECRET_KEY", "unsafe   MICROCRED_DEMO_SIGN_IN",
                      "unsafe   MICROCRED_TRUSTED_USER_HEADER", "unsafe   MICROCRED_BASE_URL",
                      "unsafe   MICROCRED_TRUSTED_PROXIES"]


def test_check_config_passes_a_decided_safe_configuration(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    decided = {
        "DATABASE_URL": "postgresql+psycopg://microcred:Zq8v-long-password@db/microcred",
        "SECRET_KEY": secrets.token_urlsafe(32), "BASE_URL": "https://microcred.university.test",
        "SMTP_HOST": "smtp.university.test", "MAIL_FROM": "Micro <m@university.test>",
        "REPLY_DOMAIN": "reply.university.test", "BADGE_OFFICE_EMAIL": "badges@university.test",
        "ISSUER_NAME": "State University", "ISSUER_URL": "https://www.university.test",
        "TIME_ZONE": "America/Chicago",
    }
    for name, value in decided.items():
        monkeypatch.setenv(f"MICROCRED_{name}", value)
    assert run(capsys, "check-config")[:2] == (
        0, "nothing unset, no University of Arizona defaults, nothing unsafe\n")


def test_check_config_names_a_setting_that_cannot_be_read(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MICROCRED_TIME_ZONE", "Mars/Olympus")
    code, out, _ = run(capsys, "check-config")
    assert code == 1
    assert out.startswith("invalid  MICROCRED_TIME_ZONE: Value error, unknown time zone")


def test_a_checkpoint_still_verifies_after_the_key_is_rotated_while_the_old_key_is_listed(
        cli_database: str, engine: Engine, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with Session(engine) as session:
        add_department(session, DepartmentCreate(code="CS", name="Computer Science"))
    add_history(engine, ["First"])
    old, new = "o" * 43, "n" * 43
    monkeypatch.setenv("MICROCRED_SECRET_KEY", old)
    get_settings.cache_clear()
    checkpoint = tmp_path / "checkpoint.json"
    assert run(capsys, "audit", "checkpoint", "--out", str(checkpoint))[0] == 0
    monkeypatch.setenv("MICROCRED_SECRET_KEY", new)
    monkeypatch.setenv("MICROCRED_OLD_SECRET_KEYS", old)
    get_settings.cache_clear()
    assert run(capsys, "audit", "verify", "--checkpoint", str(checkpoint))[0] == 0
    monkeypatch.setenv("MICROCRED_OLD_SECRET_KEYS", "")
    get_settings.cache_clear()
    code, out, _ = run(capsys, "audit", "verify", "--checkpoint", str(checkpoint))
    assert code == 1 and "signature does not match" in out
