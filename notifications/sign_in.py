"""The sign-in email: a one-time link, queued through the outbox like every other message."""

from datetime import timedelta
from urllib.parse import quote

from sqlmodel import Session

from notifications.compose import enqueue
from notifications.recipients import Recipient
from plumbing.settings import Settings
from workflow.accounts.sign_in import active_user, issue_link, links_waiting

# Links one person may have waiting at once: asking again and again sends no more mail.
MAX_WAITING_LINKS = 3


def send_sign_in_link(session: Session, email: str, settings: Settings,
                      then: str = "/") -> bool:
    """Queue a link for an active user and commit; an unknown address queues nothing, nor
    does an address that already has MAX_WAITING_LINKS usable links (someone may be flooding
    its inbox). `then` is the path the link opens after signing in.

    The caller answers the same either way, so the page does not tell who has an account.
    """
    user = active_user(session, email)
    if user is None or links_waiting(session, user) >= MAX_WAITING_LINKS:
        session.rollback()
        return False
    minutes = settings.sign_in_link_minutes
    token = issue_link(session, user, timedelta(minutes=minutes))
    after = f"?next={quote(then, safe='/')}" if then != "/" else ""
    enqueue(
        session, event="sign_in", proposal=None,
        recipients=[Recipient(email=user.email, name=user.name, user_id=user.id, role="user")],
        subject="Your sign-in link",
        context={"sign_in_url": f"{settings.base_url.rstrip('/')}/sign-in/{token}{after}",
                 "minutes": minutes},
        settings=settings,
    )
    session.commit()
    return True
