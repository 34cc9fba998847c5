"""Refusals of callers nobody authenticated, kept in a bounded place.

A wrong webhook secret, an action link that names no token, mail to no real reply address, a
message nobody can read: anyone can send those, as fast as they like. Each is counted per
source address and window in `refusal_tally` (one row per source, reason and window); only the
first of a window becomes an audit entry, so the permanent audit chain grows by at most one
entry per source and reason per window, not one per attempt. A source over
MICROCRED_REFUSAL_LIMIT within the window is turned away before any more work is done.
"""

import ipaddress
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, delete

from notifications.inbound.models import RefusalTally
from plumbing.settings import Settings
from workflow import audit
from workflow.audit import Channel
from workflow.fields import utcnow

log = logging.getLogger(__name__)

# Tallies are kept this long after their window, for an admin looking into a flood.
KEPT = timedelta(days=1)


def source_of(address: str | None) -> str:
    """The source to count: the connecting address (an IPv6 host by its /64, which one host
    can spend at will), or "unknown"."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def window_start(moment: datetime, seconds: float) -> datetime:
    seconds = max(seconds, 1)
    start = int(moment.timestamp() // seconds * seconds)
    return datetime.fromtimestamp(start, UTC)


def tally(session: Session, source: str, kind: str, settings: Settings) -> int:
    """Count one refusal of `source` for `kind` in the current window; answer the count so far
    (one INSERT ... ON CONFLICT DO UPDATE, which both databases speak)."""
    start = window_start(utcnow(), settings.inbound_rate_window_seconds)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    counted = insert(RefusalTally).values(
        source=source, kind=kind, window_start=start, count=1,
    ).on_conflict_do_update(
        index_elements=["source", "kind", "window_start"],
        set_={"count": RefusalTally.count + 1},
    ).returning(col(RefusalTally.count))
    count: int = session.execute(counted).scalar_one()
    if count == 1:
        session.execute(delete(RefusalTally).where(col(RefusalTally.window_start) < start - KEPT))
    return count


def refuse_stranger(session: Session, *, source: str, kind: str, message: str,
                    settings: Settings, detail: dict[str, Any] | None = None,
                    channel: str = Channel.EMAIL_REPLY.value) -> bool:
    """Record one refusal of an unauthenticated caller and commit; answer whether the source
    is over the limit (then it is turned away, without more work)."""
    count = tally(session, source, kind, settings)
    if count == 1:
        audit.append(session, actor=None, role=None, channel=channel, action="email_action",
                     outcome="refused",
                     detail={"reason": kind, "message": message, "source": source,
                             "window_seconds": settings.inbound_rate_window_seconds,
                             **(detail or {})})
        log.warning("refused %s from %s: %s (more within the window are counted, not "
                    "audited)", kind, source, message)
    elif count == settings.refusal_limit + 1:
        log.warning("%s is over the limit of %s refusals (%s) within %g seconds; turned away",
                    source, settings.refusal_limit, kind, settings.inbound_rate_window_seconds)
    session.commit()
    return count > settings.refusal_limit
