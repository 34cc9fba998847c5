"""Bring in credentials the university approved before this service: one CSV row each.

Every row is checked first (fields, department, owner, image, a valid Open Badges 3.0
Achievement); one bad row and nothing is written, and every bad row is reported with its line.
A good file is written in one transaction: a published proposal, its credential, and one
`imported` audit entry per row.
"""

import csv
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert
from sqlmodel import Session, col, select

from plumbing.settings import Settings
from workflow import audit
from workflow.accounts.models import Department, User
from workflow.audit import Channel
from workflow.credentials.badges import ImageRefused, inspect_image
from workflow.credentials.models import Credential
from workflow.credentials.publishing import new_credential, snapshot_of
from workflow.errors import Unprocessable
from workflow.fields import utcnow
from workflow.machine import State
from workflow.proposals.models import Proposal, ProposalCreate

REQUIRED = ("title", "department", "summary", "criteria_narrative")
OPTIONAL = ("level", "credit_bearing", "credits", "hours", "modality", "competencies",
            "learning_outcomes", "prerequisites", "tags", "alt_text", "image",
            "expiration_months", "owner_email", "target_audience", "requirements",
            "assessment", "evidence")
COLUMNS = REQUIRED + OPTIONAL
LISTS = ("competencies", "learning_outcomes", "prerequisites")
TRUE, FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0", ""}

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    dry_run: bool = False
    bad: list[BadRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.bad


@dataclass
class _Row:
    line: int
    data: ProposalCreate
    department: Department
    owner: User
    credential: Credential


def _records(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows with the line each starts on (a quoted field may span lines)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        unknown = [c for c in reader.fieldnames or [] if c not in COLUMNS]
        if missing or unknown:
            problems = ([f"missing column(s): {', '.join(missing)}"] if missing else []) + (
                [f"unknown column(s): {', '.join(unknown)}"] if unknown else [])
            raise ValueError("; ".join(problems))
        line = reader.line_num + 1  # the header has been read
        for record in reader:
            yield line, {k: (v or "").strip() for k, v in record.items() if k is not None}
            line = reader.line_num + 1


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(";") if item.strip()]


def _fields(record: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {name: record[name] for name in (
        "title", "department", "summary", "target_audience", "requirements", "assessment",
        "evidence") if record.get(name)}
    for name in LISTS:
        if record.get(name):
            fields[name] = _split(record[name])
    for name in ("level", "modality", "credits", "hours", "expiration_months"):
        if record.get(name):
            fields[name] = record[name]
    flag = record.get("credit_bearing", "").lower()
    if flag not in TRUE | FALSE:
        raise ValueError(f"credit_bearing: {record['credit_bearing']!r} is not true or false")
    fields["credit_bearing"] = flag in TRUE
    return fields


def check_file(
    session: Session, path: Path, settings: Settings, progress: Progress | None = None
) -> tuple[list[_Row], ImportReport]:
    """Read and check every row; nothing is written."""
    records = list(_records(path))
    report = ImportReport(rows=len(records))
    departments = {d.code: d for d in session.exec(select(Department)).all()}
    published = {t.lower() for t in session.exec(select(Credential.title)).all()}
    users: dict[str, User | None] = {}
    seen_titles: dict[str, int] = {}
    good: list[_Row] = []
    for done, (line, record) in enumerate(records, 1):
        problems = _row_problems(session, path, settings, record, departments, users,
                                 published, seen_titles, line, good)
        report.bad += [BadRow(line, p) for p in problems]
        if progress:
            progress(done, len(records))
    return good, report


def _row_problems(
    session: Session, path: Path, settings: Settings, record: dict[str, str],
    departments: dict[str, Department], users: dict[str, User | None], published: set[str],
    seen_titles: dict[str, int], line: int, good: list[_Row],
) -> list[str]:
    problems: list[str] = [f"{name}: required" for name in REQUIRED if not record.get(name)]
    if problems:
        return problems
    try:
        data = ProposalCreate.model_validate(_fields(record))
    except ValueError as error:
        if isinstance(error, ValidationError):
            return [f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}"
                    for e in error.errors()]
        return [str(error)]
    if data.credit_bearing and data.credits is None:
        problems.append("credits: required for a credit-bearing credential")
    department = departments.get(data.department)
    if department is None:
        problems.append(f"department: no department with code {data.department!r}")
    email = (record.get("owner_email") or settings.badge_office_email).lower()
    if email not in users:
        users[email] = session.exec(select(User).where(User.email == email)).first()
    owner = users[email]
    if owner is None:
        problems.append(f"owner_email: no user {email} (add them with `microcred users add`)")
    key = data.title.lower()
    if key in published:
        problems.append(f"title: {data.title!r} is already a published credential")
    elif key in seen_titles:
        problems.append(f"title: {data.title!r} repeats line {seen_titles[key]}")
    seen_titles.setdefault(key, line)
    image, image_type = None, None
    if record.get("image"):
        image_path = (path.parent / record["image"]).resolve()
        try:
            image = image_path.read_bytes()
            if len(image) > settings.max_image_bytes:
                raise ImageRefused(f"larger than {settings.max_image_bytes:,} bytes")
            image_type = inspect_image(image).content_type
        except OSError as error:
            problems.append(f"image: cannot read {record['image']} ({error.strerror})")
        except ImageRefused as refusal:
            problems.append(f"image: {refusal}")
    if problems or department is None or owner is None:
        return problems
    design = _ImportedDesign(record["criteria_narrative"], record.get("alt_text") or "",
                             _split(record.get("tags", "").replace(",", ";")))
    snapshot = snapshot_of(data, department, design)
    try:
        credential = new_credential(
            data, department, snapshot, proposal_id=0, image=image, image_type=image_type,
            image_sha256=hashlib.sha256(image).hexdigest() if image else None,
            predecessor=None, settings=settings, imported=True)
    except Unprocessable as refusal:
        items = refusal.detail if isinstance(refusal.detail, list) else [{"msg": refusal.detail}]
        return [f"the Open Badges 3.0 Achievement would be invalid: {item['msg']}"
                for item in items]
    good.append(_Row(line, data, department, owner, credential))
    return []


@dataclass(frozen=True)
class _ImportedDesign:
    criteria_narrative: str
    alt_text: str
    tags: list[str]


def import_catalog(
    session: Session, path: Path, settings: Settings, *, dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Check the whole file; if every row is good (and this is no dry run), write all of it."""
    rows, report = check_file(session, path, settings, progress)
    report.dry_run = dry_run
    if not report.ok or dry_run:
        session.rollback()
        return report
    now = utcnow()
    # One bulk INSERT for the whole file (the ORM's bulk insert of dicts, with RETURNING).
    proposal_ids = session.execute(
        insert(Proposal).returning(col(Proposal.id), sort_by_parameter_order=True),
        [{**row.data.model_dump(mode="json", exclude={"department"}),
          "department_id": row.department.id, "owner_id": row.owner.id,
          "state": State.PUBLISHED.value, "version": 1, "review_round": 0,
          "created_at": now, "updated_at": now} for row in rows]).scalars().all()
    credentials = []
    for row, proposal_id in zip(rows, proposal_ids, strict=True):
        row.credential.proposal_id = proposal_id
        row.credential.published_at = now
        credentials.append(row.credential)
    session.add_all(credentials)
    session.flush()
    audit.append_many(session, now, [
        {"channel": Channel.SYSTEM.value, "action": "imported", "to_state": "published",
         "proposal_id": c.proposal_id, "version": 1,
         "detail": {"credential": c.public_id, "title": c.title, "file": path.name,
                    "line": row.line}}
        for row, c in zip(rows, credentials, strict=True)])
    session.commit()
    report.imported = len(credentials)
    return report


