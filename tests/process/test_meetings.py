"""Committee meetings: placement on entering rubric review, moving, deciding, deferring."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import col, select

from tests.conftest import Person, World
from tests.process.conftest import meeting_in, pass_rubric, past_meeting, to_rubric_review
from workflow import audit
from workflow.access import grants_of
from workflow.audit import AuditEntry, Channel
from workflow.errors import Conflict, Forbidden
from workflow.fields import utcnow
from workflow.meetings import agenda, decisions, schedule
from workflow.meetings.models import AgendaItem, Decision, DecisionRequest


def entries(world: World, proposal_id: int, action: str) -> list[AuditEntry]:
    return list(world.session.exec(select(AuditEntry).where(
        AuditEntry.proposal_id == proposal_id, AuditEntry.action == action)
        .order_by(col(AuditEntry.seq))).all())


def test_entering_rubric_review_puts_the_proposal_on_the_next_meeting_a_week_away(
        world: World) -> None:
    too_soon = meeting_in(world, 3)
    next_one = meeting_in(world, 10)
    meeting_in(world, 40)
    proposal = to_rubric_review(world)
    placed = agenda.placement(world.session, proposal.id or 0)
    assert placed is not None and placed[0].id == next_one.id != too_soon.id
    [entry] = entries(world, proposal.id or 0, "place_on_agenda")
    assert entry.detail["meeting_id"] == next_one.id
    assert audit.verify(world.session).ok


def test_with_no_meeting_far_enough_it_waits_and_goes_on_the_next_meeting_added(
        world: World) -> None:
    meeting_in(world, 2)
    proposal = to_rubric_review(world)
    assert agenda.placement(world.session, proposal.id or 0) is None
    added = meeting_in(world, 21)
    placed = agenda.placement(world.session, proposal.id or 0)
    assert placed is not None and placed[0].id == added.id


def test_the_coordinator_moves_a_proposal_to_another_meeting_and_others_cannot(
        world: World) -> None:
    first, later = meeting_in(world, 10), meeting_in(world, 40)
    proposal = to_rubric_review(world)
    with pytest.raises(Forbidden):
        schedule.move(world.session, proposal.id or 0, later.id or 0, world.lead.user,
                      Channel.API)
    schedule.move(world.session, proposal.id or 0, later.id or 0, world.coordinator.user,
                  Channel.API)
    placed = agenda.placement(world.session, proposal.id or 0)
    assert placed is not None and placed[0].id == later.id
    [refused] = [e for e in entries(world, proposal.id or 0, "move_on_agenda")
                 if e.outcome == "refused"]
    [moved] = [e for e in entries(world, proposal.id or 0, "move_on_agenda")
               if e.outcome == "accepted"]
    assert refused.actor_email == world.lead.email
    assert moved.detail["from_meeting_id"] == first.id and moved.detail["meeting_id"] == later.id


def test_a_decision_at_the_meeting_goes_through_the_door_in_one_audit_entry(
        world: World) -> None:
    meeting = meeting_in(world, 10)
    proposal = to_rubric_review(world)
    pass_rubric(world, proposal)
    before = audit.verify(world.session).entries
    moved = decisions.decide(world.session, meeting.id or 0, DecisionRequest(
        proposal_id=proposal.id or 0, decision=Decision.APPROVE), world.coordinator.user,
        Channel.WEB, settings=world.settings)
    assert moved.state == "design_review"
    assert audit.verify(world.session).entries == before + 1
    [entry] = entries(world, proposal.id or 0, "approve")[-1:]
    assert entry.to_state == "design_review" and entry.detail["meeting_id"] == meeting.id
    item = world.session.exec(select(AgendaItem).where(
        AgendaItem.proposal_id == proposal.id)).one()
    assert item.decision == "approve" and item.decided_by_id == world.coordinator.user.id


def test_returning_from_the_agenda_needs_a_comment_and_rejecting_ends_the_item(
        world: World) -> None:
    meeting = meeting_in(world, 10)
    proposal = to_rubric_review(world)
    with pytest.raises(Exception, match="comment is required"):
        decisions.decide(world.session, meeting.id or 0, DecisionRequest(
            proposal_id=proposal.id or 0, decision=Decision.RETURN), world.coordinator.user,
            Channel.WEB, settings=world.settings)
    assert agenda.placement(world.session, proposal.id or 0) is not None
    decisions.decide(world.session, meeting.id or 0, DecisionRequest(
        proposal_id=proposal.id or 0, decision=Decision.REJECT, comment="Not a fit"),
        world.coordinator.user, Channel.WEB, settings=world.settings)
    assert agenda.placement(world.session, proposal.id or 0) is None


def test_deferring_moves_it_to_the_next_meeting_without_a_state_change(world: World) -> None:
    this, following = meeting_in(world, 10), meeting_in(world, 40)
    proposal = to_rubric_review(world)
    version = proposal.version
    decisions.decide(world.session, this.id or 0, DecisionRequest(
        proposal_id=proposal.id or 0, decision=Decision.DEFER, comment="Need employer data"),
        world.coordinator.user, Channel.WEB, settings=world.settings)
    placed = agenda.placement(world.session, proposal.id or 0)
    assert placed is not None and placed[0].id == following.id
    [entry] = entries(world, proposal.id or 0, "defer")
    assert entry.from_state == entry.to_state == "rubric_review"
    assert entry.version == version
    assert entry.detail == {"meeting_id": this.id, "to_meeting_id": following.id,
                            "comment": "Need employer data"}
    shown = agenda.agenda(world.session, this.id or 0,
                          grants_of(world.session, world.coordinator.user), world.settings)
    assert [e.decision for e in shown.agenda] == ["defer"]


def test_a_decision_for_a_proposal_on_another_meeting_is_refused_and_audited(
        world: World) -> None:
    this, other = meeting_in(world, 10), meeting_in(world, 40)
    proposal = to_rubric_review(world)
    with pytest.raises(Conflict):
        decisions.decide(world.session, other.id or 0, DecisionRequest(
            proposal_id=proposal.id or 0, decision=Decision.REJECT, comment="no"),
            world.coordinator.user, Channel.WEB, settings=world.settings)
    [refused] = entries(world, proposal.id or 0, "reject")
    assert refused.outcome == "refused" and refused.detail["meeting_id"] == other.id
    assert this.id != other.id


def test_the_agenda_shows_aggregates_reviewers_status_checks_and_hides_names_from_others(
        world: World) -> None:
    meeting = meeting_in(world, 10)
    proposal = to_rubric_review(world)
    pass_rubric(world, proposal)
    office = agenda.agenda(world.session, meeting.id or 0,
                           grants_of(world.session, world.coordinator.user), world.settings)
    [entry] = office.agenda
    assert entry.aggregate is not None and entry.aggregate["passed"] is True
    assert entry.reviews_in == 2 and entry.reviewers_assigned == 1
    assert [(r.reviewer, r.scored) for r in entry.reviewers] == [(world.reviewer.email, True)]
    assert all(set(c) == {"code", "severity", "message", "field"} for c in entry.checks)
    owner_view = agenda.agenda(world.session, meeting.id or 0,
                               grants_of(world.session, world.owner.user), world.settings)
    assert owner_view.agenda[0].reviewers == [] and owner_view.agenda[0].reviews_in == 2
    assert office.reviews_due == office.starts_at
    assert office.decisions_due == office.starts_at + timedelta(days=14)


def test_the_agenda_keeps_the_round_result_from_the_authors_until_the_meeting_decides(
        world: World) -> None:
    """The blind-review rule: the aggregate is for those who see the round's scores until the
    coordinator decides the round; then everyone who reads the proposal sees it."""
    meeting = meeting_in(world, 10)
    proposal = to_rubric_review(world)
    pass_rubric(world, proposal)

    def aggregate_for(who: Person) -> object:
        [entry] = agenda.agenda(world.session, meeting.id or 0,
                                grants_of(world.session, who.user), world.settings).agenda
        return entry.aggregate

    assert aggregate_for(world.owner) is None and aggregate_for(world.lead) is None
    assert aggregate_for(world.reviewer) is not None
    decisions.decide(world.session, meeting.id or 0, DecisionRequest(
        proposal_id=proposal.id or 0, decision=Decision.APPROVE), world.coordinator.user,
        Channel.WEB, settings=world.settings)
    world.session.expire_all()
    assert aggregate_for(world.owner) is not None


def test_the_overview_tells_decisions_within_two_weeks_from_late_and_overdue(
        engine: Engine, world: World) -> None:
    recent = past_meeting(engine, world, utcnow() - timedelta(days=3))
    old = past_meeting(engine, world, utcnow() - timedelta(days=30))
    first = to_rubric_review(world, title="First proposal")
    second = to_rubric_review(world, title="Second proposal")
    world.session.add(AgendaItem(meeting_id=recent.id or 0, proposal_id=first.id or 0,
                                 review_round=1))
    world.session.add(AgendaItem(meeting_id=old.id or 0, proposal_id=second.id or 0,
                                 review_round=1))
    world.session.commit()
    world.fire(first, "reject", world.coordinator, comment="Duplicates another")
    rows = {row.meeting_id: row for row in agenda.timeliness(world.session, world.settings)}
    assert (rows[recent.id or 0].on_time, rows[recent.id or 0].all_on_time) == (1, True)
    assert rows[old.id or 0].overdue == 1 and not rows[old.id or 0].all_on_time


def test_the_meetings_api(client: TestClient, world: World) -> None:
    starts = (utcnow() + timedelta(days=12)).replace(microsecond=0)
    made = client.post("/api/meetings", headers=world.coordinator.headers,
                       json={"starts_at": starts.isoformat(), "location": "Old Main 101"})
    assert made.status_code == 201, made.text
    meeting_id = made.json()["id"]
    assert client.post("/api/meetings", headers=world.owner.headers,
                       json={"starts_at": starts.isoformat()}).status_code == 403
    naive = client.post("/api/meetings", headers=world.coordinator.headers,
                        json={"starts_at": "2031-01-01T10:00:00"})
    assert naive.status_code == 422 and naive.json()["detail"][0]["loc"] == ["body",
                                                                               "starts_at"]
    past = client.post("/api/meetings", headers=world.coordinator.headers,
                       json={"starts_at": "2001-01-01T10:00:00Z"})
    assert past.status_code == 422
    proposal = to_rubric_review(world)
    listed = client.get("/api/meetings", headers=world.reviewer.headers).json()
    assert [m["id"] for m in listed] == [meeting_id] and listed[0]["items"] == 1
    one = client.get(f"/api/meetings/{meeting_id}", headers=world.reviewer.headers)
    assert one.status_code == 200 and one.json()["agenda"][0]["proposal_id"] == proposal.id
    assert client.get("/api/meetings/999", headers=world.owner.headers).status_code == 404
    decided = client.post(f"/api/meetings/{meeting_id}/decisions",
                          headers=world.coordinator.headers,
                          json={"proposal_id": proposal.id, "decision": "return",
                                "comment": "Add an assessment rubric"})
    assert decided.status_code == 200 and decided.json()["state"] == "returned"
    where = client.get(f"/api/proposals/{proposal.id}/meeting", headers=world.owner.headers)
    assert where.status_code == 200 and where.json() is None


@pytest.mark.parametrize("location", ["Old Main 101\nBcc: everyone@arizona.edu", "x" * 501])
def test_a_meeting_place_is_one_line_that_fits_or_a_422_naming_it(
        client: TestClient, world: World, location: str) -> None:
    starts = (utcnow() + timedelta(days=12)).replace(microsecond=0)
    refused = client.post("/api/meetings", headers=world.coordinator.headers,
                          json={"starts_at": starts.isoformat(), "location": location})
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "location"]
    assert client.get("/api/meetings", headers=world.coordinator.headers).json() == []
