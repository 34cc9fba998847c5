"""The door: a complete lifecycle, versions, refusals and what they leave behind."""

import pytest
from sqlmodel import Session, col, func, select

from tests.conftest import World
from workflow import audit, service
from workflow.audit import AuditEntry, Channel
from workflow.errors import Conflict, Forbidden, UnknownTrigger, Unprocessable
from workflow.proposals.models import Proposal


def audit_count(session: Session, outcome: str | None = None) -> int:
    query = select(func.count()).select_from(AuditEntry)
    if outcome:
        query = query.where(AuditEntry.outcome == outcome)
    return session.exec(query).one()


def test_submit_approve_return_resubmit_goes_back_to_the_returning_stage(world: World) -> None:
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    world.fire(p, "approve", world.lead)
    p = world.fire(p, "return", world.coordinator, comment="Name the employer partners.")
    assert (p.state, p.returned_from) == ("returned", "rubric_review")
    p = world.fire(p, "resubmit", world.owner)
    assert p.state == "rubric_review"
    assert p.version == 5  # created at 1, then four transitions


def test_every_transition_is_one_audit_entry_and_the_chain_verifies(world: World) -> None:
    p = world.proposal()
    before = audit_count(world.session)
    world.fire(p, "submit", world.owner)
    world.fire(p, "approve", world.lead)
    entries = world.session.exec(
        select(AuditEntry).where(AuditEntry.proposal_id == p.id).order_by(col(AuditEntry.seq))
    ).all()
    assert audit_count(world.session) == before + 2
    assert [(e.action, e.from_state, e.to_state, e.role) for e in entries] == [
        ("create", None, "draft", "submitter"),
        ("submit", "draft", "department_review", "submitter"),
        ("approve", "department_review", "rubric_review", "department_lead"),
    ]
    assert audit.verify(world.session).ok


def test_stale_version_is_a_conflict_and_changes_nothing(world: World) -> None:
    p = world.proposal()
    with pytest.raises(Conflict, match="changed since you loaded it"):
        service.apply(world.session, p.id or 0, "submit", world.owner.user, Channel.API,
                      settings=world.settings, version=p.version + 1)
    world.session.expire_all()
    assert world.session.get(Proposal, p.id).state == "draft"


def test_refused_attempt_is_audited_and_changes_nothing_else(world: World) -> None:
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    accepted = audit_count(world.session, "accepted")
    with pytest.raises(Forbidden):
        world.fire(p, "approve", world.other_lead)
    world.session.expire_all()
    assert world.session.get(Proposal, p.id).state == "department_review"
    assert audit_count(world.session, "accepted") == accepted
    refusal = world.session.exec(
        select(AuditEntry).where(AuditEntry.outcome == "refused")).one()
    assert (refusal.actor_email, refusal.action, refusal.detail["status"]) == (
        "mathlead@arizona.edu", "approve", "Forbidden")
    assert audit.verify(world.session).ok


def test_return_without_a_comment_is_refused(world: World) -> None:
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    with pytest.raises(Unprocessable, match="comment is required"):
        world.fire(p, "return", world.lead, comment="   ")


def test_submit_with_prescreen_errors_names_them(world: World) -> None:
    p = world.proposal(summary="", learning_outcomes=[])
    with pytest.raises(Unprocessable) as refused:
        world.fire(p, "submit", world.owner)
    assert "Give a summary" in str(refused.value.detail)
    assert "learning outcome" in str(refused.value.detail)


def test_unknown_trigger_is_not_found(world: World) -> None:
    p = world.proposal()
    with pytest.raises(UnknownTrigger):
        world.fire(p, "publish_now", world.coordinator)


def test_rubric_approval_waits_for_a_passing_rubric(world: World) -> None:
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    world.fire(p, "approve", world.lead)
    with pytest.raises(Unprocessable, match="rubric result is not a pass"):
        world.fire(p, "approve", world.coordinator)


def test_lead_who_co_authors_cannot_approve_even_as_lead(world: World) -> None:
    p = service.create_proposal(
        world.session,
        __import__("api.demo", fromlist=["sample_proposal"]).sample_proposal(
            "Lead-authored", "CS", co_authors=[world.lead.email]),
        world.owner.user, Channel.API)
    world.fire(p, "submit", world.owner)
    with pytest.raises(Forbidden, match="separation of duties"):
        world.fire(p, "approve", world.lead)
