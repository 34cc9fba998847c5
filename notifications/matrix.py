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

MATRIX: dict[Event, tuple[Notice, ...]] = {
    Event.SUBMITTED: (
        Notice((A.STAGE_APPROVERS,), "submitted, your approval is needed", action_needed=True),
        Notice(AUTHORS, "submitted for department review"),
    ),
    Event.RESUBMITTED: (
        Notice((A.STAGE_APPROVERS,), "resubmitted, your review is needed", action_needed=True),
        Notice(AUTHORS, "resubmitted"),
    ),
    Event.DEPARTMENT_APPROVED: (
        Notice((A.BADGE_OFFICE,), "approved by the department, rubric review needed",
               action_needed=True),
        Notice((A.ASSIGNED_REVIEWERS,), "ready for your rubric review", action_needed=True),
        Notice((A.OWNER,), "approved by the department"),
    ),
    Event.RUBRIC_APPROVED: (
        Notice((A.BADGE_OFFICE,), "passed rubric review, badge design approval needed",
               action_needed=True),
        Notice((A.OWNER,), "passed rubric review, badge design is next"),
    ),
    Event.PUBLISHED: (
        Notice((*AUTHORS, A.DEPARTMENT_LEADS, A.BADGE_OFFICE), "published"),
    ),
    Event.RETURNED: (Notice(AUTHORS, "returned for changes"),),
    Event.REJECTED: (Notice((A.OWNER, A.BADGE_OFFICE), "rejected"),),
    Event.WITHDRAWN: (Notice((A.OWNER, A.BADGE_OFFICE), "withdrawn"),),
    Event.RETIRED: (Notice((A.OWNER, A.BADGE_OFFICE), "retired"),),
    Event.REVIEWER_ASSIGNED: (
        Notice((A.NAMED,), "you are asked to review it", action_needed=True),
    ),
    Event.REMINDER: (
        Notice((A.STAGE_APPROVERS, A.PENDING_REVIEWERS), "waiting for your action",
               action_needed=True),
    ),
    Event.ESCALATION: (Notice((A.BADGE_OFFICE,), "overdue"),),
    Event.MENTIONED: (Notice((A.MENTIONED,), "you were mentioned in its discussion"),),
    Event.AWARDED: (Notice((A.LEARNER,), "awarded to you"),),
}
