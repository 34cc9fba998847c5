"""Canvas Credentials (the Badgr API v2): create the BadgeClass of a published credential, and
archive it when the credential is retired.

Jobs (`canvas_job`) are written by the publish and retire transactions; the worker claims due
ones in a short transaction, calls the API with no transaction open, and records the outcome,
retrying like email: connection failures, timeouts, 429 and 5xx answers back off
(`MICROCRED_EMAIL_BACKOFF_SECONDS` doubling up to `..._BACKOFF_MAX_SECONDS`, at most
`MICROCRED_EMAIL_MAX_ATTEMPTS`); other 4xx answers (a bad token, a refused field) are dead at
once, audited as `canvas_dead` with the server's answer.
"""

import asyncio
import json
import random
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, update
from sqlmodel import Session, col, select

from plumbing.retry import Clock, DeliveryPolicy
from plumbing.settings import Settings
from workflow import audit
from workflow.credentials.models import CanvasJob, Credential
from workflow.credentials.openbadges import canvas_badgeclass
from workflow.credentials.publishing import publication
from workflow.fields import utcnow

LEASE_SECONDS = 120
BATCH = 20


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer at all (connection refused, timeout)
    body: dict[str, Any] | None
    error: str | None = None

    @property
    def transient(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


@dataclass
class CanvasReport:
    done: int = 0
    retried: int = 0
    dead: int = 0
    waiting: int = 0
    jobs: list[int] = field(default_factory=list)


def call(settings: Settings, method: str, path: str, body: dict[str, Any]) -> Answer:
    """One JSON request to the Canvas Credentials API (blocking; run it in a thread)."""
    assert settings.canvas_credentials_url and settings.canvas_credentials_token
    request = urllib.request.Request(
        settings.canvas_credentials_url.rstrip("/") + path, method=method,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {settings.canvas_credentials_token.get_secret_value()}",
                 "Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.canvas_timeout_seconds) as reply:
            return Answer(reply.status, _json(reply.read()))
    except urllib.error.HTTPError as error:
        text = error.read()[:500].decode(errors="replace")
        return Answer(error.code, _json(text.encode()), f"HTTP {error.code}: {text}")
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
        reason = getattr(error, "reason", error)
        return Answer(None, None, f"cannot reach Canvas Credentials: {reason}")


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        loaded = json.loads(raw or b"null")
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


def entity_id_of(answer: Answer) -> str | None:
    """The BadgeClass entityId in a v2 answer: {"status": ..., "result": [{"entityId": ...}]}."""
    result = (answer.body or {}).get("result")
    if isinstance(result, list) and result and isinstance(result[0], dict):
        entity = result[0].get("entityId")
        return str(entity) if entity else None
    return None


class CanvasSender:
    def __init__(self, engine: Engine, settings: Settings, *, clock: Clock = utcnow,
                 rng: random.Random | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.policy = DeliveryPolicy.from_settings(settings)
        self.clock = clock
        self.rng = rng or random.Random()

    def claim(self) -> list[tuple[CanvasJob, Credential]]:
        now = self.clock()
        due = or_(and_(col(CanvasJob.status) == "pending", col(CanvasJob.next_attempt_at) <= now),
                  and_(col(CanvasJob.status) == "sending", col(CanvasJob.lease_until) < now))
        with Session(self.engine, expire_on_commit=False) as session:
            ids = list(session.exec(select(CanvasJob.id).where(due).order_by(col(CanvasJob.id))
                                    .limit(BATCH).with_for_update(skip_locked=True)).all())
            if not ids:
                session.commit()
                return []
            session.execute(update(CanvasJob).where(col(CanvasJob.id).in_(ids)).values(
                status="sending", attempts=CanvasJob.attempts + 1,
                lease_until=now + timedelta(seconds=LEASE_SECONDS)))
            jobs = session.exec(select(CanvasJob, Credential)
                                .join(Credential, Credential.id == CanvasJob.credential_id)  # type: ignore[arg-type]
                                .where(col(CanvasJob.id).in_(ids)).order_by(col(CanvasJob.id))
                                ).all()
            session.commit()
            return [(job, credential) for job, credential in jobs]

    def request_for(self, job: CanvasJob, credential: Credential,
                    entity_id: str | None) -> tuple[str, str, dict[str, Any]] | None:
        predecessor = None
        if credential.predecessor_id is not None:
            with Session(self.engine) as session:
                predecessor = session.get(Credential, credential.predecessor_id)
        details = publication(credential, predecessor, self.settings)
        body = canvas_badgeclass(details, credential.image or b"",
                                 credential.image_type or "image/png")
        if job.action == "create":
            issuer = self.settings.canvas_credentials_issuer_id
            return "POST", f"/v2/issuers/{issuer}/badgeclasses", body
        if entity_id is None:
            return None
        return "PUT", f"/v2/badgeclasses/{entity_id}", {
            **body, "archived": True,
            "archivalNote": "retired in the university's micro-credential catalog"}

    async def run_one(self, job: CanvasJob, credential: Credential) -> Answer | None:
        entity_id = credential.canvas_entity_id
        if job.action == "archive" and entity_id is None:
            entity_id = await asyncio.to_thread(self._entity_id, credential.id or 0)
        request = self.request_for(job, credential, entity_id)
        if request is None:
            return None
        method, path, body = request
        return await asyncio.to_thread(call, self.settings, method, path, body)

    def _entity_id(self, credential_id: int) -> str | None:
        with Session(self.engine) as session:
            credential = session.get(Credential, credential_id)
            return credential.canvas_entity_id if credential else None

    def create_failed(self, session: Session, credential_id: int) -> bool:
        return session.exec(select(CanvasJob.id).where(
            CanvasJob.credential_id == credential_id, CanvasJob.action == "create",
            CanvasJob.status == "dead")).first() is not None

    def record(self, job: CanvasJob, credential: Credential, answer: Answer | None,
               report: CanvasReport) -> None:
        now = self.clock()
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.exec(select(CanvasJob).where(CanvasJob.id == job.id)
                               .with_for_update()).one()
            report.jobs.append(job.id or 0)
            if answer is None:
                # An archive waiting for its create job: not an attempt of its own.
                if self.create_failed(session, credential.id or 0):
                    self._dead(session, row, credential, now,
                               "the BadgeClass was never created in Canvas Credentials", report)
                else:
                    row.status, row.attempts, row.lease_until = "pending", row.attempts - 1, None
                    row.next_attempt_at = now + timedelta(seconds=self.policy.backoff_seconds)
                    report.waiting += 1
            elif answer.status is not None and 200 <= answer.status < 300:
                self._done(session, row, credential, answer, now, report)
            elif answer.transient and row.attempts < self.policy.max_attempts:
                row.status, row.lease_until = "pending", None
                row.last_error = (answer.error or f"HTTP {answer.status}")[:1000]
                row.next_attempt_at = now + timedelta(
                    seconds=self.policy.backoff(row.attempts, self.rng))
                report.retried += 1
            else:
                self._dead(session, row, credential, now,
                           answer.error or f"HTTP {answer.status}", report)
            session.add(row)
            session.commit()

    def _done(self, session: Session, row: CanvasJob, credential: Credential, answer: Answer,
              now: datetime, report: CanvasReport) -> None:
        row.status, row.lease_until, row.done_at, row.last_error = "done", None, now, None
        detail: dict[str, Any] = {"credential": credential.public_id, "job": row.id}
        if row.action == "create":
            entity = entity_id_of(answer)
            stored = session.get(Credential, credential.id)
            assert stored is not None
            stored.canvas_entity_id = entity
            session.add(stored)
            detail["entity_id"] = entity
        audit.append(session, actor=None, role=None, channel="system",
                     action=f"canvas_{'created' if row.action == 'create' else 'archived'}",
                     proposal_id=credential.proposal_id, detail=detail)
        report.done += 1

    def _dead(self, session: Session, row: CanvasJob, credential: Credential, now: datetime,
              error: str, report: CanvasReport) -> None:
        row.status, row.lease_until, row.last_error = "dead", None, error[:1000]
        audit.append(session, actor=None, role=None, channel="system", action="canvas_dead",
                     proposal_id=credential.proposal_id,
                     detail={"credential": credential.public_id, "job": row.id,
                             "job_action": row.action, "attempts": row.attempts,
                             "error": error[:1000]})
        report.dead += 1

    async def drain(self) -> CanvasReport:
        """Send every due job once."""
        report = CanvasReport()
        if not self.settings.canvas_configured:
            return report
        for job, credential in await asyncio.to_thread(self.claim):
            answer = await self.run_one(job, credential)
            await asyncio.to_thread(self.record, job, credential, answer, report)
        return report
