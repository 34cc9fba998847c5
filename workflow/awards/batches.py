"""Awarding from a file: every line checked first (a dry run writes nothing else), then the
lines awarded one at a time by the worker, each in its own transaction, so a long file shows
its progress and a crash loses no award and makes none twice."""

import csv
import io
import logging
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from plumbing.database import DATABASE_AWAY, write_session
from plumbing.settings import Settings
from workflow.access import Grants, grants_of
from workflow.accounts.models import User
from workflow.audit import Channel
from workflow.awards import service
from workflow.awards.models import Award, AwardBatch, Recipient
from workflow.credentials.catalog import by_public_id
from workflow.credentials.models import Credential
from workflow.errors import Forbidden, Unprocessable, WorkflowError
from workflow.fields import utcnow

log = logging.getLogger(__name__)
MAX_LINES = 2000
COLUMNS = ("email", "name")


def check_file(session: Session, public_id: str, data: bytes, filename: str, actor: Grants,
               evidence_url: str | None) -> AwardBatch:
    """Read the file and check every line; store the result as a batch not yet started."""
    credential = by_public_id(session, public_id)
    problem = service.awarders_problem(session, actor, credential)
    if problem:
        raise Forbidden(problem)
    lines = read_lines(session, credential, data)
    batch = AwardBatch(credential_id=credential.id or 0, created_by_id=actor.user.id or 0,
                       filename=filename[:200], evidence_url=evidence_url, lines=lines,
                       created_at=utcnow())
    session.add(batch)
    session.commit()
    return batch


def read_lines(session: Session, credential: Credential, data: bytes) -> list[dict[str, Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Unprocessable("the file is not UTF-8 text; save it as CSV (UTF-8)") from error
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip().lower() for c in rows[0][:2]] != list(COLUMNS):
        raise Unprocessable("the first line must name the columns: email,name")
    if len(rows) - 1 > MAX_LINES:
        raise Unprocessable(f"at most {MAX_LINES} learners per file; split it")
    earlier = dict(session.exec(
        select(Award.recipient_email, Award.issued_at)
        .where(Award.credential_id == credential.id, col(Award.revoked_at).is_(None))).all())
    seen: dict[str, int] = {}
    lines = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        line: dict[str, Any] = {"line": number, "email": (row[0] if row else "").strip(),
                                "name": (row[1] if len(row) > 1 else "").strip(),
                                "problem": None, "award": None, "refused": None}
        try:
            recipient = Recipient(email=line["email"], name=line["name"])
        except ValidationError as error:
            field = str(error.errors()[0]["loc"][0])
            line["problem"] = f"{field}: {error.errors()[0]['msg'].removeprefix('Value error, ')}"
        else:
            line["email"] = recipient.email
            if recipient.email in seen:
                line["problem"] = f"the same learner as line {seen[recipient.email]}"
            elif recipient.email in earlier:
                line["problem"] = (f"already holds this credential (awarded "
                                   f"{earlier[recipient.email]:%Y-%m-%d})")
            seen.setdefault(recipient.email, number)
        lines.append(line)
    if not lines:
        raise Unprocessable("the file names no learners")
    return lines


def start(session: Session, batch_id: int, actor: Grants) -> AwardBatch:
    """Hand a checked batch to the worker; its lines with problems are left out."""
    batch = session.exec(select(AwardBatch).where(AwardBatch.id == batch_id)
                         .with_for_update()).first()
    if batch is None or batch.created_by_id != actor.user.id:
        raise Forbidden("only who checked the file starts it")
    if batch.status == "checked":
        if not any(line["problem"] is None for line in batch.lines):
            raise Unprocessable("no line of the file can be awarded")
        batch.status = "queued"
        session.add(batch)
    session.commit()
    return batch


def progress(batch: AwardBatch) -> tuple[int, int]:
    """Lines awarded or refused so far, out of the lines to award."""
    todo = [line for line in batch.lines if line["problem"] is None]
    done = [line for line in todo if line["award"] or line.get("refused")]
    return len(done), len(todo)


def award_pending(engine: Engine, settings: Settings) -> int:
    """The worker's pass: award the next lines of queued batches; answer how many."""
    with write_session(engine) as session:
        ids = list(session.exec(select(AwardBatch.id).where(AwardBatch.status == "queued")
                                .order_by(col(AwardBatch.id))).all())
    awarded = 0
    for batch_id in ids:
        while True:
            try:
                step = _award_next(engine, batch_id or 0, settings)
            except DATABASE_AWAY:
                log.warning("awarding batch %s: the database failed; trying again later",
                            batch_id, exc_info=True)
                return awarded
            if step is None:
                break
            awarded += step
    return awarded


def _award_next(engine: Engine, batch_id: int, settings: Settings) -> int | None:
    """Award one line of the batch (its award, audit entry, email event and the line's
    outcome commit together); None when the batch is finished."""
    with write_session(engine) as session:
        batch = session.exec(select(AwardBatch).where(AwardBatch.id == batch_id)
                             .with_for_update()).first()
        if batch is None or batch.status != "queued":
            return None
        lines = [dict(line) for line in batch.lines]
        pending = next((line for line in lines if line["problem"] is None
                        and not line["award"] and not line.get("refused")), None)
        if pending is None:
            batch.status, batch.finished_at = "done", utcnow()
            session.add(batch)
            session.commit()
            return None
        credential = session.get(Credential, batch.credential_id)
        actor = session.get(User, batch.created_by_id)
        assert credential is not None and actor is not None
        try:
            [made] = service.issue(
                session, credential.public_id, [Recipient(email=pending["email"],
                                                          name=pending["name"])],
                grants_of(session, actor), evidence_url=batch.evidence_url, via=Channel.WEB,
                settings=settings, commit=False)
            pending["award"] = made.public_id
        except WorkflowError as refusal:
            session.rollback()
            batch = session.exec(select(AwardBatch).where(AwardBatch.id == batch_id)
                                 .with_for_update()).one()
            pending["refused"] = str(refusal.detail)
        batch.lines = lines
        session.add(batch)
        session.commit()
        return 1 if pending["award"] else 0


def of_credential(session: Session, credential: Credential) -> list[AwardBatch]:
    return list(session.exec(select(AwardBatch).where(AwardBatch.credential_id == credential.id)
                             .order_by(col(AwardBatch.id).desc()).limit(20)).all())
