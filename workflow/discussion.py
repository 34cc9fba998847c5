"""A comment thread per proposal: anyone who may read the proposal writes in it; `@email`
mentions tell that person; comments are never edited or deleted (a correction is a new
comment, and the database refuses UPDATE and DELETE on them). Reviewers and the coordinator
may also write private notes, which only the coordinator and admins read besides the writer."""

import hashlib
import re
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, StringConstraints
from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, Session, SQLModel, col, select

from workflow import audit, events, queries
from workflow.access import Grants, can_view, grants_of, standing
from workflow.accounts.models import Role, User
from workflow.errors import Forbidden, NotFound, Unprocessable, WorkflowError, problem
from workflow.fields import Text as PrintableText
from workflow.fields import Timestamp, as_utc
from workflow.machine import State
from workflow.proposals.models import Proposal
from workflow.reviews.assignment import is_assigned
from workflow.reviews.visibility import PRIVATE_NOTE, comment_author, sees_reviewers

MENTION = re.compile(r"(?<![\w.+-])@([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
MAX_MENTIONS = 20


class Comment(SQLModel, table=True):
    __tablename__ = "proposal_comment"

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    author_id: int = Field(foreign_key="app_user.id")
    body: str = Field(sa_column=Column(Text, nullable=False))
    private: bool = False
    # Whether the writer was one of the proposal's reviewers (blind review hides their name).
    as_reviewer: bool = False
    mentions: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Timestamp()


class CommentCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=10_000), PrintableText]
    private: bool = False


class CommentPublic(SQLModel):
    id: int
    author: str
    body: str
    private: bool
    mentions: list[str]
    created_at: datetime


def note_refusal(session: Session, grants: Grants, proposal: Proposal
                 ) -> WorkflowError | None:
    """Why this user may not write a private note on this proposal, or None when they may:
    its assigned reviewers and the coordinator, never its authors."""
    if standing(grants, proposal).authors:
        return Forbidden("the proposal's authors write in the open thread only")
    if not (grants.has(Role.COORDINATOR)
            or is_assigned(session, proposal.id or 0, grants.user.id or 0)):
        return Forbidden("only the proposal's reviewers and the coordinator write private notes")
    return None


def mentioned_users(session: Session, body: str, proposal: Proposal, private: bool
                    ) -> list[User]:
    """The users the comment mentions; one who could not read it is refused, by address."""
    addresses = list(dict.fromkeys(m.lower() for m in MENTION.findall(body)))
    if len(addresses) > MAX_MENTIONS:
        raise Unprocessable([problem(f"at most {MAX_MENTIONS} mentions in one comment", "body")])
    users = []
    for address in addresses:
        user = session.exec(select(User).where(User.email == address)).first()
        if user is None or not user.is_active:
            raise Unprocessable([problem(f"@{address} is not a user of this service", "body")])
        grants = grants_of(session, user)
        if not can_view(standing(grants, proposal), State(proposal.state)) or (
                private and not sees_reviewers(grants)):
            raise Unprocessable([problem(f"@{address} cannot read this "
                                         f"{'note' if private else 'proposal'}", "body")])
        users.append(user)
    return users


def post_comment(session: Session, proposal_id: int, data: CommentCreate, actor: User,
                 via: str) -> Comment:
    """Add a comment (or a private note), audited, and tell the people it mentions."""
    proposal = queries.locked_proposal(session, proposal_id)
    grants = grants_of(session, actor)
    action = PRIVATE_NOTE if data.private else "comment"
    try:
        if not can_view(standing(grants, proposal), State(proposal.state)):
            raise NotFound("no such proposal")
        if data.private:
            refusal = note_refusal(session, grants, proposal)
            if refusal is not None:
                raise refusal
        mentioned = mentioned_users(session, data.body, proposal, data.private)
    except WorkflowError as refusal:
        audit.record_refusal(session, refusal, actor=actor, role=None, channel=via,
                             action=action, proposal_id=proposal_id, from_state=proposal.state,
                             version=proposal.version)
        raise
    as_reviewer = (not grants.has(Role.COORDINATOR)
                   and is_assigned(session, proposal_id, actor.id or 0))
    comment = Comment(proposal_id=proposal_id, author_id=actor.id or 0, body=data.body,
                      private=data.private, as_reviewer=as_reviewer,
                      mentions=[u.id or 0 for u in mentioned])
    session.add(comment)
    session.flush()
    audit.append(session, actor=actor, role="reviewer" if as_reviewer else None, channel=via,
                 action=action, from_state=proposal.state, to_state=proposal.state,
                 proposal_id=proposal_id, version=proposal.version,
                 detail={"comment_id": comment.id,
                         "sha256": hashlib.sha256(data.body.encode()).hexdigest(),
                         "mentions": [u.email for u in mentioned]})
    told = tuple(u.id for u in mentioned if u.id is not None and u.id != actor.id)
    if told:
        # A reviewer's name stays out of the email as it stays off the thread.
        events.record(session, events.ProposalEvent(
            events.Event.MENTIONED, proposal_id, State(proposal.state), proposal.version,
            actor_id=None if as_reviewer else actor.id, comment=data.body, named=told))
    session.commit()
    return comment


def thread(session: Session, proposal: Proposal, grants: Grants) -> list[CommentPublic]:
    """The comments this user may read, oldest first, each under the name they may see."""
    rows = session.exec(
        select(Comment, User.name, User.email).join(User, col(User.id) == Comment.author_id)
        .where(Comment.proposal_id == proposal.id).order_by(col(Comment.id))).all()
    mentioned_ids = {i for comment, _, _ in rows for i in comment.mentions}
    emails = dict(session.exec(select(User.id, User.email).where(
        col(User.id).in_(mentioned_ids))).all()) if mentioned_ids else {}
    shown = []
    for comment, name, email in rows:
        author = comment_author(grants, author_id=comment.author_id, author=f"{name} <{email}>",
                                private=comment.private, as_reviewer=comment.as_reviewer)
        if author is None:
            continue
        shown.append(CommentPublic(
            id=comment.id or 0, author=author, body=comment.body, private=comment.private,
            mentions=[emails[i] for i in comment.mentions if i in emails],
            created_at=as_utc(comment.created_at)))
    return shown


def may_write_notes(session: Session, grants: Grants, proposal: Proposal) -> bool:
    """Whether the page offers this user the private-note box (the rule `post_comment` uses)."""
    return note_refusal(session, grants, proposal) is None
