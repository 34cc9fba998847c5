"""The outbox API, email preferences, the dev mailbox, the in-process worker, the schema."""

import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, select

from api.app import create_app
from api.cli import parser
from api.web import SESSION_COOKIE, session_cookie_value
from notifications.expand import expand_pending
from notifications.models import DevMailboxMessage, OutboxMessage
from notifications.sender import Sender
from plumbing.settings import Settings
from tests.conftest import World
from tests.notifications.conftest import POLICY

TITLE = "<script>alert(1)</script>"


def test_outbox_pages_newest_first_with_a_status_filter(
    engine: Engine, world: World, client: TestClient
) -> None:
    for n in range(3):
        world.fire(world.proposal(f"Proposal {n}"), "submit", world.owner)
    expand_pending(engine, world.settings)  # as the worker does within a second
    admin = world.admin.headers
    ids, sizes, cursor = [], [], None
    while True:
        page = client.get("/api/outbox", params={"limit": 4, **({"cursor": cursor} if cursor
                                                              else {})}, headers=admin).json()
        ids += [m["id"] for m in page["items"]]
        sizes.append(len(page["items"]))
        if not (cursor := page["next_cursor"]):
            break
    assert sizes == [4, 4, 1]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 9
    assert client.get("/api/outbox", params={"status": "sent"}, headers=admin).json()[
        "items"] == []
    assert client.get("/api/outbox", params={"status": "lost"}, headers=admin).status_code == 422
    assert client.get("/api/outbox", params={"cursor": "nonsense"},
                      headers=admin).status_code == 422


def test_each_user_chooses_immediate_emails_or_a_daily_digest(
    world: World, client: TestClient
) -> None:
    lead = world.lead.headers
    assert client.get("/api/me/email-preferences", headers=lead).json() == {
        "daily_digest": False}
    assert client.put("/api/me/email-preferences", json={"daily_digest": True},
                      headers=lead).json() == {"daily_digest": True}
    assert client.get("/api/me/email-preferences", headers=lead).json() == {
        "daily_digest": True}
    assert client.put("/api/me/email-preferences", json={"daily_digest": True}
                      ).status_code == 401


def test_the_dev_mailbox_shows_admins_what_was_sent(
    engine: Engine, world: World, client: TestClient, settings: Settings
) -> None:
    p = world.proposal(TITLE)
    world.fire(p, "submit", world.owner)
    import asyncio

    assert asyncio.run(Sender(engine, settings, policy=POLICY).drain()).sent == 3
    with Session(engine) as session:
        stored = session.exec(select(DevMailboxMessage).order_by(DevMailboxMessage.id)).all()  # type: ignore[arg-type]
    assert [m.recipient for m in stored] == [
        "lead@arizona.edu", "owner@arizona.edu", "coauthor@arizona.edu"]

    anonymous = client.get("/mailbox")
    assert anonymous.status_code == 401 and 'href="/sign-in?next=%2Fmailbox"' in anonymous.text
    assert client.get("/mailbox", headers=world.lead.headers).status_code == 401
    page = client.get("/mailbox", headers=world.admin.headers)
    assert page.status_code == 200
    assert "Approval needed: &lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>" not in page.text

    one = client.get(f"/mailbox/{stored[0].id}", headers=world.admin.headers)
    assert one.status_code == 200
    assert "<script>" not in one.text
    assert 'sandbox title="The HTML part" srcdoc="' in one.text
    assert "Auto-Submitted" in one.text and "your approval is needed" in one.text
    assert client.get("/mailbox/99999", headers=world.admin.headers).status_code == 404

    # A browser reads it with the admin's own session (tests/web/test_sessions.py).
    client.cookies.set(SESSION_COOKIE, session_cookie_value(settings, world.admin.user))
    assert client.get("/mailbox").status_code == 200


def test_the_app_runs_the_worker_in_process_when_asked(
    engine: Engine, world: World, settings: Settings
) -> None:
    fast = settings.model_copy(update={"email_poll_seconds": 0.05})
    with TestClient(create_app(fast, engine, with_worker=True)):
        world.fire(world.proposal("Cloud Basics"), "submit", world.owner)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with Session(engine) as session:
                if len(session.exec(select(DevMailboxMessage)).all()) == 3:
                    break
            time.sleep(0.05)
    with Session(engine) as session:
        assert len(session.exec(select(DevMailboxMessage)).all()) == 3
        assert {m.status for m in session.exec(select(OutboxMessage)).all()} == {"sent"}


def test_the_command_line_has_a_worker() -> None:
    args = parser().parse_args(["worker"])
    assert args.run.__name__ == "worker"


@pytest.mark.parametrize("table", ["outbox_message", "outbox_event", "email_preference",
                                   "dev_mailbox_message"])
def test_the_migration_builds_the_tables_the_models_describe(engine: Engine, table: str) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, SQLModel.metadata)
    mine = [d for d in differences if table in repr(d)]
    assert mine == []


@pytest.mark.parametrize("table", ["app_user", "department", "proposal", "inbound_message",
                                   "refusal_tally"])
def test_the_hardening_migration_matches_the_models(engine: Engine, table: str) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, SQLModel.metadata)
    assert [d for d in differences if table in repr(d)] == []
