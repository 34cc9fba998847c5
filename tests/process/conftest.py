"""Helpers for the committee's process: meetings, a proposal brought to rubric review."""

from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from tests.conftest import World
from workflow.audit import Channel
from workflow.fields import utcnow
from workflow.meetings import schedule
from workflow.meetings.models import Meeting, MeetingCreate
from workflow.proposals.models import Proposal
from workflow.reviews import assignment, reviewing, rubrics
from workflow.reviews.models import ReviewSubmission


def meeting_in(world: World, days: float, title: str = "Review committee") -> Meeting:
    """A meeting `days` from now, added by the coordinator."""
    return schedule.create_meeting(
        world.session, MeetingCreate(starts_at=utcnow() + timedelta(days=days), title=title,
                                     location="Administration 501"),
        world.coordinator.user, Channel.API, world.settings)


def past_meeting(engine: Engine, world: World, started: datetime) -> Meeting:
    """A meeting that has already happened (around the calendar's checks: test setup only)."""
    with Session(engine, expire_on_commit=False) as session:
        meeting = Meeting(starts_at=started, title="Past committee",
                          created_by_id=world.coordinator.user.id or 0)
        session.add(meeting)
        session.commit()
        return meeting


def to_rubric_review(world: World, proposal: Proposal | None = None,
                     title: str = "Applied Data Storytelling") -> Proposal:
    """A proposal submitted and approved by its department, its reviewer assigned."""
    proposal = proposal or world.proposal(title)
    world.fire(proposal, "submit", world.owner)
    proposal = world.fire(proposal, "approve", world.lead)
    assignment.assign_reviewers(world.session, proposal.id or 0, [world.reviewer.email],
                                world.coordinator.user, "api", world.settings)
    return proposal


def pass_rubric(world: World, proposal: Proposal) -> None:
    rubric = rubrics.rubric_version(world.session, "microcredential")
    scores = {criterion.key: "exemplary" for criterion in rubric.criteria}
    for who in (world.coordinator, world.reviewer):
        reviewing.save_review(world.session, proposal.id or 0, ReviewSubmission(scores=scores),
                              who.user, "api", world.settings)


# The credentials tests' fixtures: a proposal brought to publication.
from tests.credentials.conftest import in_design_review, publish  # noqa: E402, F401
