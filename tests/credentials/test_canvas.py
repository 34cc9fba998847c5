"""Canvas Credentials: a local HTTP server that checks each request exactly as the Badgr API v2
documents it (the only fake allowed: the real service cannot be reached from here)."""

import asyncio
import base64
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session, select

from plumbing.settings import Settings
from tests.conftest import World, free_port
from tests.credentials.conftest import CRITERIA, Publish, upload
from tests.notifications.conftest import FakeClock
from workflow.audit import AuditEntry
from workflow.credentials.badges import PNG_SIGNATURE
from workflow.credentials.canvas import CanvasReport, CanvasSender
from workflow.credentials.models import CanvasJob, Credential
from workflow.proposals.models import Proposal

TOKEN = "canvas-test-token"
ISSUER = "ZvYydoQhRtOKalNzFPZR2A"
# POST /v2/issuers/{entityId}/badgeclasses, BadgeClassSerializerV2 of the Badgr API v2.
BADGECLASS_FIELDS = {"name", "description", "image", "criteriaUrl", "criteriaNarrative",
                     "alignments", "tags", "expires", "extensions"}
ALIGNMENT_FIELDS = {"targetName", "targetUrl", "targetDescription", "targetFramework",
                    "targetCode"}
URL = re.compile(r"^https?://[^\s/$.?#].[^\s]*$")


def badgeclass_problems(body: Any) -> list[str]:
    """What the Badgr API would refuse in a BadgeClass body (its documented fields)."""
    problems = []
    if not isinstance(body, dict):
        return ["the body is not a JSON object"]
    problems += [f"unknown field {k}" for k in body.keys() - BADGECLASS_FIELDS - {"archived",
                                                                                 "archivalNote"}]
    if not (isinstance(body.get("name"), str) and 0 < len(body["name"]) <= 1024):
        problems.append("name: required, at most 1024 characters")
    if not (isinstance(body.get("description"), str) and 0 < len(body["description"]) <= 16384):
        problems.append("description: required, at most 16384 characters")
    image = body.get("image", "")
    match = re.match(r"^data:(image/png|image/svg\+xml);base64,(.+)$", image or "")
    if not match:
        problems.append("image: a data URI is required on create")
    elif match.group(1) == "image/png" and not base64.b64decode(match.group(2)).startswith(
            PNG_SIGNATURE):
        problems.append("image: not a PNG")
    if "criteriaUrl" in body and not URL.match(body["criteriaUrl"] or ""):
        problems.append("criteriaUrl: not a URL")
    if not isinstance(body.get("criteriaNarrative", ""), str):
        problems.append("criteriaNarrative: not text")
    for alignment in body.get("alignments", []):
        if alignment.keys() - ALIGNMENT_FIELDS or not alignment.get("targetName") or not (
                URL.match(alignment.get("targetUrl") or "")):
            problems.append(f"alignments: {alignment}")
    if not all(isinstance(t, str) and len(t) <= 1024 for t in body.get("tags", [])):
        problems.append("tags: strings of at most 1024 characters")
    expires = body.get("expires")
    if expires is not None and not (
            isinstance(expires.get("amount"), int) and expires["amount"] > 0
            and expires.get("duration") in {"days", "weeks", "months", "years"}):
        problems.append("expires: {amount: positive integer, duration: days|weeks|months|years}")
    return problems


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class CanvasServer:
    port: int
    received: list[Received] = field(default_factory=list)
    # Status codes to answer with, in turn; then 201/200 with a result.
    script: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start(server_state: CanvasServer) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def _answer(self, code: int, payload: dict[str, Any]) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            body: dict[str, Any] = json.loads(raw) if raw else {}
            server_state.received.append(Received(self.command, self.path,
                                                  dict(self.headers.items()), body))
            if server_state.script:
                code = server_state.script.pop(0)
                self._answer(code, {"status": {"success": False, "description": "scripted"}})
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._answer(401, {"detail": "Authentication credentials were not provided."})
                return
            if self.headers.get("Content-Type") != "application/json":
                server_state.problems.append("Content-Type is not application/json")
            problems = badgeclass_problems(body)
            create = self.command == "POST" and self.path == f"/v2/issuers/{ISSUER}/badgeclasses"
            archive = self.command == "PUT" and self.path == "/v2/badgeclasses/bc-entity-1"
            if not (create or archive):
                problems.append(f"no such endpoint: {self.command} {self.path}")
            if archive and body.get("archived") is not True:
                problems.append("an archive sets archived")
            if problems:
                server_state.problems += problems
                self._answer(400, {"status": {"success": False}, "fieldErrors": problems})
                return
            self._answer(201 if create else 200, {
                "status": {"success": True, "description": "ok"},
                "result": [{"entityType": "BadgeClass", "entityId": "bc-entity-1",
                            "issuer": ISSUER, "name": body["name"]}]})

        do_POST = _handle
        do_PUT = _handle

    httpd = ThreadingHTTPServer(("127.0.0.1", server_state.port), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture
def canvas() -> Iterator[CanvasServer]:
    state = CanvasServer(free_port())
    httpd = start(state)
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def settings(settings: Settings, canvas: CanvasServer) -> Settings:
    return settings.model_copy(update={
        "canvas_credentials_url": canvas.url, "canvas_credentials_token": SecretStr(TOKEN),
        "canvas_credentials_issuer_id": ISSUER, "email_max_attempts": 3,
        "email_backoff_seconds": 60, "canvas_timeout_seconds": 5})


def drain(engine: Engine, settings: Settings, clock: FakeClock) -> CanvasReport:
    return asyncio.run(CanvasSender(engine, settings, clock=clock).drain())


def jobs(engine: Engine) -> list[CanvasJob]:
    with Session(engine) as session:
        return list(session.exec(select(CanvasJob).order_by(CanvasJob.id)).all())  # type: ignore[arg-type]


def canvas_audit(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as session:
        return [e for e in session.exec(select(AuditEntry).order_by(AuditEntry.seq)).all()  # type: ignore[arg-type]
                if e.action.startswith("canvas_")]


def stored(engine: Engine, public_id: str) -> Credential:
    with Session(engine) as session:
        return session.exec(select(Credential).where(Credential.public_id == public_id)).one()


def test_publishing_creates_the_badgeclass_and_retiring_archives_it(
    client: TestClient, world: World, engine: Engine, settings: Settings, canvas: CanvasServer,
    publish: Publish,
) -> None:
    clock = FakeClock()
    credential = publish(competencies=["communication", "critical_thinking"],
                         expiration_months=24)
    assert [j.action for j in jobs(engine)] == ["create"]
    report = drain(engine, settings, clock)
    assert (report.done, canvas.problems) == (1, [])
    sent = canvas.received[0]
    assert (sent.method, sent.path) == ("POST", f"/v2/issuers/{ISSUER}/badgeclasses")
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.body["criteriaNarrative"] == CRITERIA
    assert sent.body["criteriaUrl"] == f"{credential['url']}#criteria"
    assert sent.body["expires"] == {"amount": 24, "duration": "months"}
    assert [a["targetCode"] for a in sent.body["alignments"]] == ["communication",
                                                                  "critical_thinking"]
    assert sent.body["tags"] == ["data", "storytelling"]
    assert stored(engine, credential["id"]).canvas_entity_id == "bc-entity-1"
    assert client.get(f"/api/credentials/{credential['id']}").json()["canvas_entity_id"] == (
        "bc-entity-1")
    assert drain(engine, settings, clock).done == 0  # nothing is sent twice

    assert client.post(f"/api/proposals/{credential['proposal_id']}/retire",
                       headers=world.coordinator.headers,
                       json={"comment": "no longer offered"}).status_code == 200
    assert drain(engine, settings, clock).done == 1
    archive = canvas.received[-1]
    assert (archive.method, archive.path, archive.body["archived"]) == (
        "PUT", "/v2/badgeclasses/bc-entity-1", True)
    assert canvas.problems == []
    assert [e.action for e in canvas_audit(engine)] == ["canvas_created", "canvas_archived"]


def test_a_401_is_a_dead_job_audited_with_the_answer(
    engine: Engine, settings: Settings, canvas: CanvasServer, publish: Publish
) -> None:
    credential = publish()
    bad_token = settings.model_copy(update={"canvas_credentials_token": SecretStr("expired")})
    report = drain(engine, bad_token, FakeClock())
    assert (report.dead, report.retried) == (1, 0)
    (job,) = jobs(engine)
    assert job.status == "dead"
    assert "HTTP 401" in (job.last_error or "")
    (entry,) = canvas_audit(engine)
    assert entry.action == "canvas_dead"
    assert "401" in entry.detail["error"]
    assert stored(engine, credential["id"]).canvas_entity_id is None


def test_a_5xx_is_retried_after_the_backoff_then_succeeds(
    engine: Engine, settings: Settings, canvas: CanvasServer, publish: Publish
) -> None:
    clock = FakeClock()
    credential = publish()
    canvas.script = [503]
    assert drain(engine, settings, clock).retried == 1
    (job,) = jobs(engine)
    assert (job.status, job.attempts) == ("pending", 1)
    assert drain(engine, settings, clock).jobs == []  # not due before the backoff
    clock.advance(seconds=61)
    assert drain(engine, settings, clock).done == 1
    assert [r.method for r in canvas.received] == ["POST", "POST"]
    assert stored(engine, credential["id"]).canvas_entity_id == "bc-entity-1"
    assert canvas.problems == []


def test_a_server_that_is_down_is_retried_until_the_attempts_run_out(
    engine: Engine, settings: Settings, canvas: CanvasServer, publish: Publish
) -> None:
    clock = FakeClock()
    publish()
    down = settings.model_copy(update={"canvas_credentials_url": f"http://127.0.0.1:{free_port()}"})
    for _ in range(2):
        assert drain(engine, down, clock).retried == 1
        (job,) = jobs(engine)
        assert job.status == "pending"
        assert "cannot reach Canvas Credentials" in (job.last_error or "")
        clock.advance(hours=2)
    assert drain(engine, down, clock).dead == 1  # the third of email_max_attempts=3
    assert [e.action for e in canvas_audit(engine)] == ["canvas_dead"]
    assert canvas.received == []


def test_without_canvas_settings_publishing_writes_no_job(
    engine: Engine, world: World, settings: Settings,
    in_design_review: Callable[..., Proposal],
) -> None:
    from api.app import create_app

    plain = settings.model_copy(update={"canvas_credentials_url": None})
    with TestClient(create_app(plain, engine)) as client:
        proposal = in_design_review()
        assert upload(client, proposal.id or 0, world.owner).status_code == 200
        approved = client.post(f"/api/proposals/{proposal.id}/approve",
                               headers=world.coordinator.headers)
        assert approved.json()["state"] == "published"
    assert jobs(engine) == []
