"""Who sees which reviews, and under what name."""

from workflow.access import Grants, standing
from workflow.accounts.models import Role
from workflow.proposals.models import Proposal
from workflow.reviews.models import Review


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
