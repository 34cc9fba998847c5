"""Who may be named a co-author: the service mails co-authors, so only people it knows.

A co-author is an existing user, or an address of an allowed domain
(MICROCRED_ALLOWED_EMAIL_DOMAINS; by default the domains of existing users). An allowed address
that is no user yet is sent one invitation to ask for an account, never the proposal's text
(notifications/compose.py).
"""

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from plumbing.settings import Settings
from workflow.accounts.models import User
from workflow.errors import problem


def configured_domains(settings: Settings | None) -> frozenset[str]:
    if settings is None:
        return frozenset()
    return frozenset(d.strip().lower().lstrip("@") for d in settings.allowed_email_domains
                     .split(",") if d.strip())


def is_user(session: Session, email: str) -> bool:
    return session.exec(select(User.id).where(User.email == email.lower())).first() is not None


def domain_allowed(session: Session, email: str, settings: Settings | None) -> bool:
    """Whether an address that is no user may still be named: its domain is configured, or
    (with nothing configured) some user's address has that domain."""
    domain = email.rpartition("@")[2].lower()
    configured = configured_domains(settings)
    if configured:
        return domain in configured
    escaped = domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return session.exec(select(User.id).where(
        col(User.email).like(f"%@{escaped}", escape="\\")).limit(1)).first() is not None


def co_author_problems(session: Session, emails: Iterable[str], settings: Settings | None
                       ) -> list[dict[str, Any]]:
    """A 422 item per co-author the service may not name (and so mail)."""
    return [
        problem(f"{email} is not a user here, and {email.rpartition('@')[2]} is not one of "
                f"the university's email domains", "co_authors")
        for email in emails
        if not is_user(session, email) and not domain_allowed(session, email, settings)
    ]
