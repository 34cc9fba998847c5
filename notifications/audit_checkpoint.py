"""The audit checkpoint by email: the statement, queued through the outbox for its keeper."""

from datetime import UTC, datetime

from sqlmodel import Session

from notifications import words
from notifications.compose import enqueue
from notifications.recipients import Recipient
from plumbing.settings import Settings
from workflow.audit_checkpoint import Checkpoint, as_text

TAKEN = "%Y-%m-%dT%H:%M:%SZ"  # how a checkpoint states its moment


def send_checkpoint(session: Session, checkpoint: Checkpoint, to: str,
                    settings: Settings) -> None:
    """Queue the checkpoint to `to` and commit; the worker sends it."""
    enqueue(
        session, event="audit_checkpoint", proposal=None,
        recipients=[Recipient(email=to, role="checkpoint_keeper")],
        subject=f"Audit checkpoint: entry {checkpoint.seq}",
        context={"checkpoint": checkpoint, "statement": as_text(checkpoint),
                 "taken": words.moment(datetime.strptime(checkpoint.taken_at, TAKEN)
                                       .replace(tzinfo=UTC), words.zone_for(settings))},
        dedupe_key=f"audit_checkpoint:{checkpoint.seq}:{checkpoint.taken_at}",
        settings=settings,
    )
    session.commit()
