"""One-time sign-in links: only their hashes are stored; each works once, until it expires."""

import secrets
from datetime import datetime, timedelta

from sqlalchemy import DateTime, update
from sqlmodel import Field, Session, SQLModel, col, select

from workflow.accounts.models import User
from workflow.accounts.service import hash_token
from workflow.fields import Timestamp, utcnow


class SignInLink(SQLModel, table=True):
    __tablename__ = "sign_in_link"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Timestamp()
    expires_at: datetime = Timestamp()
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


def active_user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(
        User.email == email.strip().lower(), User.is_active == True)).first()  # noqa: E712


def issue_link(session: Session, user: User, lifetime: timedelta) -> str:
    """Store a new link's hash inside the caller's transaction; answer the token for the URL."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(SignInLink(user_id=user.id or 0, token_hash=hash_token(token), created_at=now,
                           expires_at=now + lifetime))
    return token


def links_waiting(session: Session, user: User) -> int:
    """How many of the user's links could still be used: a flood of requests stops there."""
    return len(session.exec(select(SignInLink.id).where(
        SignInLink.user_id == user.id, col(SignInLink.used_at).is_(None),
        col(SignInLink.expires_at) > utcnow())).all())


def link_is_usable(session: Session, token: str) -> bool:
    """Whether a link would sign in now (for the confirmation page; it changes nothing)."""
    row = session.exec(select(SignInLink).where(
        SignInLink.token_hash == hash_token(token), col(SignInLink.used_at).is_(None),
        col(SignInLink.expires_at) > utcnow())).first()
    return row is not None


def use_link(session: Session, token: str) -> User | None:
    """Spend a link: one conditional UPDATE, so two clicks at once sign in only once."""
    digest = hash_token(token)
    now = utcnow()
    spent = session.execute(
        update(SignInLink)
        .where(col(SignInLink.token_hash) == digest, col(SignInLink.used_at).is_(None),
               col(SignInLink.expires_at) > now)
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return None
    user = session.exec(select(User).join(SignInLink, col(SignInLink.user_id) == User.id)
                        .where(SignInLink.token_hash == digest,
                               User.is_active == True)).first()  # noqa: E712
    session.commit()
    return user
