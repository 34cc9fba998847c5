"""Proposals: create, list, read, edit, fire triggers, history, checks."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, status

from api import errors
from api.deps import CurrentUser, ReadSessionDep, SessionDep, SettingsDep
from workflow import queries, service
from workflow.audit import AuditEntryPublic, Channel
from workflow.fields import MAX_ID
from workflow.machine import State
from workflow.proposals.models import (
    AvailableAction,
    PrescreenCheck,
    ProposalCreate,
    ProposalPage,
    ProposalPublic,
    ProposalUpdate,
    TriggerRequest,
)
from workflow.reviews import visibility

ProposalId = Annotated[int, Path(ge=1, le=MAX_ID)]
router = APIRouter(prefix="/api/proposals", tags=["proposals"])


def _links(proposal_id: str, *, with_trigger: str | None = None) -> dict[str, Any]:
    """OpenAPI links from an answer naming a proposal to what a client does with it next."""
    one = "#/paths/~1api~1proposals~1{proposal_id}"
    targets = {
        "GetProposal": f"{one}/get", "EditProposal": f"{one}/patch",
        "ProposalActions": f"{one}~1actions/get", "ProposalChecks": f"{one}~1checks/get",
        "ProposalHistory": f"{one}~1history/get",
    }
    links: dict[str, Any] = {
        name: {"operationRef": ref, "parameters": {"proposal_id": proposal_id}}
        for name, ref in targets.items()
    }
    if with_trigger:
        links["FireTrigger"] = {
            "operationRef": f"{one}~1{{trigger}}/post",
            "parameters": {"proposal_id": proposal_id, "trigger": with_trigger},
        }
    return {"links": links}


# A proposal in the answer leads to reading, editing and firing; its actions lead to firing them.
PROPOSAL_LINKS = _links("$response.body#/id", with_trigger="submit")
ACTION_LINKS = _links("$request.path.proposal_id", with_trigger="$response.body#/0/trigger")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProposalPublic,
             responses={201: PROPOSAL_LINKS, **errors.responses(400, 401, 403, 422)})
def create_proposal(body: ProposalCreate, session: SessionDep, me: CurrentUser,
                    settings: SettingsDep) -> ProposalPublic:
    proposal = service.create_proposal(session, body, me.user, Channel.API, grants=me,
                                       settings=settings)
    return queries.to_public(proposal)


@router.get("", response_model=ProposalPage, responses=errors.responses(401, 422))
def list_proposals(
    session: ReadSessionDep,
    me: CurrentUser,
    state: State | None = None,
    department: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,32}$")] = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> ProposalPage:
    return queries.list_proposals(session, me, state=state.value if state else None,
                                  department=department, mine=mine, limit=limit, cursor=cursor)


@router.get("/{proposal_id}", response_model=ProposalPublic,
            responses=errors.responses(401, 404, 422))
def get_proposal(proposal_id: ProposalId, session: ReadSessionDep, me: CurrentUser
                 ) -> ProposalPublic:
    return queries.to_public(service.visible_proposal(session, proposal_id, me))


@router.patch("/{proposal_id}", response_model=ProposalPublic,
              responses={200: PROPOSAL_LINKS,
                         **errors.responses(400, 401, 403, 404, 409, 422)})
def edit_proposal(proposal_id: ProposalId, body: ProposalUpdate, session: SessionDep,
                  me: CurrentUser, settings: SettingsDep) -> ProposalPublic:
    proposal = service.edit_proposal(session, proposal_id, body, me.user, Channel.API,
                                     grants=me, settings=settings)
    return queries.to_public(proposal)


@router.get("/{proposal_id}/actions",
            responses={200: ACTION_LINKS, **errors.responses(401, 404, 422)})
def available_actions(proposal_id: ProposalId, session: ReadSessionDep, me: CurrentUser
                      ) -> list[AvailableAction]:
    proposal = service.visible_proposal(session, proposal_id, me)
    return service.available_triggers(session, proposal, me)


@router.get("/{proposal_id}/checks", responses=errors.responses(401, 404, 422))
def prescreen_checks(proposal_id: ProposalId, session: ReadSessionDep, me: CurrentUser
                     ) -> list[PrescreenCheck]:
    proposal = service.visible_proposal(session, proposal_id, me)
    return [
        PrescreenCheck(code=c.code, severity=c.severity.value, message=c.message, field=c.field)
        for c in service.checks_for(session, proposal)
    ]


@router.get("/{proposal_id}/history", responses=errors.responses(401, 404, 422))
def proposal_history(proposal_id: ProposalId, session: ReadSessionDep, me: CurrentUser
                     ) -> list[AuditEntryPublic]:
    proposal = service.visible_proposal(session, proposal_id, me)
    return visibility.history(session, me, proposal)


# Last in the app: `{trigger}` would otherwise take the other routes' POSTs under a proposal
# (`/reviewers`); an unknown trigger is the door's 404.
@router.post("/{proposal_id}/{trigger}", response_model=ProposalPublic,
             responses={200: _links("$response.body#/id"),
                        **errors.responses(400, 401, 403, 404, 409, 422,
                                           e404="Unknown proposal or trigger")})
def fire_trigger(
    proposal_id: ProposalId,
    trigger: str,
    session: SessionDep,
    me: CurrentUser,
    settings: SettingsDep,
    body: Annotated[TriggerRequest | None, Body()] = None,
) -> ProposalPublic:
    proposal = service.apply(session, proposal_id, trigger, me.user, Channel.API,
                             settings=settings, comment=body.comment if body else None,
                             version=body.version if body else None, grants=me)
    return queries.to_public(proposal)
