"""Who sees which reviews, and under what name: the one place the blind-review rule lives.

- The coordinator and admins see every review, with its reviewer's name and scores.
- A reviewer sees their own review; the other reviews of a round (scores and comments, as
  "Reviewer N") only once they have saved their own in that round.
- Everyone else who may read the proposal, its authors first, sees a round's comments, as
  "Reviewer N" and without scores, once the coordinator has decided it (approved, returned or
  rejected the proposal in rubric review): the decision releases them.

The reviews endpoint, the review page, the history, the proposal page's timeline and the
emails all ask `Blind`; none restates the rule.
"""

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from workflow import queries
from workflow.access import Grants, standing
from workflow.accounts.models import Role, User
from workflow.audit import AuditEntry, AuditEntryPublic
from workflow.machine import State
from workflow.proposals.models import Proposal
from workflow.reviews.models import Review, ReviewerAssignment
from workflow.reviews.rubrics import rubric_version

# A decision in rubric review records the round it releases in its audit entry's detail.
RELEASED = "released_round"
# The discussion's audit actions (workflow/discussion.py).
PRIVATE_NOTE = "private_note"
DISCUSSION = ("comment", PRIVATE_NOTE)


def sees_reviewers(grants: Grants) -> bool:
    return grants.has(Role.COORDINATOR) or grants.has(Role.ADMIN)


def releases_round(from_state: State, to_state: State) -> bool:
    """Whether this transition is the coordinator's decision of a review round (a withdrawal
    by the owner decides nothing)."""
    return from_state is State.RUBRIC_REVIEW and to_state is not State.WITHDRAWN


@dataclass(frozen=True)
class Shown:
    """What one reader sees of one review: under which name, and which parts."""

    reviewer: str
    scores: bool
    comments: bool


class Blind:
    """One reader's view of one proposal's reviews, worked out once per request (`grants`
    None: the view any author has, for the emails to the authors)."""

    def __init__(self, session: Session, grants: Grants | None, proposal: Proposal) -> None:
        self.proposal = proposal
        self.full = grants is not None and sees_reviewers(grants)
        self.me = grants.user.id if grants is not None else None
        self.authors = grants is None or standing(grants, proposal).authors
        assigned = list(session.exec(
            select(ReviewerAssignment.reviewer_id).where(
                ReviewerAssignment.proposal_id == proposal.id)
            .order_by(col(ReviewerAssignment.id))).all())
        reviews = list(session.exec(
            select(Review.reviewer_id, Review.round).where(Review.proposal_id == proposal.id)
            .order_by(col(Review.id))).all())
        # One number per reviewer for the whole proposal: assignment order, then anyone who
        # scored without being assigned (the coordinator), so "Reviewer 2" is one person on
        # every page, round and email.
        order = list(dict.fromkeys([*assigned, *(reviewer for reviewer, _ in reviews)]))
        self.numbers = {reviewer: n for n, reviewer in enumerate(order, start=1)}
        self.assigned = set(assigned)
        self.my_rounds = {round_ for reviewer, round_ in reviews if reviewer == self.me}
        self.emails: dict[int, str] = {}
        if order:
            for uid, email in session.exec(select(User.id, User.email)
                                           .where(col(User.id).in_(order))):
                self.emails[uid or 0] = email
        self.by_email = {email.lower(): uid for uid, email in self.emails.items()}

    def label(self, reviewer_id: int) -> str:
        """The reviewer as this reader may name them."""
        if self.full or reviewer_id == self.me:
            return self.emails.get(reviewer_id, str(reviewer_id))
        return f"Reviewer {self.numbers.get(reviewer_id, '?')}"

    def released(self, round_: int) -> bool:
        return 0 < round_ <= self.proposal.released_round

    def sees_scores(self, round_: int) -> bool:
        """The scores of others (and so the aggregate) of a round."""
        return self.full or (not self.authors and round_ in self.my_rounds)

    def review(self, reviewer_id: int, round_: int) -> Shown | None:
        """What this reader sees of one review, or None when nothing of it."""
        if self.full or reviewer_id == self.me or self.sees_scores(round_):
            return Shown(self.label(reviewer_id), scores=True, comments=True)
        if self.released(round_):
            return Shown(self.label(reviewer_id), scores=False, comments=True)
        return None

    def result_visible(self, round_: int) -> bool:
        """The round's aggregate: for those who see its scores, and for all once decided."""
        return self.sees_scores(round_) or self.released(round_)

    def assigned_visible(self) -> bool:
        return self.full

    # --- the history and the timeline -----------------------------------------------------

    def entry(self, entry: AuditEntryPublic, actor_id: int | None) -> AuditEntryPublic:
        """One audit entry as this reader may see it: reviewers named as "Reviewer N" and review
        details cut to what `review` allows. An entry with anything withheld carries no hash
        (a hash over hidden fields would let a reader test guesses of them)."""
        if self.full:
            return entry
        shown = entry
        if entry.action == "review" and actor_id is not None and actor_id != self.me:
            round_ = entry.detail.get("round")
            view = self.review(actor_id, round_ if isinstance(round_, int) else 0)
            detail = {k: v for k, v in entry.detail.items() if k not in ("scores", "comments")}
            if view is not None and view.scores and "scores" in entry.detail:
                detail["scores"] = entry.detail["scores"]
            if view is not None and view.comments and "comments" in entry.detail:
                detail["comments"] = entry.detail["comments"]
            shown = shown.model_copy(update={"actor": self.label(actor_id), "role": "reviewer",
                                             "detail": detail})
        elif (entry.action in DISCUSSION and entry.role == "reviewer"
              and actor_id != self.me):
            shown = shown.model_copy(update={"actor": "A reviewer"})  # as on the thread
        detail = self._addresses(shown.detail)
        if detail != shown.detail:
            shown = shown.model_copy(update={"detail": detail})
        return shown if shown == entry else shown.model_copy(update={"hash": ""})

    def _addresses(self, detail: dict[str, Any]) -> dict[str, Any]:
        """Assigned reviewers' addresses in a detail (emails sent to them, the assignment)
        replaced by their labels."""

        def name(value: Any) -> Any:
            if isinstance(value, str):
                uid = self.by_email.get(value.lower())
                if uid is not None and uid in self.assigned and uid != self.me:
                    return self.label(uid)
            return value

        changed: dict[str, Any] = {}
        for key in ("to", "reviewers", "newly_assigned"):
            if key in detail:
                value = detail[key]
                changed[key] = [name(v) for v in value] if isinstance(value, list) else name(
                    value)
        return {**detail, **changed} if changed else detail

    def history(self, session: Session, entries: list[AuditEntryPublic]
                ) -> list[AuditEntryPublic]:
        """A proposal's history as this reader may see it."""
        if self.full:
            return entries
        actors = dict(session.exec(
            select(AuditEntry.seq, AuditEntry.actor_id).where(
                AuditEntry.proposal_id == self.proposal.id,
                col(AuditEntry.action).in_(("review", *DISCUSSION)))
        ).all())
        # A private note is its writer's, the coordinator's and the admins' only.
        return [self.entry(e, actors.get(e.seq)) for e in entries
                if e.action != PRIVATE_NOTE or actors.get(e.seq) == self.me]

    # --- the emails -----------------------------------------------------------------------

    def released_comments(self, session: Session, round_: int
                          ) -> list[tuple[str, list[tuple[str, str]]]]:
        """The comments of a released round as this reader sees them: per reviewer label,
        (criterion title, comment) in the rubric's order."""
        if not self.released(round_):
            return []
        rows = session.exec(select(Review).where(
            Review.proposal_id == self.proposal.id, Review.round == round_)
            .order_by(col(Review.id))).all()
        shown = []
        for row in rows:
            view = self.review(row.reviewer_id, round_)
            if view is None or not view.comments or not row.comments:
                continue
            criteria = rubric_version(session, row.rubric_key, row.rubric_version).criteria
            titled = [(c.title, row.comments[c.key]) for c in criteria if c.key in row.comments]
            shown.append((view.reviewer, titled))
        return sorted(shown)


def history(session: Session, grants: Grants, proposal: Proposal) -> list[AuditEntryPublic]:
    """The proposal's audit entries, oldest first, as this reader may see them."""
    return Blind(session, grants, proposal).history(session, queries.history(
        session, proposal.id or 0))


def round_released_by(session: Session, proposal_id: int, version: int) -> int | None:
    """The review round the transition that made this version released, if it released one."""
    entry = session.exec(select(AuditEntry).where(
        AuditEntry.proposal_id == proposal_id, AuditEntry.version == version,
        AuditEntry.outcome == "accepted", col(AuditEntry.to_state).is_not(None))
        .order_by(col(AuditEntry.seq).desc()).limit(1)).first()
    if entry is None:
        return None
    value = entry.detail.get(RELEASED)
    return value if isinstance(value, int) else None
def comment_author(grants: Grants, *, author_id: int, author: str, private: bool,
                   as_reviewer: bool) -> str | None:
    """How this user sees who wrote a discussion comment, or None when they may not read it.

    A private note is read by its writer, the coordinator and admins only. What a reviewer
    writes in the open thread everyone who can read the proposal reads, but under their name
    only for the writer, the coordinator and admins: to the others it is "A reviewer".
    """
    insider = author_id == grants.user.id or sees_reviewers(grants)
    if private and not insider:
        return None
    return author if insider or not as_reviewer else "A reviewer"
