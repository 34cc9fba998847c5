"""Checkpoints of the audit chain: a signed statement of its head, kept outside the database.

The chain proves that no entry was changed, but nothing inside the database can tell that
the newest entries are gone: a restore to an older backup, or a history cut back to an
earlier entry and continued, verifies as well as the real one. A checkpoint remembers the
head (its sequence number and hash) somewhere else, in the badge office's mailbox or a file;
the database must still hold that very entry to pass.

The statement is signed with an HMAC-SHA256 of MICROCRED_SECRET_KEY, so an edited file (a
lowered sequence number, to let a cut-back database pass) is refused. Checking needs the key,
which only the server has; that is where checks run, against the database only it can read.
Public-key signatures would let others check the file alone, at the cost of a key pair to
keep, for no check that could be run without the database.
"""

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlmodel import Session, col, select

from workflow.audit import GENESIS_HASH, AuditEntry, AuditHead
from workflow.fields import utcnow

STATEMENT = "microcred audit checkpoint"
ALGORITHM = "hmac-sha256"
FOUND = re.compile(r"\{[^{}]*\"statement\"\s*:\s*\"" + STATEMENT + r"\"[^{}]*\}", re.S)


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    taken_at: str
    service: str  # MICROCRED_BASE_URL: which deployment's chain it is
    signature: str = ""

    def signed_part(self) -> bytes:
        fields = {"seq": self.seq, "hash": self.hash, "taken_at": self.taken_at,
                  "service": self.service}
        # Its own prefix, so that no other HMAC made with the same key is ever a signature.
        return (STATEMENT + "\n" + json.dumps(fields, sort_keys=True)).encode()


def sign(checkpoint: Checkpoint, key: bytes) -> str:
    return f"{ALGORITHM}:" + hmac.new(key, checkpoint.signed_part(), hashlib.sha256).hexdigest()


def take(session: Session, key: bytes, service: str) -> Checkpoint:
    """A signed statement of the chain's head now."""
    head = session.get(AuditHead, 1)
    seq, last = (head.last_seq, head.last_hash) if head else (0, GENESIS_HASH)
    unsigned = Checkpoint(seq, last, utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), service)
    return Checkpoint(**{**asdict(unsigned), "signature": sign(unsigned, key)})


def as_text(checkpoint: Checkpoint) -> str:
    return json.dumps({"statement": STATEMENT, **asdict(checkpoint)}, indent=2) + "\n"


def parse(text: str) -> Checkpoint:
    """The first checkpoint statement in a text: a file of its own, or a saved email."""
    found = FOUND.search(text)
    if found is None:
        raise ValueError("no microcred audit checkpoint statement in it")
    try:
        fields = json.loads(found.group(0))
        return Checkpoint(seq=int(fields["seq"]), hash=str(fields["hash"]),
                          taken_at=str(fields["taken_at"]), service=str(fields["service"]),
                          signature=str(fields["signature"]))
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"the checkpoint statement is malformed: {error}") from error


def problem(session: Session, checkpoint: Checkpoint, keys: Sequence[bytes]) -> str | None:
    """Why the database does not hold the head the checkpoint saw, or None when it does."""
    if not any(hmac.compare_digest(checkpoint.signature, sign(checkpoint, key)) for key in keys):
        return ("its signature does not match: the file was edited, or signed with a key this "
                "server no longer has (MICROCRED_SECRET_KEY, MICROCRED_OLD_SECRET_KEYS)")
    if checkpoint.seq == 0:
        return None
    entry = session.exec(select(AuditEntry).where(col(AuditEntry.seq) == checkpoint.seq)).first()
    if entry is None:
        head = session.get(AuditHead, 1)
        return (f"entry {checkpoint.seq}, the head on {checkpoint.taken_at}, is missing (the "
                f"chain ends at {head.last_seq if head else 0}): the database is older than the "
                "checkpoint, restored from an earlier backup or cut back")
    if entry.hash != checkpoint.hash:
        return (f"entry {checkpoint.seq} is not the one the checkpoint saw on "
                f"{checkpoint.taken_at}: the history up to it was replaced")
    return None
