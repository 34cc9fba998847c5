"""Periodic review notices: before a credential's review date the owner and the badge office
are told, and again once it has passed; each once (dedupe keys), however often the scheduler
runs."""

from datetime import datetime

from sqlmodel import Session

from notifications.compose import enqueue
from notifications.recipients import Recipient
from plumbing.settings import Settings
from workflow.accounts.models import User
from workflow.credentials.review_dates import due_within
from workflow.proposals.models import Proposal


def queue_due(session: Session, settings: Settings, now: datetime) -> int:
    """Queue the notices due at `now` (the caller commits); answer how many messages."""
    queued = 0
    for due in due_within(session, settings, settings.credential_review_notice_days, now.date()):
        proposal = session.get(Proposal, due.proposal_id)
        owner = session.get(User, due.owner_id)
        if proposal is None or owner is None:
            continue
        phase = "passed" if due.days_left < 0 else "coming"
        people = [Recipient(email=owner.email.lower(), name=owner.name, user_id=owner.id,
                            role="owner"),
                  Recipient(email=settings.badge_office_email.strip().lower(),
                            role="badge_office")]
        queued += enqueue(
            session, event="review_due", proposal=proposal,
            recipients=list({p.email: p for p in people}.values()),
            what=("periodic review overdue" if phase == "passed"
                  else f"periodic review due {due.review_on.isoformat()}"),
            context={"review": {"review_on": due.review_on.isoformat(),
                                "days_left": due.days_left}},
            dedupe_key=f"review_due:{due.public_id}:{due.review_on.isoformat()}:{phase}",
            settings=settings)
    return queued
