"""Reminders, escalation and digests: due on time, and never twice."""

import threading
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from notifications import reminders
from notifications.models import EmailPreference, OutboxMessage
from notifications.worker import Worker
from plumbing.settings import Settings
from tests.conftest import SMTPServer, World, force_state
from tests.notifications.conftest import FakeClock, drain
from workflow.fields import utcnow


def schedule(engine: Engine, settings: Settings, at: datetime) -> reminders.SchedulerReport:
    with Session(engine) as session:
        report = reminders.run(session, settings, at)
        session.commit()
    return report


def queued(engine: Engine, event: str) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.event == event)
                            .order_by(OutboxMessage.id)).all()  # type: ignore[arg-type]
    return [(r.recipient, r.subject) for r in rows]


def test_a_waiting_proposal_reminds_its_approvers_once_per_period_then_escalates(
    engine: Engine, world: World, settings: Settings
) -> None:
    p = world.fire(world.proposal("Data Ethics"), "submit", world.owner)
    start = utcnow()
    assert schedule(engine, settings, start + timedelta(days=6)).reminders == 0

    at = start + timedelta(days=7, hours=1)
    assert schedule(engine, settings, at).reminders == 1
    assert schedule(engine, settings, at).reminders == 0  # the same run twice: nothing new
    assert schedule(engine, settings, start + timedelta(days=13)).reminders == 0
    assert queued(engine, "reminder") == [
        ("lead@arizona.edu", "Reminder, waiting for you: Data Ethics")]

    report = schedule(engine, settings, start + timedelta(days=14, hours=1))
    assert (report.reminders, report.escalations) == (1, 1)
    report = schedule(engine, settings, start + timedelta(days=20))
    assert (report.reminders, report.escalations) == (0, 0)
    assert queued(engine, "escalation") == [
        ("badge@arizona.edu", "Overdue: Data Ethics")]
    with Session(engine) as session:
        escalation = session.exec(select(OutboxMessage).where(
            OutboxMessage.event == "escalation")).one()
    assert "has waited 14 days in department review, past the 14-day limit" in (
        escalation.body_text)
    assert "Waiting on: Lead (lead@arizona.edu)" in escalation.body_text

    # Once it moves on, its clock starts again in the new stage.
    world.fire(p, "approve", world.lead)
    assert schedule(engine, settings, utcnow() + timedelta(days=6)).reminders == 0
    assert schedule(engine, settings, utcnow() + timedelta(days=8)).reminders == 1
    assert queued(engine, "reminder")[-1][0] == "badge@arizona.edu"


def test_rubric_review_reminds_the_badge_office_and_reviewers_who_have_not_scored(
    engine: Engine, world: World, settings: Settings
) -> None:
    p = world.fire(world.proposal(), "submit", world.owner)
    world.fire(p, "approve", world.lead)
    from workflow.reviews import assignment

    assignment.assign_reviewers(world.session, p.id or 0, [world.reviewer.email],
                                world.coordinator.user, "api", settings)
    schedule(engine, settings, utcnow() + timedelta(days=8))
    assert sorted(to for to, _ in queued(engine, "reminder")) == [
        "badge@arizona.edu", "reviewer@arizona.edu"]


def test_two_schedulers_at_once_queue_each_reminder_once(
    engine: Engine, world: World, settings: Settings
) -> None:
    for title in ("Data Ethics", "Cloud Basics", "Soil Science"):
        world.fire(world.proposal(title), "submit", world.owner)
    at = utcnow() + timedelta(days=15)
    barrier = threading.Barrier(2)
    results: list[reminders.SchedulerReport] = []

    def run() -> None:
        barrier.wait()
        results.append(schedule(engine, settings, at))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The lead's three reminders come as one email, queued once.
    assert sum(r.reminders for r in results) == 1
    assert sum(r.escalations for r in results) == 3
    assert len(queued(engine, "reminders")) == 1


def test_a_digest_user_gets_one_daily_digest_instead_of_requests_and_reminders(
    engine: Engine, world: World, settings: Settings, smtp_server: SMTPServer
) -> None:
    world.session.add(EmailPreference(user_id=world.lead.user.id or 0, daily_digest=True))
    world.session.commit()
    older = world.fire(world.proposal("Data Ethics"), "submit", world.owner)
    world.fire(world.proposal("Cloud Basics"), "submit", world.owner)
    other = world.proposal("Soil Science")  # a draft waits for nobody
    force_state(engine, other.id or 0, "draft")
    assert [to for to, _ in queued(engine, "submitted")].count("lead@arizona.edu") == 0

    settings = settings.model_copy(update={"digest_hour": 0})
    # Noon, eight and a half days or more on: an hour later is still the same date (a run
    # after 23:00 UTC crossed midnight, where the next day's digest is rightly due).
    day = (utcnow() + timedelta(days=9)).replace(hour=12, minute=0, second=0, microsecond=0)
    report = schedule(engine, settings, day)
    assert (report.digests, report.reminders) == (1, 0)  # the digest replaces the reminders
    assert schedule(engine, settings, day + timedelta(hours=1)).digests == 0
    assert schedule(engine, settings, day + timedelta(days=1)).digests == 1
    digest = queued(engine, "digest")
    assert digest[0] == ("lead@arizona.edu",
                         "Daily digest: 2 proposals wait for you")
    drain(engine, smtp_server.settings(settings))
    message = next(m.message for m in smtp_server.received
                   if m.recipients == ["lead@arizona.edu"])
    text = message.get_body(("plain",)).get_content()
    assert text.index("Data Ethics") < text.index("Cloud Basics")  # oldest first
    assert f"http://127.0.0.1:8000/proposals/{older.id}" in text
    assert message["Auto-Submitted"] == "auto-generated"


def test_the_worker_schedules_with_its_clock(
    engine: Engine, world: World, settings: Settings
) -> None:
    world.fire(world.proposal(), "submit", world.owner)
    clock = FakeClock()
    worker = Worker(engine, settings, clock=clock)
    assert worker.schedule().reminders == 0
    clock.advance(days=7, minutes=1)
    assert worker.schedule().reminders == 1
    assert worker.schedule().reminders == 0


def test_several_proposals_waiting_for_one_lead_come_as_one_reminder(
    engine: Engine, world: World, settings: Settings
) -> None:
    for title in ("Data Ethics", "Cloud Basics", "Soil Science"):
        world.fire(world.proposal(title), "submit", world.owner)
    at = utcnow() + timedelta(days=7, hours=1)
    assert schedule(engine, settings, at).reminders == 1
    assert schedule(engine, settings, at).reminders == 0  # the same run twice: nothing new
    assert queued(engine, "reminder") == []
    assert queued(engine, "reminders") == [
        ("lead@arizona.edu", "Reminder: 3 proposals wait for you")]
    with Session(engine) as session:
        text = session.exec(select(OutboxMessage.body_text).where(
            OutboxMessage.event == "reminders")).one()
    for title in ("Data Ethics", "Cloud Basics", "Soil Science"):
        assert f"- {title} (department review, 7 days waiting)" in text
    assert "http://127.0.0.1:8000/settings" in text
