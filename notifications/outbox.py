"""The outbox for admins: messages by status, and retrying a dead letter."""

from sqlmodel import Session, col, select

from notifications.models import OutboxMessage, OutboxStatus
from workflow import audit
from workflow.accounts.models import User
from workflow.errors import Conflict, NotFound
from workflow.fields import utcnow
from workflow.queries import decode_cursor, encode_cursor


def list_messages(session: Session, *, status: str | None, limit: int, cursor: str | None
                  ) -> tuple[list[OutboxMessage], str | None]:
    """Newest first, keyset-paginated on id."""
    query = select(OutboxMessage)
    if status:
        query = query.where(OutboxMessage.status == status)
    if cursor:
        query = query.where(col(OutboxMessage.id) < decode_cursor(cursor, kind="o"))
    rows = list(session.exec(query.order_by(col(OutboxMessage.id).desc()).limit(limit + 1)).all())
    page = rows[:limit]
    return page, encode_cursor(page[-1].id or 0, kind="o") if len(rows) > limit else None


def retry(session: Session, outbox_id: int, actor: User) -> OutboxMessage:
    """Send a dead letter again, with a fresh attempt budget and the same Message-ID."""
    row = session.exec(select(OutboxMessage).where(OutboxMessage.id == outbox_id)
                       .with_for_update()).first()
    if row is None:
        session.rollback()
        raise NotFound("no such outbox message")
    if row.status != OutboxStatus.DEAD.value:
        session.rollback()
        raise Conflict(f"only dead letters can be retried; this message is {row.status}")
    row.status = OutboxStatus.PENDING.value
    row.attempts = 0
    row.next_attempt_at = utcnow()
    row.lease_until = None
    row.leased_by = None
    session.add(row)
    audit.append(session, actor=actor, role="admin", channel="api", action="email_retry",
                 proposal_id=row.proposal_id,
                 detail={"outbox_id": row.id, "to": row.recipient, "message_id": row.message_id,
                         "last_error": row.last_error})
    session.commit()
    return row
