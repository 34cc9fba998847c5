"""What a load balancer and a monitoring system see: liveness, readiness, metrics, logs."""

import json
import logging
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, text

from api.app import create_app
from api.routes.operations import not_ready
from notifications.models import OutboxMessage
from plumbing import logs
from plumbing.database import build_engine
from plumbing.settings import Settings
from tests.conftest import World, free_port
from workflow.fields import utcnow


def metric(body: str, name: str, **labels: str) -> float:
    """One sample's value from the Prometheus text format, whatever the labels' order."""
    for line in body.splitlines():
        found = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if found and dict(re.findall(r'(\w+)="([^"]*)"', found.group(1) or "")) == labels:
            return float(found.group(2))
    raise AssertionError(f"{name}{labels} not in\n{body}")


def test_health_says_ok_and_ready_says_ready_on_a_migrated_database(
        client: TestClient) -> None:
    assert client.get("/api/health").json() == {"status": "ok"}
    answer = client.get("/api/ready")
    assert (answer.status_code, answer.json()) == (200, {"status": "ready"})


def test_ready_is_503_naming_the_migration_the_database_lacks(
        client: TestClient, engine: Engine) -> None:
    with engine.begin() as conn:
        latest = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        conn.execute(text("UPDATE alembic_version SET version_num = '0008_outbox_event'"))
    try:
        answer = client.get("/api/ready")
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": latest})
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
    assert "0009_outbox_event_attempts" in answer.json()["detail"]
    assert "microcred db upgrade" in answer.json()["detail"]
    assert client.get("/api/health").status_code == 200


def test_ready_names_a_database_that_does_not_answer() -> None:
    away = build_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    problem = not_ready(away)
    assert problem is not None and problem.startswith("the database is unavailable")
    away.dispose()


def test_metrics_count_requests_by_route_template_never_by_raw_path(
        client: TestClient, world: World) -> None:
    proposal = world.proposal()
    for _ in range(2):
        client.get(f"/api/proposals/{proposal.id}", headers=world.owner.headers)
    client.get("/actions/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    body = client.get("/metrics").text
    assert metric(body, "microcred_http_requests_total", method="GET",
                  route="/api/proposals/{proposal_id}", status="200") >= 2
    assert metric(body, "microcred_http_requests_total", method="GET",
                  route="/actions/{token}", status="404") >= 1
    assert f"/api/proposals/{proposal.id}\"" not in body
    assert "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" not in body


def test_metrics_report_the_outbox_backlog_transitions_and_states(
        client: TestClient, world: World) -> None:
    proposal = world.proposal()
    world.fire(proposal, "submit", world.owner)
    world.session.add(OutboxMessage(
        event="submitted", recipient="lead@arizona.edu", subject="s", body_text="t",
        body_html="h", message_id="<m1@test>", created_at=utcnow() - timedelta(minutes=10)))
    world.session.add(OutboxMessage(
        event="submitted", recipient="x@arizona.edu", subject="s", body_text="t",
        body_html="h", message_id="<m2@test>", status="dead"))
    world.session.commit()
    body = client.get("/metrics").text
    assert metric(body, "microcred_database_up") == 1
    assert metric(body, "microcred_outbox_messages", status="pending") == 1
    assert metric(body, "microcred_outbox_messages", status="dead") == 1
    assert 590 < metric(body, "microcred_outbox_oldest_pending_age_seconds") < 900
    assert metric(body, "microcred_outbox_events_pending") >= 1
    assert metric(body, "microcred_transitions_total", trigger="submit",
                  outcome="accepted") == 1
    assert metric(body, "microcred_proposals", state="department_review") == 1
    assert metric(body, "microcred_canvas_jobs", status="dead") == 0


def test_metrics_need_their_token_when_one_is_set(engine: Engine, settings: Settings) -> None:
    guarded = settings.model_copy(update={"metrics_token": SecretStr("scrape-me")})
    with TestClient(create_app(guarded, engine)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        answer = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")


def test_each_request_logs_one_line_with_its_id_actor_status_and_no_token(
        client: TestClient, world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="microcred.request")
    answer = client.get("/api/me", headers={**world.owner.headers, "X-Request-ID": "req-42"})
    assert answer.headers["X-Request-ID"] == "req-42"
    client.get("/actions/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567?do=approve")
    lines = [r for r in caplog.records if r.name == "microcred.request"]
    me = next(r for r in lines if r.path == "/api/me")  # type: ignore[attr-defined]
    assert (me.request_id, me.actor, me.status) == (  # type: ignore[attr-defined]
        "req-42", "owner@arizona.edu", 200)
    action = logs.TextFormatter().format(lines[-1])
    assert "/actions/<token>" in action and "ABCDEFGHIJKLMNOP" not in action
    assert world.owner.token not in "\n".join(logs.TextFormatter().format(r) for r in lines)


def test_a_request_id_that_is_not_plainly_an_id_is_replaced(client: TestClient) -> None:
    answer = client.get("/api/health", headers={"X-Request-ID": "evil\nline"})
    assert re.fullmatch(r"[0-9a-f]{16}", answer.headers["X-Request-ID"])


def test_json_lines_carry_time_level_request_and_actor_and_redact_secrets() -> None:
    record = logging.LogRecord("microcred.request", logging.INFO, __file__, 1,
                               "GET %s from postgresql://u:hunter2@db/x with %s", (
                                   "/sign-in/abc123", "Authorization: Bearer mc_" + "x" * 40),
                               None)
    record.request_id, record.actor, record.status = "r1", "alice@arizona.edu", 200
    line = json.loads(logs.JsonFormatter().format(record))
    assert {"time", "level", "logger", "request_id", "actor", "message"} <= line.keys()
    assert (line["level"], line["request_id"], line["actor"], line["status"]) == (
        "INFO", "r1", "alice@arizona.edu", 200)
    assert "hunter2" not in line["message"] and "abc123" not in line["message"]
    assert "mc_xxxx" not in line["message"]


@pytest.mark.parametrize("secret, shown", [
    ("postgresql+psycopg://microcred:s3cret@db.example.edu/microcred",
     "postgresql+psycopg://microcred:***@db.example.edu/microcred"),
    ("POST /actions/abcdefghijklmnopqrstuvwxyz234567", "POST /actions/<token>"),
    ("GET /sign-in/Zx9_token-value?next=%2F", "GET /sign-in/<token>?next=%2F"),
    ("To: reply+abcdefghijklmnop@reply.example.edu", "To: reply+<token>@reply.example.edu"),
    ("authorization: Bearer mc_abcdefghijklmnopqrstuvwxyz", "authorization: Bearer ***"),
    ("X-Microcred-Proxy-Secret: hunter2", "X-Microcred-Proxy-Secret: ***"),
    ("Cookie: microcred_session=3.1700000000.abcdef", "Cookie: microcred_session=***"),
])
def test_redaction_keeps_where_and_drops_the_secret(secret: str, shown: str) -> None:
    assert logs.redact(secret) == shown


def test_the_demo_sign_in_path_is_not_taken_for_a_token() -> None:
    assert logs.redact("POST /sign-in/demo 303") == "POST /sign-in/demo 303"


def test_a_recurring_problem_is_logged_once_per_interval(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="tests.throttle")
    throttled = logs.Throttled(logging.getLogger("tests.throttle"), interval_seconds=3600)
    for _ in range(200):
        throttled.warning("database unavailable: %s", "connection refused")
    assert [r.getMessage() for r in caplog.records] == [
        "database unavailable: connection refused"]


def test_metrics_keep_answering_with_the_database_away() -> None:
    from api.metrics import exposition

    away = build_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    body = exposition(away).decode()
    assert metric(body, "microcred_database_up") == 0
    away.dispose()



def test_each_postgresql_connection_names_its_kind_of_process(
        postgres_engine: Engine, settings: Settings) -> None:
    url = postgres_engine.url.render_as_string(hide_password=False)
    web = create_app(settings.model_copy(update={"database_url": url})).state.engine
    worker = build_engine(url, application_name="microcred-worker")
    named = build_engine(url + "?application_name=reporting", application_name="microcred-cli")
    try:
        for engine, name in ((web, "microcred-web"), (worker, "microcred-worker"),
                             (named, "reporting")):
            with engine.connect() as conn:
                assert conn.execute(text("SHOW application_name")).scalar_one() == name
    finally:
        for engine in (web, worker, named):
            engine.dispose()


def test_the_log_at_info_carries_no_state_machine_chatter(
        capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        logs.configure("INFO")
        logging.getLogger("transitions.core").info("Finished processing state draft exit")
        logging.getLogger("microcred.request").info("GET /credentials 200")
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
    printed = capsys.readouterr().err
    assert "GET /credentials 200" in printed
    assert "Finished processing" not in printed
