"""Rubric review: rubric versions, review rounds, reviewer assignment, reviews, the result."""

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from plumbing.settings import Settings
from rubric.definitions import Rubric, RubricError, load_rubrics, parse_rubric
from rubric.scoring import Result, ReviewError, score, validate_review
from rubric.scoring import Review as ScoredReview
from workflow import audit, events, queries
from workflow.access import Grants, grants_of, standing
from workflow.errors import Conflict, Forbidden, NotFound, Unprocessable, WorkflowError
from workflow.machine import State
from workflow.models import (
    Proposal,
    Review,
    ReviewerAssignment,
    ReviewSubmission,
    Role,
    RubricVersion,
    User,
    utcnow,
)

DEFINITIONS = Path(__file__).resolve().parent.parent / "rubric" / "definitions"


# --- rubric versions --------------------------------------------------------


def sync_rubric_files(session: Session, rubrics: Sequence[Rubric]) -> None:
    """Copy file rubrics into the database; a changed file for a used version is refused."""
    for rubric in rubrics:
        stored = session.exec(select(RubricVersion).where(
            RubricVersion.key == rubric.key, RubricVersion.version == rubric.version)).first()
        definition = rubric.model_dump(mode="json")
        if stored is None:
            session.add(RubricVersion(key=rubric.key, version=rubric.version,
                                      definition=definition, source=rubric.source))
        elif stored.definition != definition:
            raise RubricError(
                f"{rubric.source}: rubric {rubric.key} version {rubric.version} differs from "
                f"the stored one; give the changed rubric a new version number"
            )
    try:
        session.commit()
    except IntegrityError:
        # Another process copied the same files at the same moment.
        session.rollback()


def install_rubrics(session: Session, settings: Settings) -> None:
    """Validate the shipped and the office's rubric files and make them available.

    The shipped folder goes first, so an office file that edits a shipped version in place
    is refused as a change to a stored version.
    """
    folders = [DEFINITIONS] + ([Path(settings.rubric_dir)] if settings.rubric_dir else [])
    for folder in folders:
        sync_rubric_files(session, list(load_rubrics(folder)))


# A stored version never changes, so each is parsed once per process, keyed by its row (the
# row's id and time tell apart two databases, or one emptied between tests).
_parsed: dict[tuple[Any, ...], Rubric] = {}


def rubric_version(session: Session, key: str, version: int | None = None) -> Rubric:
    """A stored rubric: the given version, or the newest."""
    query = select(RubricVersion).where(RubricVersion.key == key)
    if version is not None:
        query = query.where(RubricVersion.version == version)
    row = session.exec(query.order_by(col(RubricVersion.version).desc()).limit(1)).first()
    if row is None:
        raise NotFound(f"no rubric {key}" + (f" version {version}" if version else ""))
    identity = (row.id, row.key, row.version, row.created_at)
    rubric = _parsed.get(identity)
    if rubric is None:
        rubric = parse_rubric(row.definition, f"{row.key} version {row.version}")
        _parsed[identity] = rubric
    return rubric


def list_rubrics(session: Session) -> list[RubricVersion]:
    return list(session.exec(
        select(RubricVersion).order_by(col(RubricVersion.key), col(RubricVersion.version))).all())


def add_rubric(session: Session, data: dict[str, Any], actor: User) -> Rubric:
    """An admin's new rubric version, validated like a file."""
    try:
        rubric = parse_rubric(data, "request body")
    except RubricError as error:
        raise Unprocessable(str(error)) from error
    session.add(RubricVersion(key=rubric.key, version=rubric.version,
                              definition=rubric.model_dump(mode="json"), source="api"))
    try:
        session.flush()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(f"rubric {rubric.key} version {rubric.version} already exists; "
                       f"versions never change, add the next number") from error
    audit.append(session, actor=actor, role="admin", channel="api", action="add_rubric",
                 detail={"key": rubric.key, "version": rubric.version})
    session.commit()
    return rubric


# --- rounds and reviewers ---------------------------------------------------


def open_round(session: Session, proposal: Proposal, rubric_key: str) -> None:
    """Open the proposal's next review round, scored against the newest version of the rubric
    that day (the door does this as the proposal enters rubric review)."""
    rubric = rubric_version(session, rubric_key)
    proposal.review_round += 1
    proposal.rubric_key = rubric.key
    proposal.rubric_version = rubric.version


def review_problem(grants: Grants, proposal: Proposal, settings: Settings) -> str | None:
    """Why this user may not score this proposal, or None when they may."""
    who = standing(grants, proposal)
    if who.authors:
        return "you own or co-author this proposal, so you cannot review it"
    if not (grants.has(Role.COORDINATOR) or grants.has(Role.REVIEWER)):
        return "only reviewers and the coordinator score proposals"
    if (grants.has(Role.REVIEWER) and not grants.has(Role.COORDINATOR)
            and grants.member_of(proposal.department_id)
            and not settings.reviewers_from_own_department):
        return "reviewers from the proposal's own department cannot review it"
    return None


def assignment_refusal(grants: Grants, proposal: Proposal) -> WorkflowError | None:
    """Why this user may not assign reviewers to this proposal now, or None when they may
    (the pages offer the form by the same rule)."""
    state = State(proposal.state)
    if state is State.DRAFT and not standing(grants, proposal).authors:
        return NotFound("no such proposal")
    if not grants.has(Role.COORDINATOR):
        return Forbidden("only the coordinator assigns reviewers")
    if standing(grants, proposal).authors:
        return Forbidden("separation of duties: you own or co-author this proposal")
    if state not in (State.DEPARTMENT_REVIEW, State.RUBRIC_REVIEW):
        return Conflict(f"reviewers are assigned in department or rubric review, "
                        f"not in {state.value}")
    return None


def assign_reviewers(
    session: Session, proposal_id: int, emails: Sequence[str], actor: User, via: str,
    settings: Settings,
) -> list[User]:
    """The coordinator names the reviewers of a proposal; each must be able to review it."""
    proposal = queries.locked_proposal(session, proposal_id)
    grants = grants_of(session, actor)
    state = State(proposal.state)
    try:
        refusal = assignment_refusal(grants, proposal)
        if refusal is not None:
            raise refusal
        reviewers = []
        for email in dict.fromkeys(emails):
            user = session.exec(select(User).where(User.email == email)).first()
            if user is None or not user.is_active:
                raise Unprocessable(f"{email} is not a user")
            reviewer_grants = grants_of(session, user)
            if not reviewer_grants.has(Role.REVIEWER):
                raise Unprocessable(f"{email} is not a reviewer")
            problem = review_problem(reviewer_grants, proposal, settings)
            if problem:
                raise Unprocessable(f"{email} cannot review this proposal: {problem}")
            reviewers.append(user)
    except (NotFound, Forbidden, Conflict, Unprocessable) as refusal:
        audit.record_refusal(session, refusal, actor=actor, role="coordinator", channel=via,
                             action="assign_reviewers", proposal_id=proposal_id,
                             from_state=state.value, version=proposal.version,
                             detail={"reviewers": list(emails)})
        raise
    existing = set(session.exec(select(ReviewerAssignment.reviewer_id).where(
        ReviewerAssignment.proposal_id == proposal_id)).all())
    added = [u for u in reviewers if u.id not in existing]
    for user in added:
        session.add(ReviewerAssignment(proposal_id=proposal_id, reviewer_id=user.id or 0,
                                       assigned_by_id=actor.id or 0))
    audit.append(session, actor=actor, role="coordinator", channel=via,
                 action="assign_reviewers", from_state=state.value, to_state=state.value,
                 proposal_id=proposal_id, version=proposal.version,
                 detail={"reviewers": [u.email for u in reviewers],
                         "newly_assigned": [u.email for u in added]})
    if added:
        events.record(session, events.ProposalEvent(
            events.Event.REVIEWER_ASSIGNED, proposal_id, state, proposal.version,
            actor_id=actor.id, named=tuple(u.id for u in added if u.id is not None)))
    session.commit()
    return reviewers


def is_assigned(session: Session, proposal_id: int, user_id: int) -> bool:
    return session.exec(select(ReviewerAssignment.id).where(
        ReviewerAssignment.proposal_id == proposal_id,
        ReviewerAssignment.reviewer_id == user_id)).first() is not None


# --- reviews ----------------------------------------------------------------


def scoring_refusal(session: Session, grants: Grants, proposal: Proposal, settings: Settings
                    ) -> WorkflowError | None:
    """Why this user may not score this proposal now, or None when they may (the scoring
    page offers its form by the same rule)."""
    state = State(proposal.state)
    if state is State.DRAFT and not standing(grants, proposal).authors:
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


def reviewer_label(grants: Grants, proposal: Proposal, review: Review, number: int,
                   email: str) -> str | None:
    """How this user sees who wrote a review, or None when they do not see it at all.

    The coordinator and admins see every reviewer; a reviewer sees their own review only
    (not a colleague's scores before giving theirs); everyone else who can read the proposal
    reads what reviewers wrote, but not who wrote it.
    """
    if sees_reviewers(grants) or review.reviewer_id == grants.user.id:
        return email
    if grants.has(Role.REVIEWER) and not standing(grants, proposal).authors:
        return None
    return f"Reviewer {number}"


def sees_reviewers(grants: Grants) -> bool:
    return grants.has(Role.COORDINATOR) or grants.has(Role.ADMIN)


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
