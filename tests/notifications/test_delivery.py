"""Delivery to a real SMTP server: retries, dead letters, leases, connection reuse, workers."""

import asyncio
import secrets
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from notifications.models import OutboxMessage, OutboxStatus
from notifications.transport import Result
from plumbing.retry import DeliveryPolicy
from plumbing.settings import Settings
from tests.conftest import SMTPServer, World, _empty_postgres
from tests.notifications.conftest import POLICY, FakeClock, drain, outbox_count, sender
from workflow import audit
from workflow.audit import AuditEntry
from workflow.fields import utcnow


def queue(engine: Engine, recipients: list[str]) -> list[str]:
    """Put plain messages in the outbox; answer their Message-IDs."""
    ids = [f"<t.{secrets.token_hex(8)}@localhost>" for _ in recipients]
    with Session(engine) as session:
        session.add_all(
            OutboxMessage(event="test", recipient=to, subject=f"Test {n}", body_text=f"text {n}",
                          body_html=f"<p>html {n}</p>", message_id=message_id)
            for n, (to, message_id) in enumerate(zip(recipients, ids, strict=True)))
        session.commit()
    return ids


def statuses(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return dict(session.exec(  # type: ignore[arg-type]
            select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))).all())


def audit_actions(engine: Engine, action: str) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(AuditEntry)
                            .where(AuditEntry.action == action)).one()


def received_ids(server: SMTPServer) -> list[str]:
    return [m.message["Message-ID"] for m in server.received]


def test_smtp_down_for_a_while_then_back_every_message_arrives_exactly_once(
    engine: Engine, mail_settings: Settings, smtp_server: SMTPServer, clock: FakeClock
) -> None:
    ids = queue(engine, [f"person{n}@arizona.edu" for n in range(30)])
    smtp_server.stop()
    first = drain(engine, mail_settings, clock)
    assert (first.sent, first.retried, first.dead) == (0, 30, 0)
    assert drain(engine, mail_settings, clock).batches == 0  # backing off: nothing due yet
    clock.advance(minutes=2)
    assert drain(engine, mail_settings, clock).retried == 30
    with Session(engine) as session:
        row = session.exec(select(OutboxMessage)).first()
        assert row is not None and row.attempts == 2 and "ConnectionRefused" in (
            row.last_error or "") or "Connect" in (row.last_error or "")

    smtp_server.start()
    clock.advance(hours=1)
    report = drain(engine, mail_settings, clock)
    assert report.sent == 30
    assert sorted(received_ids(smtp_server)) == sorted(ids)
    assert statuses(engine) == {"sent": 30}
    assert audit_actions(engine, "email_sent") == 30
    clock.advance(days=1)
    assert drain(engine, mail_settings, clock).batches == 0
    assert len(smtp_server.received) == 30


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling() -> None:
    import random

    policy = DeliveryPolicy(backoff_seconds=60, backoff_max_seconds=3600, jitter=0.5)
    rng = random.Random(7)
    for attempts, ceiling in [(1, 60), (2, 120), (3, 240), (6, 1920), (7, 3600), (20, 3600)]:
        delays = {policy.backoff(attempts, rng) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jitter: failed messages do not all come back together


def test_a_550_goes_to_the_dead_letters_and_an_admin_retries_it(
    engine: Engine, world: World, client: TestClient, mail_settings: Settings,
    smtp_server: SMTPServer, clock: FakeClock,
) -> None:
    smtp_server.handler.refuse["nobody@arizona.edu"] = "550 5.1.1 no such user"
    ids = queue(engine, ["nobody@arizona.edu", "someone@arizona.edu"])
    report = drain(engine, mail_settings, clock)
    assert (report.sent, report.dead) == (1, 1)
    assert received_ids(smtp_server) == [ids[1]]
    assert audit_actions(engine, "email_dead") == 1

    admin = world.admin.headers
    assert client.get("/api/outbox", headers=world.lead.headers).status_code == 403
    assert client.get("/api/outbox").status_code == 401
    dead = client.get("/api/outbox", params={"status": "dead"}, headers=admin).json()
    assert [m["recipient"] for m in dead["items"]] == ["nobody@arizona.edu"]
    letter = dead["items"][0]
    assert letter["attempts"] == 1 and "550" in letter["last_error"]
    assert letter["message_id"] == ids[0]

    smtp_server.handler.refuse.clear()
    sent_id = client.get("/api/outbox", params={"status": "sent"}, headers=admin).json()[
        "items"][0]["id"]
    assert client.post(f"/api/outbox/{sent_id}/retry", headers=admin).status_code == 409
    assert client.post("/api/outbox/999999/retry", headers=admin).status_code == 404
    assert client.post(f"/api/outbox/{letter['id']}/retry",
                       headers=world.lead.headers).status_code == 403
    retried = client.post(f"/api/outbox/{letter['id']}/retry", headers=admin)
    assert retried.status_code == 200
    assert retried.json()["status"] == "pending" and retried.json()["attempts"] == 0
    assert drain(engine, mail_settings, clock).sent == 1
    assert received_ids(smtp_server) == [ids[1], ids[0]]  # the same Message-ID, recognisable
    assert statuses(engine) == {"sent": 2}
    assert audit_actions(engine, "email_retry") == 1


def test_a_4xx_is_retried_until_the_attempt_limit_then_dead(
    engine: Engine, mail_settings: Settings, smtp_server: SMTPServer, clock: FakeClock
) -> None:
    smtp_server.handler.refuse["busy@arizona.edu"] = "451 4.3.0 try again later"
    queue(engine, ["busy@arizona.edu"])
    for attempt in range(1, POLICY.max_attempts + 1):
        report = drain(engine, mail_settings, clock)
        assert report.outcomes[0].result is Result.TRANSIENT, attempt
        clock.advance(hours=2)
    assert statuses(engine) == {"dead": 1}
    assert smtp_server.received == []


def test_a_temporary_refusal_then_success_sends_once(
    engine: Engine, mail_settings: Settings, smtp_server: SMTPServer, clock: FakeClock
) -> None:
    smtp_server.handler.refuse["busy@arizona.edu"] = "421 4.7.0 slow down"
    ids = queue(engine, ["busy@arizona.edu", "calm@arizona.edu"])
    assert drain(engine, mail_settings, clock).sent == 1
    smtp_server.handler.refuse.clear()
    clock.advance(hours=1)
    assert drain(engine, mail_settings, clock).sent == 1
    assert sorted(received_ids(smtp_server)) == sorted(ids)


def test_one_connection_per_batch(
    engine: Engine, mail_settings: Settings, smtp_server: SMTPServer
) -> None:
    queue(engine, [f"p{n}@arizona.edu" for n in range(120)])
    report = drain(engine, mail_settings)
    assert (report.sent, report.batches) == (120, 3)
    assert len({m.peer for m in smtp_server.received}) == 3


def test_a_connection_dropped_mid_batch_keeps_the_sent_retries_that_one_and_sends_the_rest(
    engine: Engine, mail_settings: Settings, smtp_server: SMTPServer, clock: FakeClock
) -> None:
    ids = queue(engine, [f"p{n}@arizona.edu" for n in range(10)])
    accept = smtp_server.handler.handle_DATA
    dropped = []

    async def drop_the_fourth(server, session, envelope):  # type: ignore[no-untyped-def]
        if len(smtp_server.received) == 3 and not dropped:
            dropped.append(envelope.rcpt_tos)
            server.transport.close()  # gone before it answers: the fourth one's fate is unknown
            return "250 never heard"
        return await accept(server, session, envelope)

    smtp_server.handler.handle_DATA = drop_the_fourth  # type: ignore[method-assign]
    report = drain(engine, mail_settings, clock)
    assert [o.result for o in report.outcomes] == (
        [Result.SENT] * 3 + [Result.TRANSIENT] + [Result.SENT] * 6)
    assert dropped == [["p3@arizona.edu"]]
    assert len({m.peer for m in smtp_server.received}) == 2  # the rest on a new connection
    assert statuses(engine) == {"sent": 9, "pending": 1}
    assert outbox_count(engine, status="pending", attempts=1) == 1  # tried: it counts
    assert audit_actions(engine, "email_sent") == 9
    smtp_server.handler.handle_DATA = accept  # type: ignore[method-assign]
    clock.advance(hours=1)
    assert drain(engine, mail_settings, clock).sent == 1
    assert sorted(received_ids(smtp_server)) == sorted(ids)


def test_messages_not_tried_before_the_deadline_go_back_without_costing_an_attempt(
    engine: Engine, mail_settings: Settings, smtp_server: SMTPServer, clock: FakeClock
) -> None:
    from dataclasses import replace

    # A short lease: the batch must stop 2 s in, and the third message takes longer than that.
    policy = replace(POLICY, lease_seconds=4)
    ids = queue(engine, [f"p{n}@arizona.edu" for n in range(10)])
    accept = smtp_server.handler.handle_DATA

    async def slow_third(server, session, envelope):  # type: ignore[no-untyped-def]
        if len(smtp_server.received) == 2:
            await asyncio.sleep(2.5)
        return await accept(server, session, envelope)

    smtp_server.handler.handle_DATA = slow_third  # type: ignore[method-assign]
    report = drain(engine, mail_settings, clock, policy)
    assert [o.result for o in report.outcomes] == [Result.SENT] * 3 + [Result.NOT_TRIED] * 7
    assert statuses(engine) == {"sent": 3, "pending": 7}
    assert outbox_count(engine, status="pending", attempts=0) == 7  # never tried: not charged
    assert audit_actions(engine, "email_sent") == 3
    smtp_server.handler.handle_DATA = accept  # type: ignore[method-assign]
    assert drain(engine, mail_settings, clock).sent == 7  # due at once: no backoff
    assert sorted(received_ids(smtp_server)) == sorted(ids)


def test_a_crashed_worker_gives_up_its_batch_when_the_lease_runs_out(
    engine: Engine, mail_settings: Settings, smtp_server: SMTPServer, clock: FakeClock
) -> None:
    ids = queue(engine, [f"p{n}@arizona.edu" for n in range(10)])
    crashed = sender(engine, mail_settings, clock, name="crashed")
    claimed = crashed.claim()  # ... and then the process dies before sending
    assert len(claimed) == 10
    survivor = sender(engine, mail_settings, clock, name="survivor")
    assert asyncio.run(survivor.drain()).batches == 0  # leased: not touched
    clock.advance(seconds=POLICY.lease_seconds + 1)
    assert asyncio.run(survivor.drain()).sent == 10
    assert sorted(received_ids(smtp_server)) == sorted(ids)
    # Had it only been slow, its late report changes nothing: the rows are no longer its own.
    late = crashed.record(asyncio.run(crashed.deliver(claimed[:1])))
    assert late.sent == 0
    assert audit_actions(engine, "email_sent") == 10


def test_a_message_waits_for_its_next_attempt_time(
    engine: Engine, mail_settings: Settings, smtp_server: SMTPServer, clock: FakeClock
) -> None:
    queue(engine, ["later@arizona.edu"])
    with Session(engine) as session:
        row = session.exec(select(OutboxMessage)).one()
        row.next_attempt_at = utcnow().replace(year=utcnow().year + 1)
        session.add(row)
        session.commit()
    assert drain(engine, mail_settings, clock).batches == 0
    assert outbox_count(engine, status=OutboxStatus.PENDING.value) == 1


@pytest.mark.postgres_only
def test_two_workers_on_postgresql_send_each_of_1000_messages_exactly_once(
    request: pytest.FixtureRequest, settings: Settings, smtp_server: SMTPServer
) -> None:
    engine: Engine = request.getfixturevalue("postgres_engine")
    _empty_postgres(engine)
    mail_settings = smtp_server.settings(settings)
    ids = queue(engine, [f"p{n}@arizona.edu" for n in range(1000)])
    clock = FakeClock()
    reports = {}
    start = threading.Barrier(2)

    def work(name: str) -> None:
        worker = sender(engine, mail_settings, clock, name=name)
        start.wait()
        reports[name] = asyncio.run(worker.drain())

    threads = [threading.Thread(target=work, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert reports["one"].sent + reports["two"].sent == 1000
    assert reports["one"].sent > 0 and reports["two"].sent > 0
    got = received_ids(smtp_server)
    assert len(got) == 1000 and sorted(got) == sorted(ids)
    assert statuses(engine) == {"sent": 1000}
    with Session(engine) as session:
        assert audit.verify(session).ok


def test_a_recipient_holding_an_smtp_command_is_dead_and_the_others_are_sent(
    engine: Engine, mail_settings: Settings, smtp_server: SMTPServer, clock: FakeClock
) -> None:
    evil = "x@arizona.edu\r\nRCPT TO:<evil@example.com>"
    ids = queue(engine, ["first@arizona.edu", evil, "third@arizona.edu"])
    report = drain(engine, mail_settings, clock)
    assert [o.result for o in report.outcomes] == [Result.SENT, Result.PERMANENT, Result.SENT]
    assert (report.sent, report.retried, report.dead) == (2, 0, 1)
    assert received_ids(smtp_server) == [ids[0], ids[2]]
    assert [m.recipients for m in smtp_server.received] == [
        ["first@arizona.edu"], ["third@arizona.edu"]]
    assert not any("evil@example.com" in to.lower()
                   for m in smtp_server.received for to in m.recipients)
    with Session(engine) as session:
        rows = {row.message_id: row for row in session.exec(select(OutboxMessage)).all()}
    assert [rows[i].status for i in ids] == ["sent", "dead", "sent"]
    error = rows[ids[1]].last_error or ""
    assert "recipient" in error and "control character" in error, error
    assert audit_actions(engine, "email_dead") == 1


def test_envelopes_that_are_not_plain_addresses_are_dead_and_the_null_sender_is_sent(
    engine: Engine, mail_settings: Settings, smtp_server: SMTPServer, clock: FakeClock
) -> None:
    envelopes = [  # (envelope sender, recipient, what the dead letter says)
        ("", "answer@arizona.edu", None),  # an automatic answer, from the null sender <>
        ("bounce@arizona.edu\nRSET", "a@arizona.edu", "envelope sender"),
        (None, "<a@arizona.edu>", "not a plain address"),
        (None, "a@arizona.edu@evil.example", "not a plain address"),
        (None, "a b@arizona.edu", "white space"),
        (None, "a@arizona.edu\x1b", "control character"),
        (None, "plain@arizona.edu", None),
    ]
    with Session(engine) as session:
        session.add_all(
            OutboxMessage(event="test", recipient=to, subject="Test", body_text="text",
                          body_html="<p>html</p>", message_id=f"<e{n}@localhost>",
                          envelope_sender=sender)
            for n, (sender, to, _) in enumerate(envelopes))
        session.commit()
    report = drain(engine, mail_settings, clock)
    assert [(o.result, o.row.recipient) for o in report.outcomes] == [
        (Result.SENT if says is None else Result.PERMANENT, to) for _, to, says in envelopes]
    for outcome, (_, _, says) in zip(report.outcomes, envelopes, strict=True):
        assert says is None or says in (outcome.error or ""), outcome.error
    assert [(m.envelope_from, m.recipients) for m in smtp_server.received] == [
        ("<>", ["answer@arizona.edu"]), ("microcred@localhost", ["plain@arizona.edu"])]
    assert statuses(engine) == {"sent": 2, "dead": 5}


def test_the_message_has_the_rows_headers_parts_and_whole_long_message_ids(
    engine: Engine, mail_settings: Settings, smtp_server: SMTPServer, clock: FakeClock
) -> None:
    # Microsoft 365 writes Message-IDs longer than a folded line; a reply must keep them whole.
    outlook = "<PAXP193MB2314C6F90A60DA909597069AA7802@PAXP193MB2314.EURP193.PROD.OUTLOOK.COM>"
    with Session(engine) as session:
        session.add(OutboxMessage(
            event="test", recipient="lead@arizona.edu", subject="[Micro-credential] Café: done",
            body_text="Thé text\n.a line starting with a dot\n", body_html="<p>Thé html</p>\n",
            message_id="<m1@localhost>", thread_id="<proposal-1.1@localhost>",
            headers={"auto-submitted": "auto-replied", "In-Reply-To": outlook,
                     "References": f"<proposal-1.1@localhost> {outlook}"}))
        session.commit()
    assert drain(engine, mail_settings, clock).sent == 1
    [mail] = smtp_server.received
    assert f"\r\nIn-Reply-To: {outlook}\r\n".encode() in mail.raw
    assert f"\r\n {outlook}\r\n".encode() in mail.raw  # References folds between ids only
    message = mail.message
    assert [name for name, _ in message.items()] == [
        "From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
        "Auto-Submitted", "X-Auto-Response-Suppress", "MIME-Version", "Content-Type"]
    assert message["From"] == "Micro-credentials <microcred@localhost>"
    assert message["Subject"] == "[Micro-credential] Café: done"
    assert message["Auto-Submitted"] == "auto-replied"  # the row's own, whatever its case
    assert message["In-Reply-To"] == outlook
    assert message["References"] == f"<proposal-1.1@localhost> {outlook}"
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    assert text.get_content().splitlines() == ["Thé text", ".a line starting with a dot"]
    assert html.get_content().strip() == "<p>Thé html</p>"
