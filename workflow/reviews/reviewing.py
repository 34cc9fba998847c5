"""Reviews: saving a reviewer's scores, and a round's aggregate result."""

import dataclasses
from typing import Any

from sqlmodel import Session, col, select

from plumbing.settings import Settings
from rubric.scoring import Result, ReviewError, score, validate_review
from rubric.scoring import Review as ScoredReview
from workflow import audit, queries
from workflow.access import Grants, can_view, grants_of, standing
from workflow.accounts.models import Role, User
from workflow.errors import Conflict, Forbidden, NotFound, Unprocessable, WorkflowError
from workflow.fields import utcnow
from workflow.machine import State
from workflow.proposals.models import Proposal
from workflow.reviews.assignment import is_assigned, review_problem
from workflow.reviews.models import Review, ReviewSubmission
from workflow.reviews.rubrics import rubric_version


def scoring_refusal(session: Session, grants: Grants, proposal: Proposal, settings: Settings
                    ) -> WorkflowError | None:
    """Why this user may not score this proposal now, or None when they may (the scoring
    page offers its form by the same rule)."""
    state = State(proposal.state)
    if not can_view(standing(grants, proposal), state):
        return NotFound("no such proposal")
    problem = review_problem(grants, proposal, settings)
    if problem:
        return Forbidden(problem)
    if not grants.has(Role.COORDINATOR) and not is_assigned(session, proposal.id or 0,
                                                            grants.user.id or 0):
        return Forbidden("you are not assigned to review this proposal")
    if state is not State.RUBRIC_REVIEW:
        return Conflict(f"reviews are saved in rubric_review; this proposal is in {state.value}")
    return None


def save_review(
    session: Session, proposal_id: int, submission: ReviewSubmission, actor: User, via: str,
    settings: Settings,
) -> Review:
    """Save (or replace) the caller's review in the current round."""
    proposal = queries.locked_proposal(session, proposal_id)
    grants = grants_of(session, actor)
    state = State(proposal.state)
    role = "coordinator" if grants.has(Role.COORDINATOR) else "reviewer"
    try:
        refusal = scoring_refusal(session, grants, proposal, settings)
        if refusal is not None:
            raise refusal
        rubric = rubric_version(session, proposal.rubric_key or "", proposal.rubric_version)
        try:
            validate_review(rubric, submission.scores, submission.comments)
        except ReviewError as error:
            raise Unprocessable(str(error)) from error
    except (NotFound, Forbidden, Conflict, Unprocessable) as refusal:
        audit.record_refusal(session, refusal, actor=actor, role=role, channel=via,
                             action="review", proposal_id=proposal_id, from_state=state.value,
                             version=proposal.version)
        raise
    review = session.exec(select(Review).where(
        Review.proposal_id == proposal_id, Review.round == proposal.review_round,
        Review.reviewer_id == actor.id)).first()
    if review is None:
        review = Review(proposal_id=proposal_id, round=proposal.review_round,
                        reviewer_id=actor.id or 0, rubric_key=rubric.key,
                        rubric_version=rubric.version, scores={}, comments={})
    review.scores = dict(submission.scores)
    review.comments = {k: v for k, v in submission.comments.items() if v.strip()}
    review.updated_at = utcnow()
    session.add(review)
    audit.append(session, actor=actor, role=role, channel=via, action="review",
                 from_state=state.value, to_state=state.value, proposal_id=proposal_id,
                 version=proposal.version,
                 detail={"round": proposal.review_round, "scores": review.scores,
                         "comments": review.comments})
    session.commit()
    return review


def round_reviews(session: Session, proposal_id: int, round_: int) -> list[Review]:
    return list(session.exec(select(Review).where(
        Review.proposal_id == proposal_id, Review.round == round_).order_by(col(Review.id))).all())


def result_of(session: Session, proposal: Proposal, round_: int | None = None) -> Result | None:
    """The aggregate of a round (the current one by default); None before any round."""
    round_ = proposal.review_round if round_ is None else round_
    if round_ < 1 or proposal.rubric_key is None:
        return None
    reviews = round_reviews(session, proposal.id or 0, round_)
    if reviews:
        key, version = reviews[0].rubric_key, reviews[0].rubric_version
    else:
        key, version = proposal.rubric_key, proposal.rubric_version or 0
    rubric = rubric_version(session, key, version)
    emails = dict(session.exec(select(User.id, User.email).where(
        col(User.id).in_({r.reviewer_id for r in reviews}))).all()) if reviews else {}
    return score(rubric, [
        ScoredReview(reviewer=emails.get(r.reviewer_id, str(r.reviewer_id)), scores=r.scores,
                     comments=r.comments)
        for r in reviews
    ])


def rounds_of(session: Session, proposal_id: int) -> list[int]:
    return sorted(set(session.exec(select(Review.round).where(
        Review.proposal_id == proposal_id)).all()))


def result_as_dict(result: Result) -> dict[str, Any]:
    return dataclasses.asdict(result)
