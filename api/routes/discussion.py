"""A proposal's discussion thread."""

from fastapi import APIRouter, status

from api import errors
from api.deps import CurrentUser, ReadSessionDep, SessionDep
from api.routes.proposals import ProposalId
from workflow import discussion, service
from workflow.audit import Channel
from workflow.discussion import CommentCreate, CommentPublic

router = APIRouter(prefix="/api/proposals", tags=["discussion"])


@router.get("/{proposal_id}/comments", responses=errors.responses(401, 404, 422))
def comments(proposal_id: ProposalId, session: ReadSessionDep, me: CurrentUser
             ) -> list[CommentPublic]:
    """The comments the caller may read, oldest first (reviewers' names and private notes as
    the blind review allows)."""
    return discussion.thread(session, service.visible_proposal(session, proposal_id, me), me)


@router.post("/{proposal_id}/comments", status_code=status.HTTP_201_CREATED,
             responses=errors.responses(400, 401, 403, 404, 422))
def post_comment(proposal_id: ProposalId, body: CommentCreate, session: SessionDep,
                 me: CurrentUser) -> CommentPublic:
    """Add a comment (or, for reviewers and the coordinator, a private note); `@email`
    mentions email that person."""
    comment = discussion.post_comment(session, proposal_id, body, me.user, Channel.API)
    proposal = service.visible_proposal(session, proposal_id, me)
    return next(c for c in discussion.thread(session, proposal, me) if c.id == comment.id)
