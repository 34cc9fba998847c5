"""Every (state, trigger, person) through the API, against an oracle written from the spec.

The oracle below is the spec's table restated by hand, not the product's table:
who may fire what from where, and which status each refusal gets.
"""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import func, select

from plumbing.database import read_session
from tests.conftest import World, force_state
from workflow.audit import AuditEntry
from workflow.proposals.models import Proposal

STATES = ["draft", "department_review", "rubric_review", "design_review", "published",
          "returned", "rejected", "withdrawn", "retired"]
TRIGGERS = ["submit", "approve", "return", "resubmit", "reject", "withdraw", "retire"]
PEOPLE = ["owner", "co_author", "colleague", "lead", "other_lead", "outsider", "coordinator",
          "reviewer", "admin"]

# (trigger, from state) -> (who fires it, destination) as SPEC section 2 says.
SPEC = {
    ("submit", "draft"): ("owner", "department_review"),
    ("approve", "department_review"): ("lead", "rubric_review"),
    ("approve", "rubric_review"): ("coordinator", "design_review"),
    ("approve", "design_review"): ("coordinator", "published"),
    ("return", "department_review"): ("lead", "returned"),
    ("return", "rubric_review"): ("coordinator", "returned"),
    ("return", "design_review"): ("coordinator", "returned"),
    ("resubmit", "returned"): ("owner", "<returned_from>"),
    ("reject", "department_review"): ("lead", "rejected"),
    ("reject", "rubric_review"): ("coordinator", "rejected"),
    **{("withdraw", s): ("owner", "withdrawn")
       for s in ("draft", "returned", "department_review", "rubric_review", "design_review")},
    ("retire", "published"): ("coordinator", "retired"),
}
NEEDS_COMMENT = {"return", "reject", "retire"}
# Requirements no proposal can meet before review and design data exist.
UNMET = {("approve", "rubric_review"), ("approve", "design_review")}


def expected(state: str, trigger: str, person: str) -> int:
    if state == "draft" and person not in ("owner", "co_author"):
        return 404
    if (trigger, state) not in SPEC:
        return 409
    if SPEC[(trigger, state)][0] == person:
        return 422 if (trigger, state) in UNMET else 200
    fires_elsewhere = any(who == person for (t, _), (who, _) in SPEC.items() if t == trigger)
    return 409 if fires_elsewhere else 403


def snapshot(engine: Engine, proposal_id: int) -> tuple[str, int, int, int]:
    with read_session(engine) as session:
        proposal = session.get(Proposal, proposal_id)
        assert proposal is not None
        counts = dict(session.exec(
            select(AuditEntry.outcome, func.count()).where(AuditEntry.proposal_id == proposal_id)
            .group_by(AuditEntry.outcome)).all())
        return proposal.state, proposal.version, counts.get("accepted", 0), counts.get(
            "refused", 0)


@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize("state", STATES)
def test_each_trigger_from_each_state_by_each_person(
    client: TestClient, world: World, engine: Engine, state: str, person: str
) -> None:
    actor = getattr(world, person)
    returned_from = ["department_review", "rubric_review", "design_review"] \
        if state == "returned" else [None]
    for trigger in TRIGGERS:
        for origin in returned_from:
            p = world.proposal()
            force_state(engine, p.id or 0, state, origin)
            before = snapshot(engine, p.id or 0)
            body = {"comment": "Please tighten the outcomes."} if trigger in NEEDS_COMMENT else {}
            response = client.post(f"/api/proposals/{p.id}/{trigger}", json=body,
                                   headers=actor.headers)
            case = f"{person} fires {trigger} on {state} (returned from {origin})"
            want = expected(state, trigger, person)
            assert response.status_code == want, f"{case}: {response.json()}"
            after = snapshot(engine, p.id or 0)
            if want == 200:
                destination = SPEC[(trigger, state)][1].replace("<returned_from>", origin or "")
                assert after == (destination, before[1] + 1, before[2] + 1, before[3]), case
                assert response.json()["state"] == destination, case
            else:
                assert after == (before[0], before[1], before[2], before[3] + 1), case


@pytest.mark.parametrize(("trigger", "state"), [
    ("return", "department_review"), ("reject", "department_review"),
    ("return", "rubric_review"), ("reject", "rubric_review"), ("return", "design_review"),
    ("retire", "published"),
])
@pytest.mark.parametrize("comment", [None, "", "   \n "])
def test_return_reject_retire_without_a_comment_are_422(
    client: TestClient, world: World, engine: Engine, trigger: str, state: str,
    comment: str | None
) -> None:
    p = world.proposal()
    force_state(engine, p.id or 0, state)
    approver = world.lead if state == "department_review" else world.coordinator
    before = snapshot(engine, p.id or 0)
    response = client.post(f"/api/proposals/{p.id}/{trigger}", json={"comment": comment},
                           headers=approver.headers)
    assert response.status_code == 422
    assert "comment is required" in response.json()["detail"]
    assert snapshot(engine, p.id or 0)[:3] == before[:3]


@pytest.mark.parametrize(("state", "trigger"), [
    ("department_review", "approve"), ("department_review", "return"),
    ("department_review", "reject"),
])
def test_lead_who_co_authors_cannot_act_as_approver(
    client: TestClient, world: World, engine: Engine, state: str, trigger: str
) -> None:
    p = world.proposal(co_authors=[world.lead.email])
    force_state(engine, p.id or 0, state)
    response = client.post(f"/api/proposals/{p.id}/{trigger}", json={"comment": "x"},
                           headers=world.lead.headers)
    assert response.status_code == 403
    assert "separation of duties" in response.json()["detail"]


@pytest.mark.parametrize(("state", "trigger"), [
    ("rubric_review", "approve"), ("rubric_review", "return"), ("rubric_review", "reject"),
    ("design_review", "approve"), ("design_review", "return"),
])
def test_coordinator_who_co_authors_cannot_act_as_approver(
    client: TestClient, world: World, engine: Engine, state: str, trigger: str
) -> None:
    p = world.proposal(co_authors=[world.coordinator.email])
    force_state(engine, p.id or 0, state)
    response = client.post(f"/api/proposals/{p.id}/{trigger}", json={"comment": "x"},
                           headers=world.coordinator.headers)
    assert response.status_code == 403
    assert "separation of duties" in response.json()["detail"]


def test_coordinator_may_retire_a_credential_they_co_authored(
    client: TestClient, world: World, engine: Engine
) -> None:
    # Separation of duties covers approve, return and reject only (SPEC section 2).
    p = world.proposal(co_authors=[world.coordinator.email])
    force_state(engine, p.id or 0, "published")
    response = client.post(f"/api/proposals/{p.id}/retire", json={"comment": "Superseded."},
                           headers=world.coordinator.headers)
    assert (response.status_code, response.json()["state"]) == (200, "retired")


def test_lead_of_other_department_cannot_approve(client: TestClient, world: World) -> None:
    p = world.fire(world.proposal(), "submit", world.owner)
    response = client.post(f"/api/proposals/{p.id}/approve", headers=world.other_lead.headers)
    assert response.status_code == 403
