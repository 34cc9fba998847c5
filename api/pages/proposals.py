"""My tasks, the proposal list, the proposal form and the proposal page."""

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from api.charts import state_diagram
from api.deps import ReadSessionDep, SessionDep, SettingsDep
from api.pages.designs import design_context
from api.pages.forms import COMPETENCIES, FIELDS, field_errors, form_values, shown_values
from api.pages.proposal_sections import sections
from api.web import CsrfChecked, WebUser, chosen_value, render, see_other, settings_of
from workflow import dashboard, queries, service
from workflow.access import Grants, can_edit, standing
from workflow.audit import Channel
from workflow.errors import Unprocessable
from workflow.fields import MAX_ID
from workflow.machine import State
from workflow.proposals.models import ProposalCreate, ProposalUpdate
from workflow.reviews import assignment, reviewing, visibility

router = APIRouter(include_in_schema=False)
ProposalId = Annotated[int, Path(ge=1, le=MAX_ID)]
Trigger = Annotated[str, Path(max_length=32)]


@router.get("/", response_class=HTMLResponse)
def my_tasks(request: Request, session: ReadSessionDep, me: WebUser) -> HTMLResponse:
    tasks = dashboard.my_tasks(session, me, settings_of(request).reminder_days)
    mine = queries.list_proposals(session, me, mine=True, limit=100).items
    return render(request, "tasks.html", tasks=tasks, mine=mine)


@router.get("/proposals", response_class=HTMLResponse)
def proposal_list(request: Request, session: ReadSessionDep, me: WebUser,
                  state: Annotated[str | None, Query(max_length=32)] = None,
                  department: Annotated[str | None, Query(max_length=16)] = None,
                  mine: bool = False, cursor: Annotated[str | None, Query(max_length=64)] = None,
                  ) -> HTMLResponse:
    state = chosen_value((s.value for s in State), state, "state")
    page = queries.list_proposals(session, me, state=state, department=department or None,
                                  mine=mine, limit=50, cursor=cursor)
    chosen = {"state": state or "", "department": department or "",
              "mine": "true" if mine else ""}
    following = urlencode({**{k: v for k, v in chosen.items() if v},
                           "cursor": page.next_cursor}) if page.next_cursor else None
    return render(request, "proposal_list.html", page=page, states=list(State),
                  departments=dashboard.all_departments(session), chosen=chosen,
                  following=following)


def _form(request: Request, session: Session, me: Grants, *, values: dict[str, Any],
          errors: dict[str, list[str]], proposal_id: int | None = None, version: int | None = None,
          status_code: int = 200) -> HTMLResponse:
    checks: dict[str, list[Any]] = {}
    if proposal_id is not None:
        proposal = service.visible_proposal(session, proposal_id, me)
        for check in service.checks_for(session, proposal):
            checks.setdefault(check.field or "", []).append(check)
    return render(request, "proposal_form.html", status_code=status_code, fields=FIELDS,
                  values=shown_values(values), errors=errors, checks=checks,
                  competencies=COMPETENCIES, departments=dashboard.member_departments(session, me),
                  proposal_id=proposal_id, version=version)


@router.get("/proposals/new", response_class=HTMLResponse)
def new_proposal(request: Request, session: ReadSessionDep, me: WebUser) -> HTMLResponse:
    return _form(request, session, me, values={}, errors={})


@router.post("/proposals/new", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def create_proposal(request: Request, session: SessionDep,
                          me: WebUser) -> Response:
    form = await request.form()
    values = form_values(form)
    department = form.get("department")
    try:
        data = ProposalCreate.model_validate({**values, "department": department})
        proposal = service.create_proposal(session, data, me.user, Channel.WEB,
                                           settings=settings_of(request))
    except ValidationError as error:
        return _form(request, session, me, values=values, errors=field_errors(error),
                     status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    except Unprocessable as error:
        return _form(request, session, me, values=values, errors=field_errors(
            error.detail if isinstance(error.detail, list) else [{"msg": error.detail}]),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return see_other(f"/proposals/{proposal.id}/edit?done=saved")


@router.get("/proposals/{proposal_id}/edit", response_class=HTMLResponse)
def edit_form(request: Request, proposal_id: ProposalId, session: ReadSessionDep,
              me: WebUser) -> HTMLResponse:
    proposal = queries.to_public(service.visible_proposal(session, proposal_id, me))
    return _form(request, session, me, values=proposal.model_dump(), errors={},
                 proposal_id=proposal_id, version=proposal.version)


@router.post("/proposals/{proposal_id}/edit", response_class=HTMLResponse,
             dependencies=[CsrfChecked])
async def save_edit(request: Request, proposal_id: ProposalId, session: SessionDep,
                    me: WebUser) -> Response:
    form = await request.form()
    values = form_values(form)
    version = form.get("version")
    try:
        changes = ProposalUpdate.model_validate({**values, "version": version or None})
        service.edit_proposal(session, proposal_id, changes, me.user, Channel.WEB,
                              settings=settings_of(request))
    except ValidationError as error:
        return _form(request, session, me, values=values, errors=field_errors(error),
                     proposal_id=proposal_id, version=int(version) if isinstance(
                         version, str) and version.isdigit() else None,
                     status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return see_other(f"/proposals/{proposal_id}/edit?done=saved")


@router.get("/proposals/{proposal_id}", response_class=HTMLResponse)
def proposal_page(request: Request, proposal_id: ProposalId, session: ReadSessionDep,
                  me: WebUser) -> HTMLResponse:
    proposal = service.visible_proposal(session, proposal_id, me)
    shown = queries.to_public(proposal)
    # The timeline shows reviews only as far as the blind-review rule lets this reader see.
    blind = visibility.Blind(session, me, proposal)
    history = blind.history(session, queries.history(session, proposal_id))
    nodes, edges = state_diagram(proposal.state)
    may_assign = assignment.assignment_refusal(me, proposal) is None
    return render(
        request, "proposal.html", p=shown, fields=FIELDS,
        values=shown_values(shown.model_dump()),
        actions=service.available_triggers(session, proposal, me),
        history=history, changes=dashboard.changes_since_return(history),
        nodes=nodes, edges=edges,
        may_edit=can_edit(standing(me, proposal), State(proposal.state)),
        reviewers=dashboard.active_reviewers(session) if may_assign else [],
        has_rubric=proposal.review_round > 0,
        result=reviewing.result_of(session, proposal)
        if blind.result_visible(proposal.review_round) else None,
        **design_context(request, session, proposal, me),
        **sections(session, proposal, me, settings_of(request)),
    )


@router.post("/proposals/{proposal_id}/actions/{trigger}", dependencies=[CsrfChecked])
def fire_trigger(
    proposal_id: ProposalId, trigger: Trigger, session: SessionDep, me: WebUser,
    settings: SettingsDep,
    comment: Annotated[str, Form(max_length=5000)] = "",
    version: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> Response:
    service.apply(session, proposal_id, trigger, me.user, Channel.WEB, settings=settings,
                  comment=comment or None, version=version, grants=me)
    return see_other(f"/proposals/{proposal_id}?done={trigger}")


@router.post("/proposals/{proposal_id}/reviewers", dependencies=[CsrfChecked])
def assign_reviewers(
    proposal_id: ProposalId, session: SessionDep, me: WebUser, settings: SettingsDep,
    reviewer: Annotated[list[str], Form(max_length=20)],
) -> Response:
    assignment.assign_reviewers(session, proposal_id, [r.strip().lower() for r in reviewer],
                                me.user, Channel.WEB, settings)
    return see_other(f"/proposals/{proposal_id}?done=reviewers_assigned")
