"""The sign-in email: a one-time link, queued through the outbox like every other message."""

from datetime import timedelta

from sqlmodel import Session

from notifications.outbox import enqueue
from notifications.recipients import Recipient
from plumbing.settings import Settings
from workflow.sign_in import active_user, issue_link


def send_sign_in_link(session: Session, email: str, settings: Settings) -> bool:
    """Queue a link for an active user and commit; an unknown address queues nothing.

    The caller answers the same either way, so the page does not tell who has an account.
    """
    user = active_user(session, email)
    if user is None:
        session.rollback()
        return False
    minutes = settings.sign_in_link_minutes
    token = issue_link(session, user, timedelta(minutes=minutes))
    enqueue(
        session, event="sign_in", proposal=None,
        recipients=[Recipient(email=user.email, name=user.name, user_id=user.id, role="user")],
        subject="[Micro-credential] Your sign-in link",
        context={"sign_in_url": f"{settings.base_url.rstrip('/')}/sign-in/{token}",
                 "minutes": minutes},
        settings=settings,
    )
    session.commit()
    return True
