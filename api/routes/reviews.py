"""Rubric definitions, reviewer assignment and reviews."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, status
from pydantic import BaseModel
from sqlmodel import Session, col, select

from api import errors
from api.deps import CurrentUser, ReadSessionDep, SessionDep, SettingsDep, require
from api.routes.proposals import ProposalId
from workflow import service
from workflow.access import Grants
from workflow.accounts.models import Role, User
from workflow.audit import Channel
from workflow.fields import as_utc
from workflow.proposals.models import Proposal
from workflow.reviews import assignment, reviewing, rubrics, visibility
from workflow.reviews.models import (
    Review,
    ReviewerAssignment,
    ReviewerAssignmentRequest,
    ReviewSubmission,
)

router = APIRouter(prefix="/api", tags=["rubric review"])


class RubricSummary(BaseModel):
    key: str
    version: int
    title: str
    source: str


class ReviewPublic(BaseModel):
    reviewer: str
    round: int
    rubric_key: str
    rubric_version: int
    scores: dict[str, str]
    comments: dict[str, str]
    updated_at: str


class ReviewsPublic(BaseModel):
    round: int
    rounds: list[int]
    rubric_key: str | None
    rubric_version: int | None
    assigned_reviewers: list[str]
    reviews: list[ReviewPublic]
    result: dict[str, Any] | None


@router.get("/rubrics", responses=errors.responses(401))
def list_rubrics(session: ReadSessionDep, _me: CurrentUser) -> list[RubricSummary]:
    return [
        RubricSummary(key=r.key, version=r.version, title=str(r.definition.get("title", r.key)),
                      source=r.source)
        for r in rubrics.list_rubrics(session)
    ]


@router.get("/rubrics/{key}", responses=errors.responses(401, 404, 422))
def get_rubric(
    key: Annotated[str, Path(max_length=64)],
    session: ReadSessionDep,
    _me: CurrentUser,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> dict[str, Any]:
    return rubrics.rubric_version(session, key, version).model_dump(mode="json")


@router.post("/rubrics", status_code=status.HTTP_201_CREATED,
             responses=errors.responses(400, 401, 403, 409, 422))
def add_rubric(
    body: Annotated[dict[str, Any], Body()],
    session: SessionDep,
    me: Annotated[Grants, require(Role.ADMIN)],
) -> dict[str, Any]:
    return rubrics.add_rubric(session, body, me.user).model_dump(mode="json")


def _public(review: Review, shown: visibility.Shown) -> ReviewPublic:
    """A review as its reader may see it: scores and comments only where `shown` allows."""
    return ReviewPublic(
        reviewer=shown.reviewer, round=review.round, rubric_key=review.rubric_key,
        rubric_version=review.rubric_version,
        scores=dict(review.scores) if shown.scores else {},
        comments=dict(review.comments) if shown.comments else {},
        updated_at=as_utc(review.updated_at).isoformat(),
    )


@router.put("/proposals/{proposal_id}/reviews/mine",
            responses=errors.responses(400, 401, 403, 404, 409, 422))
def save_my_review(
    proposal_id: ProposalId, body: ReviewSubmission, session: SessionDep, me: CurrentUser,
    settings: SettingsDep,
) -> ReviewPublic:
    review = reviewing.save_review(session, proposal_id, body, me.user, Channel.API, settings)
    return _public(review, visibility.Shown(me.user.email, scores=True, comments=True))


@router.get("/proposals/{proposal_id}/reviews", responses=errors.responses(401, 404, 422))
def proposal_reviews(
    proposal_id: ProposalId,
    session: ReadSessionDep,
    me: CurrentUser,
    round: Annotated[int | None, Query(ge=1, le=10_000)] = None,  # noqa: A002
) -> ReviewsPublic:
    proposal = service.visible_proposal(session, proposal_id, me)
    chosen = proposal.review_round if round is None else round
    rows = reviewing.round_reviews(session, proposal_id, chosen)
    blind = visibility.Blind(session, me, proposal)
    visible = []
    for row in rows:
        shown = blind.review(row.reviewer_id, chosen)
        if shown is not None:
            visible.append(_public(row, shown))
    result = reviewing.result_of(session, proposal, chosen)
    assigned = _assigned_ids(session, proposal) if blind.assigned_visible() else set()
    return ReviewsPublic(
        round=chosen,
        rounds=reviewing.rounds_of(session, proposal_id) or ([chosen] if chosen else []),
        rubric_key=rows[0].rubric_key if rows else proposal.rubric_key,
        rubric_version=rows[0].rubric_version if rows else proposal.rubric_version,
        assigned_reviewers=sorted(_emails(session, assigned).values()),
        reviews=visible,
        result=reviewing.result_as_dict(result)
        if result and blind.result_visible(chosen) else None,
    )


class AssignedReviewers(BaseModel):
    reviewers: list[str]


@router.post("/proposals/{proposal_id}/reviewers",
             responses=errors.responses(400, 401, 403, 404, 409, 422))
def assign_reviewers(
    proposal_id: ProposalId, body: ReviewerAssignmentRequest, session: SessionDep,
    me: CurrentUser, settings: SettingsDep,
) -> AssignedReviewers:
    assignment.assign_reviewers(session, proposal_id, body.reviewers, me.user, Channel.API,
                                settings)
    proposal = session.get(Proposal, proposal_id)
    assert proposal is not None
    ids = _assigned_ids(session, proposal)
    return AssignedReviewers(reviewers=sorted(_emails(session, ids).values()))


def _assigned_ids(session: Session, proposal: Proposal) -> set[int]:
    return set(session.exec(select(ReviewerAssignment.reviewer_id).where(
        ReviewerAssignment.proposal_id == proposal.id)).all())


def _emails(session: Session, ids: set[int]) -> dict[int, str]:
    return {uid or 0: email for uid, email in
            session.exec(select(User.id, User.email).where(col(User.id).in_(ids))).all()}
