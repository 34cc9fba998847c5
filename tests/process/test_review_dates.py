"""Periodic review: review dates, notices once each, renewal, and the overview's list."""

from datetime import date, datetime, time, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from notifications import reminders
from notifications.models import OutboxMessage
from tests.conftest import World
from tests.credentials.conftest import Publish
from workflow.audit import AuditEntry
from workflow.credentials import review_dates
from workflow.credentials.review_dates import add_months
from workflow.fields import utcnow


def published_on(engine: Engine, public_id: str, day: date) -> None:
    """Move a credential's publication back in time (test setup only)."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE credential SET published_at = :at WHERE public_id = :id"),
                     {"at": datetime.combine(day, time(12)), "id": public_id})


def test_a_credential_is_due_for_review_three_years_on_or_at_its_own_expiration(
        world: World, publish: Publish) -> None:
    plain = publish("Plain badge")
    short = publish("Short badge", expiration_months=18)
    today = utcnow().date()
    dates = {d.public_id: d.review_on for d in review_dates.review_dates(world.session,
                                                                         world.settings)}
    assert dates[plain["id"]] == add_months(today, 36)
    assert dates[short["id"]] == add_months(today, 18)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)


def test_owner_and_office_are_told_before_the_date_and_after_it_once_each(
        engine: Engine, world: World, publish: Publish) -> None:
    credential = publish()
    published_on(engine, credential["id"], utcnow().date() - timedelta(days=3 * 365 - 30))

    def notices() -> list[tuple[str, str]]:
        with Session(engine) as session:
            return sorted((m.recipient, m.subject) for m in session.exec(select(
                OutboxMessage).where(OutboxMessage.event == "review_due")).all())

    now = utcnow().replace(hour=1)  # before the digest hour: only what is asked here
    for _ in range(2):
        with Session(engine) as session:
            reminders.run(session, world.settings, now)
            session.commit()
    told = notices()
    assert [r for r, _ in told] == [world.coordinator.email, world.owner.email]
    assert all("periodic review due" in s for _, s in told)
    with Session(engine) as session:
        reminders.run(session, world.settings, now + timedelta(days=45))
        session.commit()
    assert len(notices()) == 4 and sum("overdue" in s for _, s in notices()) == 2


def test_the_coordinator_renews_a_credential_audited_and_the_overview_lists_those_due(
        engine: Engine, world: World, client: TestClient, publish: Publish) -> None:
    credential = publish()
    published_on(engine, credential["id"], utcnow().date() - timedelta(days=3 * 365 - 10))
    due = client.get("/api/credential-reviews", params={"within_days": 60},
                     headers=world.coordinator.headers).json()
    assert [d["credential"] for d in due] == [credential["id"]]
    assert client.get("/api/credential-reviews", headers=world.owner.headers).status_code == 403
    refused = client.post(f"/api/credentials/{credential['id']}/renew",
                          headers=world.lead.headers, json={})
    assert refused.status_code == 403
    renewed = client.post(f"/api/credentials/{credential['id']}/renew",
                          headers=world.coordinator.headers,
                          json={"comment": "Still offered; outcomes current"})
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["next_review_on"] == add_months(utcnow().date(), 36).isoformat()
    assert client.get("/api/credential-reviews", params={"within_days": 60},
                      headers=world.coordinator.headers).json() == []
    with Session(engine) as session:
        entries = session.exec(select(AuditEntry).where(AuditEntry.action == "renew")
                               .order_by(col(AuditEntry.seq))).all()
    assert [e.outcome for e in entries] == ["accepted"]  # the lead was refused by the route
    assert entries[0].detail["comment"] == "Still offered; outcomes current"
    retired = client.post(f"/api/proposals/{credential['proposal_id']}/retire",
                          headers=world.coordinator.headers, json={"comment": "Ended"})
    assert retired.status_code == 200
    assert client.post(f"/api/credentials/{credential['id']}/renew",
                       headers=world.coordinator.headers, json={}).status_code == 409
