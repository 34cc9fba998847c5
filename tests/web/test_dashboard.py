"""My tasks, the overview's figures and the diff since a return, read from the database."""

from sqlalchemy import Engine, text
from sqlmodel import Session

from tests.conftest import World
from workflow import dashboard, queries, service
from workflow.access import grants_of
from workflow.audit import Channel
from workflow.proposals.models import ProposalUpdate


def age_audit(engine: Engine, days: float) -> None:
    """Move every audit entry `days` into the past (the chain is append-only, so around it)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(f"UPDATE audit_entry SET at = at - interval '{days} days'"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_entry_no_update"))
            conn.execute(text("UPDATE audit_entry SET at = datetime(at, :shift)"),
                         {"shift": f"-{days} days"})


def test_tasks_wait_for_the_right_people_and_overdue_is_marked(
    world: World, engine: Engine
) -> None:
    first, second = world.proposal("First Credential"), world.proposal("Second Credential")
    world.fire(first, "submit", world.owner)
    age_audit(engine, 10)
    world.fire(second, "submit", world.owner)
    with Session(engine) as session:
        lead_tasks = dashboard.my_tasks(session, grants_of(session, world.lead.user), 7)
        assert [(t.title, t.overdue) for t in lead_tasks] == [
            ("First Credential", True), ("Second Credential", False)]
        other = dashboard.my_tasks(session, grants_of(session, world.other_lead.user), 7)
        assert other == []
        owner = dashboard.my_tasks(session, grants_of(session, world.owner.user), 7)
        assert owner == []


def test_the_overview_counts_states_and_median_days(world: World, engine: Engine) -> None:
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    age_audit(engine, 4)
    world.fire(p, "approve", world.lead)
    with Session(engine) as session:
        summary = dashboard.overview(session, 7)
    assert summary.counts["rubric_review"] == 1 and summary.counts["draft"] == 0
    assert summary.median_days["department_review"] == 4.0
    assert summary.median_days["rubric_review"] is None
    assert summary.overdue == []


def test_the_diff_since_return_shows_first_before_and_last_after(world: World) -> None:
    p = world.proposal(summary="Old summary")
    world.fire(p, "submit", world.owner)
    world.fire(p, "return", world.lead, comment="Shorter, please.")
    for summary in ("Middle summary", "New summary"):
        service.edit_proposal(world.session, p.id or 0, ProposalUpdate(summary=summary),
                              world.owner.user, Channel.WEB)
    changes = dashboard.changes_since_return(queries.history(world.session, p.id or 0))
    assert changes == {"summary": {"before": "Old summary", "after": "New summary"}}

