"""The rubric scoring page: criteria by levels, a comment per criterion, the running result."""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.deps import ReadSessionDep, SessionDep, SettingsDep
from api.web import CsrfChecked, WebUser, render, see_other
from workflow import service
from workflow.audit import Channel
from workflow.errors import NotFound, Unprocessable
from workflow.fields import MAX_ID
from workflow.reviews import reviewing, rubrics, visibility
from workflow.reviews.models import Review, ReviewSubmission

router = APIRouter(include_in_schema=False)
ProposalId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/proposals/{proposal_id}/review", response_class=HTMLResponse)
def review_page(request: Request, proposal_id: ProposalId, session: ReadSessionDep,
                me: WebUser, settings: SettingsDep) -> HTMLResponse:
    proposal = service.visible_proposal(session, proposal_id, me)
    if proposal.rubric_key is None:
        raise NotFound("this proposal has not reached rubric review")
    rubric = rubrics.rubric_version(session, proposal.rubric_key, proposal.rubric_version)
    rows = reviewing.round_reviews(session, proposal_id, proposal.review_round)
    mine: Review | None = next((r for r in rows if r.reviewer_id == me.user.id), None)
    blind = visibility.Blind(session, me, proposal)
    others = []
    for row in rows:
        shown = blind.review(row.reviewer_id, proposal.review_round)
        # Without scores, a review with no comments has nothing to show this reader.
        if shown is not None and row.reviewer_id != me.user.id and (
                shown.scores or row.comments):
            others.append((shown.reviewer, {
                "scores": row.scores if shown.scores else {},
                "comments": row.comments if shown.comments else {}}))
    return render(request, "review.html", p=proposal, rubric=rubric, mine=mine, others=others,
                  may_score=reviewing.scoring_refusal(session, me, proposal, settings) is None,
                  result=reviewing.result_of(session, proposal)
                  if blind.result_visible(proposal.review_round) else None)


@router.post("/proposals/{proposal_id}/review", dependencies=[CsrfChecked])
async def save_review(request: Request, proposal_id: ProposalId, session: SessionDep,
                      me: WebUser, settings: SettingsDep) -> Response:
    form = await request.form()
    scores = {key[len("score-"):]: value for key, value in form.items()
              if key.startswith("score-") and isinstance(value, str)}
    comments = {key[len("comment-"):]: value for key, value in form.items()
                if key.startswith("comment-") and isinstance(value, str)}
    try:
        submission = ReviewSubmission(scores=scores, comments=comments)
    except ValidationError as error:
        raise Unprocessable([{"msg": e["msg"]} for e in error.errors()]) from error
    reviewing.save_review(session, proposal_id, submission, me.user, Channel.WEB, settings)
    return see_other(f"/proposals/{proposal_id}/review?done=review_saved")
