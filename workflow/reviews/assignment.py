"""Review rounds and who may review: the coordinator assigns reviewers."""

from collections.abc import Sequence

from sqlmodel import Session, select

from plumbing.settings import Settings
from workflow import audit, events, queries
from workflow.access import Grants, can_view, grants_of, standing
from workflow.accounts.models import Role, User
from workflow.errors import Conflict, Forbidden, NotFound, Unprocessable, WorkflowError
from workflow.machine import State
from workflow.proposals.models import Proposal
from workflow.reviews.models import ReviewerAssignment
from workflow.reviews.rubrics import rubric_version


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
    if not can_view(standing(grants, proposal), state):
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
