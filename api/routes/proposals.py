"""Proposals: create, list, read, edit, fire triggers, history, checks."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, status

from api.deps import CurrentUser, ReadSessionDep, SessionDep
from workflow import queries, service
from workflow.machine import State
from workflow.models import (
    MAX_ID,
    AuditEntryPublic,
    AvailableAction,
    Channel,
    PrescreenCheck,
    ProposalCreate,
    ProposalPage,
    ProposalPublic,
    ProposalUpdate,
    TriggerRequest,
)

ProposalId = Annotated[int, Path(ge=1, le=MAX_ID)]
router = APIRouter(prefix="/api/proposals", tags=["proposals"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad credentials"},
    403: {"description": "Not allowed"},
    404: {"description": "Unknown proposal or action"},
    409: {"description": "Not possible in the proposal's state, or stale version"},
    422: {"description": "Invalid input or an unmet requirement"},
}


@router.post("", status_code=status.HTTP_201_CREATED, responses=ERRORS)
def create_proposal(
    body: ProposalCreate, session: SessionDep, reader: ReadSessionDep, me: CurrentUser
) -> ProposalPublic:
    proposal = service.create_proposal(session, body, me.user, Channel.API)
    return queries.present(reader, [proposal])[0]


@router.get("", responses=ERRORS)
def list_proposals(
    session: ReadSessionDep,
    me: CurrentUser,
    state: State | None = None,
    department: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,32}$")] = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> ProposalPage:
    return queries.list_proposals(
        session, me, state=state.value if state else None, department=department, mine=mine,
        limit=limit, cursor=cursor,
    )


@router.get("/{proposal_id}", responses=ERRORS)
def get_proposal(
    proposal_id: ProposalId, session: ReadSessionDep, me: CurrentUser
) -> ProposalPublic:
    proposal = service.visible_proposal(session, proposal_id, me)
    return queries.present(session, [proposal])[0]


@router.patch("/{proposal_id}", responses=ERRORS)
def edit_proposal(
    proposal_id: ProposalId, body: ProposalUpdate, session: SessionDep, reader: ReadSessionDep,
    me: CurrentUser,
) -> ProposalPublic:
    proposal = service.edit_proposal(session, proposal_id, body, me.user, Channel.API)
    return queries.present(reader, [proposal])[0]


@router.get("/{proposal_id}/actions", responses=ERRORS)
def available_actions(
    proposal_id: ProposalId, session: ReadSessionDep, me: CurrentUser
) -> list[AvailableAction]:
    proposal = service.visible_proposal(session, proposal_id, me)
    return service.available_triggers(session, proposal, me)


@router.get("/{proposal_id}/checks", responses=ERRORS)
def prescreen_checks(
    proposal_id: ProposalId, session: ReadSessionDep, me: CurrentUser
) -> list[PrescreenCheck]:
    proposal = service.visible_proposal(session, proposal_id, me)
    return [
        PrescreenCheck(code=c.code, severity=c.severity.value, message=c.message, field=c.field)
        for c in service.checks_for(session, proposal)
    ]


@router.get("/{proposal_id}/history", responses=ERRORS)
def proposal_history(
    proposal_id: ProposalId, session: ReadSessionDep, me: CurrentUser
) -> list[AuditEntryPublic]:
    service.visible_proposal(session, proposal_id, me)
    return queries.history(session, proposal_id)


@router.post("/{proposal_id}/{trigger}", responses=ERRORS)
def fire_trigger(
    proposal_id: ProposalId,
    trigger: str,
    session: SessionDep,
    reader: ReadSessionDep,
    me: CurrentUser,
    body: Annotated[TriggerRequest | None, Body()] = None,
) -> ProposalPublic:
    body = body or TriggerRequest()
    proposal = service.apply(
        session, proposal_id, trigger, me.user, Channel.API, comment=body.comment,
        version=body.version, grants=me,
    )
    return queries.present(reader, [proposal])[0]
