"""The audit chain: append-only entries, each hashing its predecessor."""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, insert, update
from sqlmodel import Field, Session, SQLModel, col, select

from workflow.accounts.models import User
from workflow.fields import as_utc, utcnow


class Channel(StrEnum):
    WEB = "web"
    API = "api"
    EMAIL_LINK = "email_link"
    EMAIL_REPLY = "email_reply"
    SYSTEM = "system"


class AuditEntry(SQLModel, table=True):
    """One append-only link of the hash chain; the database refuses UPDATE and DELETE."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_proposal_seq", "proposal_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(unique=True)
    at: datetime = Field(sa_type=DateTime(timezone=True))
    actor_id: int | None = Field(default=None)
    actor_email: str | None = Field(default=None, max_length=254)
    role: str | None = Field(default=None, max_length=32)
    channel: str = Field(max_length=16)
    action: str = Field(max_length=64)
    outcome: str = Field(max_length=16)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str | None = Field(default=None, max_length=32)
    proposal_id: int | None = Field(default=None)
    version: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The chain's newest link, so appending reads one row instead of scanning."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    last_seq: int = 0
    last_hash: str = Field(max_length=64)


class AuditEntryPublic(SQLModel):
    seq: int
    at: datetime
    actor: str | None
    role: str | None
    channel: str
    action: str
    outcome: str
    from_state: str | None
    to_state: str | None
    version: int | None
    detail: dict[str, Any]
    hash: str


class AuditVerification(SQLModel):
    ok: bool
    entries: int
    first_bad: dict[str, Any] | None


GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq", "at", "actor_id", "actor_email", "role", "channel", "action", "outcome",
    "from_state", "to_state", "proposal_id", "version", "detail", "prev_hash",
)  # fmt: skip


def _canonical_time(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over a canonical JSON encoding of the entry and its predecessor's hash."""
    return hash_of({name: getattr(entry, name) for name in HASHED_FIELDS})


def hash_of(fields: Mapping[str, Any]) -> str:
    """The hash of an entry given as its fields.

    Existing chains must keep verifying: never change what this encodes, or how."""
    hashed = {name: fields[name] for name in HASHED_FIELDS}
    hashed["at"] = _canonical_time(fields["at"])
    encoded = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(encoded.encode()).hexdigest()


def append(
    session: Session,
    *,
    actor: User | None,
    role: str | None,
    channel: str,
    action: str,
    outcome: str = "accepted",
    from_state: str | None = None,
    to_state: str | None = None,
    proposal_id: int | None = None,
    version: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one entry to the chain inside the caller's transaction (the caller commits)."""
    append_many(session, utcnow(), [{
        "actor_id": actor.id if actor else None,
        "actor_email": actor.email if actor else None,
        "role": role,
        "channel": str(channel),
        "action": action,
        "outcome": outcome,
        "from_state": from_state,
        "to_state": to_state,
        "proposal_id": proposal_id,
        "version": version,
        "detail": detail,
    }])


def append_many(session: Session, at: datetime, entries: Sequence[Mapping[str, Any]]) -> None:
    """Add several entries, chained exactly as `append` chains them, in the caller's transaction.

    Each mapping gives the fields `append` takes (actor_id, actor_email, role, channel, action,
    outcome, from_state, to_state, proposal_id, version, detail); the caller commits.
    """
    if not entries:
        return
    # The one-row head names the last entry, so appending never scans; its row lock (PostgreSQL)
    # or SQLite's single writer serialises the appenders.
    seq, last_hash = session.execute(
        select(AuditHead.last_seq, AuditHead.last_hash).where(AuditHead.id == 1)
        .with_for_update()).one()
    rows = []
    for given in entries:
        seq += 1
        row = {
            "actor_id": None, "actor_email": None, "role": None, "outcome": "accepted",
            "from_state": None, "to_state": None, "proposal_id": None, "version": None,
            **given, "seq": seq, "at": at, "prev_hash": last_hash,
            # As its JSON column will hold it (a time becomes its text), so the hash covers
            # what is stored.
            "detail": as_stored(given.get("detail")),
        }
        row["hash"] = last_hash = hash_of(row)
        rows.append(row)
    # Entries are written once and never changed, so they go in as rows, not ORM objects.
    session.execute(insert(AuditEntry), rows)
    session.execute(update(AuditHead).where(col(AuditHead.id) == 1)
                    .values(last_seq=seq, last_hash=last_hash))


def as_stored(detail: dict[str, Any] | None) -> dict[str, Any]:
    """The detail as its JSON column will give it back."""
    loaded: dict[str, Any] = json.loads(json.dumps(detail or {}, default=str))
    return loaded


def record_refusal(
    session: Session,
    error: Exception,
    *,
    actor: User,
    role: str | None,
    channel: str,
    action: str,
    proposal_id: int,
    from_state: str | None,
    version: int | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Undo what the caller began and commit only the refusal's entry."""
    session.rollback()
    reason = getattr(error, "detail", str(error))
    append(
        session, actor=actor, role=role, channel=channel, action=action, outcome="refused",
        from_state=from_state, proposal_id=proposal_id, version=version,
        detail={"reason": reason, "status": type(error).__name__, **(detail or {})},
    )
    session.commit()


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_bad: dict[str, Any] | None


def verify(session: Session, batch: int = 2000) -> Verification:
    """Walk the whole chain in order and name the first entry that does not fit."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    last_seq = 0
    while True:
        rows = session.exec(
            select(AuditEntry).where(AuditEntry.seq > last_seq).order_by(col(AuditEntry.seq))
            .limit(batch)
        ).all()
        if not rows:
            break
        for entry in rows:
            problem = None
            if entry.seq != expected_seq:
                problem = f"entry {expected_seq} is missing"
            elif entry.prev_hash != expected_prev:
                problem = "its prev_hash does not match the entry before it"
            elif entry_hash(entry) != entry.hash:
                problem = "its contents do not match its hash"
            if problem:
                return Verification(False, count, {"seq": entry.seq, "id": entry.id,
                                                   "reason": problem})
            count += 1
            expected_prev = entry.hash
            expected_seq += 1
            last_seq = entry.seq
            # Keep memory flat over a long chain without touching the caller's other objects.
            session.expunge(entry)
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_seq != last_seq or head.last_hash != expected_prev):
        return Verification(False, count, {"seq": head.last_seq, "id": None,
                                           "reason": "entries after the last one are missing"})
    return Verification(True, count, None)
