"""The audit chain: append-only entries, each hashing its predecessor."""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from plumbing.statements import Prepared
from workflow.models import AuditEntry, AuditHead, User, as_utc, utcnow

GENESIS_HASH = "0" * 64
AUDIT_INSERT = Prepared(AuditEntry.__table__.insert())  # type: ignore[attr-defined]
_HEAD = AuditHead.__table__  # type: ignore[attr-defined]
# The one-row head names the last entry, so appending never scans; its row lock (PostgreSQL)
# or SQLite's single writer serialises the appenders.
READ_HEAD = Prepared(sa_select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == 1)
                     .with_for_update())
MOVE_HEAD = Prepared(_HEAD.update().where(_HEAD.c.id == 1))
HASHED_FIELDS = (
    "seq", "at", "actor_id", "actor_email", "role", "channel", "action", "outcome",
    "from_state", "to_state", "proposal_id", "version", "detail", "prev_hash",
)  # fmt: skip


def _canonical_time(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over a canonical JSON encoding of the entry and its predecessor's hash."""
    fields: dict[str, Any] = {name: getattr(entry, name) for name in HASHED_FIELDS}
    fields["at"] = _canonical_time(entry.at)
    encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
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
    """Add several entries in one statement, chained exactly as `append` chains them.

    Each mapping gives the fields `append` takes (actor_id, actor_email, role, channel, action,
    outcome, from_state, to_state, proposal_id, version, detail); the caller commits.
    """
    if not entries:
        return
    if session.new:
        session.flush()  # an entry may name a row the caller has only just added
    # Prepared statements in the session's transaction, run at once: the head moves before the
    # next append reads it, and the ORM's unit of work costs more than these three statements.
    head = READ_HEAD.first(session)
    assert head is not None, "the audit head row is made by the first migration"
    seq, prev_hash = head["last_seq"], head["last_hash"]
    rows = []
    for given in entries:
        seq += 1
        fields: dict[str, Any] = {
            "actor_id": None, "actor_email": None, "role": None, "outcome": "accepted",
            "from_state": None, "to_state": None, "proposal_id": None, "version": None,
            **given, "seq": seq, "at": at, "prev_hash": prev_hash,
        }
        # As JSON will hold it (a time becomes its text), so the hash covers what is stored.
        fields["detail"] = as_stored(fields.get("detail"))
        # A plain namespace to hash: a SQLModel object per entry costs more than the hash.
        prev_hash = entry_hash(cast(AuditEntry, SimpleNamespace(**fields)))
        rows.append({**fields, "hash": prev_hash})
    AUDIT_INSERT.run(session, rows if len(rows) > 1 else rows[0])
    MOVE_HEAD.run(session, {"last_seq": seq, "last_hash": prev_hash})


# Values JSON holds as they are (exactly these types: not floats, NaN is not JSON; not enums,
# which it holds as their values), so a detail of them under text keys needs no round trip; a
# transition's is its comment.
_AS_THEY_ARE = (str, int, bool, type(None))


def as_stored(detail: dict[str, Any] | None) -> dict[str, Any]:
    """The detail as its JSON column will give it back."""
    if not detail:
        return {}
    if all(type(key) is str and type(value) in _AS_THEY_ARE for key, value in detail.items()):
        return dict(detail)
    loaded: dict[str, Any] = json.loads(json.dumps(detail, default=str))
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
