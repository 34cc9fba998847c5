"""Who gets which email for which event: the one table of the notifications."""

from dataclasses import dataclass
from enum import StrEnum

from workflow.events import Event


class Audience(StrEnum):
    OWNER = "owner"
    CO_AUTHORS = "co_author"
    DEPARTMENT_LEADS = "department_lead"
    BADGE_OFFICE = "badge_office"
    # Whoever approves at the stage the proposal is in now (leads, or the badge office).
    STAGE_APPROVERS = "approver"
    ASSIGNED_REVIEWERS = "reviewer"
    # Assigned reviewers who have not scored the current round yet.
    PENDING_REVIEWERS = "pending_reviewer"
    # The people the caller names (the newly assigned reviewers).
    NAMED = "named"
    # The people a discussion comment mentions.
    MENTIONED = "mentioned"
    # The learner an award was made to.
    LEARNER = "learner"


@dataclass(frozen=True)
class Notice:
    """One kind of message of an event: to whom, the subject's "what happened", and whether the
    recipients must act (those are the "action needed" emails a daily-digest user gets only in
    the digest, and that carry action links)."""

    audiences: tuple[Audience, ...]
    what: str
    action_needed: bool = False


A = Audience
AUTHORS = (A.OWNER, A.CO_AUTHORS)

# "what" leads the subject ("Approval needed: <title>"), so it is short and says what to do
# or what happened.
MATRIX: dict[Event, tuple[Notice, ...]] = {
    Event.SUBMITTED: (
        Notice((A.STAGE_APPROVERS,), "Approval needed", action_needed=True),
        Notice(AUTHORS, "Submitted"),
    ),
    Event.RESUBMITTED: (
        Notice((A.STAGE_APPROVERS,), "Resubmitted, approval needed", action_needed=True),
        Notice(AUTHORS, "Resubmitted"),
    ),
    Event.DEPARTMENT_APPROVED: (
        Notice((A.BADGE_OFFICE,), "Assign reviewers", action_needed=True),
        Notice((A.ASSIGNED_REVIEWERS,), "Review needed", action_needed=True),
        Notice(AUTHORS, "Department approved"),
    ),
    Event.RUBRIC_APPROVED: (
        Notice((A.BADGE_OFFICE,), "Badge design approval needed", action_needed=True),
        Notice(AUTHORS, "Passed rubric review"),
    ),
    Event.PUBLISHED: (
        Notice((*AUTHORS, A.DEPARTMENT_LEADS, A.BADGE_OFFICE), "Published"),
    ),
    Event.RETURNED: (Notice(AUTHORS, "Returned"),),
    Event.REJECTED: (Notice((A.OWNER, A.BADGE_OFFICE), "Rejected"),),
    Event.WITHDRAWN: (Notice((A.OWNER, A.BADGE_OFFICE), "Withdrawn"),),
    Event.RETIRED: (Notice((*AUTHORS, A.BADGE_OFFICE), "Retired"),),
    Event.REVIEWER_ASSIGNED: (
        Notice((A.NAMED,), "Review requested", action_needed=True),
    ),
    Event.REMINDER: (
        Notice((A.STAGE_APPROVERS, A.PENDING_REVIEWERS), "Reminder, waiting for you",
               action_needed=True),
    ),
    Event.ESCALATION: (Notice((A.BADGE_OFFICE,), "Overdue"),),
    Event.MENTIONED: (Notice((A.MENTIONED,), "Mentioned"),),
    Event.AWARDED: (Notice((A.LEARNER,), "Awarded to you"),),
}
