"""Routing by level: the rules file, checked at start-up, and the copies it makes."""

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.app import create_app
from notifications import routing
from notifications.expand import expand_pending
from notifications.models import OutboxMessage
from notifications.routing import RoutingError
from plumbing.settings import Settings
from tests.conftest import World, force_state
from tests.workflow.test_badges import png
from workflow.credentials import badges
from workflow.events import Event


def rules_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "routing.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(("text", "says"), [
    ("rules:\n  - events: [published]\n    to: [provost]\n", "rule 1 sends to provost"),
    ("rules:\n  - events: [reminder]\n    to: [department_leads]\n",
     "rules cannot copy the event(s) reminder"),
    ("addresses:\n  registrar: {email: 'not an address', name: Registrar}\n",
     "addresses.registrar.email"),
    ("rules:\n  - events: [published]\n    when: {level: [doctoral]}\n    to: [unit_contact]\n",
     "rules.0.when.level.0"),
    ("rules:\n  - events: [published]\n    to: [unit_contact]\n    cc: [x]\n", "rules.0.cc"),
    ("rules: [unclosed\n", "cannot read the routing rules"),
])
def test_a_rules_file_that_cannot_be_used_is_refused_naming_the_file_and_the_problem(
        tmp_path: Path, text: str, says: str) -> None:
    path = rules_file(tmp_path, text)
    with pytest.raises(RoutingError) as refused:
        routing.load(path)
    assert str(refused.value).startswith(path) and says in str(refused.value)


def test_the_service_does_not_start_with_a_broken_rules_file(
        tmp_path: Path, engine: Engine, settings: Settings) -> None:
    broken = settings.model_copy(update={"routing_file": rules_file(
        tmp_path, "rules:\n  - events: [published]\n    to: [nobody]\n")})
    with pytest.raises(RoutingError, match="nobody"):
        create_app(broken, engine)


def test_the_shipped_rules_copy_the_registrar_and_the_office_of_the_level(world: World) -> None:
    undergraduate = world.proposal("Undergraduate badge", level="undergraduate")
    graduate = world.proposal("Graduate badge", level="graduate",
                              prerequisites=["A bachelor's degree"])
    professional = world.proposal("Professional badge", level="professional")

    def copied(proposal: object) -> dict[str, str]:
        return {r.email: r.note for r in routing.copies(world.session, Event.PUBLISHED,
                                                        proposal, world.settings)}  # type: ignore[arg-type]

    assert set(copied(undergraduate)) == {"registrar@arizona.edu", "undergrad@arizona.edu",
                                          world.lead.email}
    assert set(copied(graduate)) == {"registrar@arizona.edu", "gradcollege@arizona.edu",
                                     world.lead.email}
    assert set(copied(professional)) == {"registrar@arizona.edu", world.lead.email}
    # No contact for the unit in the file: its leads are asked to update its offering site.
    assert "offering site" in copied(professional)[world.lead.email]
    assert routing.copies(world.session, Event.SUBMITTED, professional, world.settings) == []


def test_an_office_file_routes_by_department_and_credit_and_names_the_unit_contact(
        tmp_path: Path, world: World) -> None:
    path = rules_file(tmp_path, """
addresses:
  provost: {email: provost@arizona.edu, name: Provost}
unit_contacts:
  CS: {email: web@cs.arizona.edu, name: CS web team}
rules:
  - events: [department_approved, published]
    when: {department: [cs], credit_bearing: true}
    to: [provost, unit_contact]
    note: Credit-bearing, from CS.
""")
    settings = world.settings.model_copy(update={"routing_file": path})
    credit = world.proposal("Credit badge", credit_bearing=True, credits=9)
    hours = world.proposal("Hours badge", credit_bearing=False, credits=None, hours=20)
    assert {r.email for r in routing.copies(world.session, Event.PUBLISHED, credit,
                                            settings)} == {"provost@arizona.edu",
                                                           "web@cs.arizona.edu"}
    assert routing.copies(world.session, Event.PUBLISHED, hours, settings) == []


def test_a_lead_already_told_gets_the_rules_note_in_the_same_one_message(
        engine: Engine, world: World) -> None:
    proposal = world.proposal(level="undergraduate")
    force_state(engine, proposal.id or 0, "design_review")
    badges.save_design(world.session, proposal.id or 0, badges.DesignUpload(
        image=png(400, 400), criteria_narrative="Do the work", alt_text="A badge"),
        world.owner.user, "api")
    world.fire(proposal, "approve", world.coordinator)
    expand_pending(engine, world.settings)
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).where(
            col(OutboxMessage.event).in_(["published", "routed"]))).all()
    by_recipient = {(r.recipient, r.event) for r in rows}
    assert (world.lead.email, "published") in by_recipient
    assert (world.lead.email, "routed") not in by_recipient
    lead_mail = next(r for r in rows if r.recipient == world.lead.email)
    assert "offering site" in lead_mail.body_text and "offering site" in lead_mail.body_html
    assert {r.recipient for r in rows if r.event == "routed"} == {
        "registrar@arizona.edu", "undergrad@arizona.edu"}
