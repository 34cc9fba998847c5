"""The outbox is written in the transition's own transaction, and nowhere else.

The door records one typed event per change; the worker expands it into emails.
"""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select

from notifications import expand
from notifications.compose import enqueue
from notifications.inbound.models import ActionToken
from notifications.models import EmailPreference, OutboxMessage
from notifications.recipients import Recipient
from plumbing.settings import Settings
from tests.conftest import SMTPServer, World
from tests.notifications.conftest import drain, outbox_count
from workflow import events, service
from workflow.audit import Channel
from workflow.errors import Conflict, Forbidden
from workflow.events import OutboxEvent
from workflow.proposals.models import Proposal


def test_a_rolled_back_transition_leaves_no_outbox_row(
    engine: Engine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = world.proposal()
    pid = p.id
    recorded_before_failure = []

    record = events.record

    def fails_after_the_outbox(session: Session, event: events.ProposalEvent) -> None:
        record(session, event)
        recorded_before_failure.append(session.exec(
            select(func.count()).select_from(OutboxEvent)).one())
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(events, "record", fails_after_the_outbox)
    with pytest.raises(RuntimeError):
        world.fire(p, "submit", world.owner)
    world.session.rollback()  # as the request's session does when the door raises

    assert recorded_before_failure == [1]  # the event was written, then rolled back with it
    assert expand.expand_pending(engine, world.settings) == 0
    assert outbox_count(engine) == 0
    with Session(engine) as fresh:
        stored = fresh.get(Proposal, pid)
        assert stored is not None and stored.state == "draft"


def test_a_refused_transition_leaves_no_outbox_row(engine: Engine, world: World) -> None:
    p = world.proposal()
    with pytest.raises(Forbidden):
        world.fire(p, "submit", world.co_author)
    with pytest.raises(Conflict):
        service.apply(world.session, p.id or 0, "submit", world.owner.user, Channel.API,
                      settings=world.settings, version=p.version + 5)
    assert outbox_count(engine) == 0


def test_the_outbox_event_commits_with_the_transition_and_becomes_one_email_each(
    engine: Engine, world: World
) -> None:
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    with Session(engine) as fresh:
        stored = fresh.get(Proposal, p.id)
        assert stored is not None and stored.state == "department_review"
        [event] = fresh.exec(select(OutboxEvent)).all()
    assert (event.event, event.state, event.version) == ("submitted", "department_review", 2)
    assert event.actor_id == world.owner.user.id

    assert expand.expand_pending(engine, world.settings) == 3
    assert expand.expand_pending(engine, world.settings) == 0  # the event is gone once expanded
    with Session(engine) as fresh:
        assert fresh.exec(select(OutboxEvent)).all() == []
        rows = fresh.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()  # type: ignore[arg-type]
    assert [(r.recipient, r.status, r.event) for r in rows] == [
        ("lead@arizona.edu", "pending", "submitted"),
        ("owner@arizona.edu", "pending", "submitted"),
        ("coauthor@arizona.edu", "pending", "submitted"),
    ]
    assert len({r.message_id for r in rows}) == 3
    assert len({r.thread_id for r in rows}) == 1


def test_action_needed_emails_carry_action_links_and_a_reply_to_address(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
) -> None:
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    drain(engine, mail_settings)
    by_recipient = {m.recipients[0]: m.message for m in smtp_server.received}
    lead = by_recipient["lead@arizona.edu"]
    reply_to = re.fullmatch(r"reply\+([a-z2-7]{32})@localhost", str(lead["Reply-To"]))
    assert reply_to is not None
    token = reply_to.group(1)
    text = lead.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = lead.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert f"Approve: http://127.0.0.1:8000/actions/{token}" in text
    assert f'href="http://127.0.0.1:8000/actions/{token}?do=approve"' in html
    owner = by_recipient["owner@arizona.edu"]
    assert owner["Reply-To"] is None
    assert "/actions/" not in owner.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_a_digest_user_gets_no_action_needed_email_but_still_gets_receipts(
    engine: Engine, world: World
) -> None:
    world.session.add(EmailPreference(user_id=world.lead.user.id or 0, daily_digest=True))
    world.session.add(EmailPreference(user_id=world.owner.user.id or 0, daily_digest=True))
    world.session.commit()
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    expand.expand_pending(engine, world.settings)
    with Session(engine) as fresh:
        recipients = fresh.exec(select(OutboxMessage.recipient)).all()
    assert sorted(recipients) == ["coauthor@arizona.edu", "owner@arizona.edu"]


def test_enqueue_serves_other_features_and_dedupes_by_key(
    engine: Engine, world: World, settings: Settings
) -> None:
    p = world.proposal("Data Ethics")
    reviewer = Recipient(email="reviewer@arizona.edu", name="Rita", role="reviewer")
    context = {"actor": {"name": "Carol", "email": "badge@arizona.edu"}}
    for _ in range(2):
        queued = enqueue(world.session, event="reviewer_assigned", proposal=p,
                         recipients=[reviewer, "Someone@Arizona.edu"], context=context,
                         what="Review requested", action_needed=True,
                         dedupe_key=f"assign:{p.id}", settings=settings)
        world.session.commit()
    assert queued == 0
    with Session(engine) as fresh:
        rows = fresh.exec(select(OutboxMessage)).all()
    assert sorted(r.recipient for r in rows) == ["reviewer@arizona.edu", "someone@arizona.edu"]
    assert rows[0].subject == "Review requested: Data Ethics"
    assert "Carol asked you to review" in rows[0].body_text

    with pytest.raises(ValueError, match="needs a subject"):
        enqueue(world.session, event="digest", proposal=None, recipients=["a@arizona.edu"],
                settings=settings)
    queued = enqueue(world.session, event="digest", proposal=None, recipients=["a@arizona.edu"],
                     subject="Daily digest", context={"items": []},
                     settings=settings)
    world.session.commit()
    assert queued == 1


def test_an_event_expanded_after_the_proposal_moved_on_offers_no_actions(
    engine: Engine, world: World
) -> None:
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    world.fire(p, "approve", world.lead)  # before the worker came round to the submission
    assert expand.expand_pending(engine, world.settings) > 0
    with Session(engine) as fresh:
        [to_lead] = fresh.exec(select(OutboxMessage).where(
            OutboxMessage.event == "submitted",
            OutboxMessage.recipient == "lead@arizona.edu")).all()
        tokens = fresh.exec(select(ActionToken)).all()
    # Still told, as the lead of the stage it was submitted to, but with nothing left to press.
    assert "department review" in to_lead.body_text
    assert "/actions/" not in to_lead.body_text and "Reply-To" not in to_lead.headers
    assert {t.event for t in tokens} == {"department_approved"}  # the current stage's only


def test_an_event_that_fails_to_expand_stays_and_the_others_go_out(
    engine: Engine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = world.proposal("Applied Data Storytelling")
    second = world.proposal("Field Ecology Methods")
    world.fire(first, "submit", world.owner)
    world.fire(second, "submit", world.owner)
    real = expand.expand

    def breaks_on_the_first(session: Session, row: OutboxEvent, settings: Settings) -> int:
        if row.proposal_id == first.id:
            raise RuntimeError("a template bug")
        return real(session, row, settings)

    monkeypatch.setattr(expand, "expand", breaks_on_the_first)
    assert expand.expand_pending(engine, world.settings) == 3
    assert outbox_count(engine, proposal_id=first.id) == 0
    monkeypatch.setattr(expand, "expand", real)
    # Fixed: the kept event goes out on the next pass.
    assert expand.expand_pending(engine, world.settings) == 3
    assert outbox_count(engine, proposal_id=first.id) == 3


def test_an_event_that_keeps_failing_is_parked_with_its_error_and_logged_once(
    engine: Engine, world: World, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = world.proposal("Applied Data Storytelling")
    world.fire(broken, "submit", world.owner)
    real = expand.expand

    def always_breaks(session: Session, row: OutboxEvent, settings: Settings) -> int:
        raise RuntimeError("a template bug")

    monkeypatch.setattr(expand, "expand", always_breaks)
    with caplog.at_level("WARNING", logger="notifications.expand"):
        for _ in range(expand.MAX_EVENT_ATTEMPTS + 3):
            expand.expand_pending(engine, world.settings)
    given_up = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(given_up) == 1 and "parked" in given_up[0].getMessage()
    assert sum(r.levelname == "WARNING" for r in caplog.records) == expand.MAX_EVENT_ATTEMPTS - 1
    with Session(engine) as fresh:
        [parked] = fresh.exec(select(OutboxEvent)).all()
    assert parked.attempts == expand.MAX_EVENT_ATTEMPTS
    assert parked.last_error == "RuntimeError: a template bug"
    # Fixed and released by an admin, it goes out like any other.
    monkeypatch.setattr(expand, "expand", real)
    with Session(engine) as fresh:
        parked = fresh.get(OutboxEvent, parked.id)
        assert parked is not None
        parked.attempts = 0
        fresh.add(parked)
        fresh.commit()
    assert expand.expand_pending(engine, world.settings) == 3
    assert outbox_count(engine, proposal_id=broken.id) == 3


def test_a_database_outage_during_expansion_is_not_counted_against_the_event(
    engine: Engine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    proposal = world.proposal()
    world.fire(proposal, "submit", world.owner)
    real = expand.expand

    def database_gone(session: Session, row: OutboxEvent, settings: Settings) -> int:
        raise OperationalError("SELECT 1", None, Exception("server closed the connection"))

    monkeypatch.setattr(expand, "expand", database_gone)
    for _ in range(expand.MAX_EVENT_ATTEMPTS + 1):
        expand.expand_pending(engine, world.settings)
    with Session(engine) as fresh:
        [event] = fresh.exec(select(OutboxEvent)).all()
    assert event.attempts == 0
    monkeypatch.setattr(expand, "expand", real)
    assert expand.expand_pending(engine, world.settings) == 3


def test_two_workers_expanding_at_once_queue_each_email_once(
    engine: Engine, world: World
) -> None:
    proposals = [world.proposal(f"Applied Data Storytelling, part {n}") for n in range(20)]
    for p in proposals:
        world.fire(p, "submit", world.owner)
    with ThreadPoolExecutor(2) as pool:
        queued = sum(pool.map(lambda _: expand.expand_pending(engine, world.settings), range(2)))
    assert queued == 60
    assert outbox_count(engine) == 60
    with Session(engine) as fresh:
        pairs = fresh.exec(select(OutboxMessage.proposal_id, OutboxMessage.recipient)).all()
    assert len(set(pairs)) == 60
