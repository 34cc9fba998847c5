"""The process pages: the calendar, an agenda and its printable version, deciding from the
agenda, and the proposal page's meeting, attachments and discussion; the overview's parts."""

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from tests.conftest import Person, World
from tests.process.conftest import meeting_in, pass_rubric, past_meeting, to_rubric_review
from tests.process.test_attachments import PDF
from tests.web.conftest import Browser
from workflow.fields import utcnow
from workflow.meetings.models import AgendaItem, Meeting

MakeBrowser = Callable[[Person | None], Browser]


def test_the_coordinator_schedules_a_meeting_and_reviewers_read_its_agenda(
        world: World, browser: MakeBrowser, engine: Engine) -> None:
    office = browser(world.coordinator)
    assert "Schedule a meeting" in office.get("/meetings").text
    day = (utcnow() + timedelta(days=20)).date().isoformat()
    made = office.post("/meetings", {"title": "February committee", "day": day,
                                     "clock": "14:00", "zone": "America/Phoenix",
                                     "duration_minutes": "60", "location": "Old Main 101"})
    assert made.status_code == 303
    with Session(engine) as session:
        meeting = session.exec(select(Meeting)).one()
    assert meeting.starts_at.hour == 21  # 14:00 in Phoenix is 21:00 UTC
    proposal = to_rubric_review(world)
    reviewer = browser(world.reviewer)
    calendar = reviewer.get("/meetings").text
    assert "February committee" in calendar and "Schedule a meeting" not in calendar
    page = reviewer.get(f"/meetings/{meeting.id}").text
    assert proposal.title in page and "Record the decision" not in page
    assert "Printable agenda" in page
    printable = reviewer.get(f"/meetings/{meeting.id}/print")
    assert printable.status_code == 200 and proposal.title in printable.text
    assert "/static/print.css" in printable.text and "<nav" not in printable.text
    ics = reviewer.get(f"/meetings/{meeting.id}/invitation.ics")
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics.text
    assert browser(world.owner).post("/meetings", {"day": day, "clock": "10:00"}
                                     ).status_code == 403


def test_the_coordinator_decides_from_the_agenda(world: World, browser: MakeBrowser,
                                                  engine: Engine) -> None:
    meeting = meeting_in(world, 10)
    proposal = to_rubric_review(world)
    pass_rubric(world, proposal)
    office = browser(world.coordinator)
    page = office.get(f"/meetings/{meeting.id}").text
    assert "Record the decision" in page and "reviewer@arizona.edu: scored" in page
    done = office.post(f"/meetings/{meeting.id}/decisions", {
        "proposal_id": proposal.id, "decision": "approve", "version": proposal.version},
        follow=True)
    assert done.status_code == 200 and "Done: approve" in done.text
    with Session(engine) as session:
        item = session.exec(select(AgendaItem)).one()
    assert item.decision == "approve"
    refused = office.post(f"/meetings/{meeting.id}/decisions", {
        "proposal_id": proposal.id, "decision": "reject", "comment": "late"})
    assert refused.status_code == 409


def test_the_proposal_page_shows_its_meeting_files_and_discussion(
        world: World, browser: MakeBrowser) -> None:
    first, second = meeting_in(world, 10, "March committee"), meeting_in(world, 40, "April")
    proposal = to_rubric_review(world)
    owner = browser(world.owner)
    page = owner.get(f"/proposals/{proposal.id}").text
    assert "March committee" in page and "Move to" not in page
    attached = owner.post(f"/proposals/{proposal.id}/attachments", {"purpose": "syllabus"},
                          files={"file": ("syllabus.pdf", PDF, "application/pdf")})
    assert attached.status_code == 303, attached.text
    said = owner.post(f"/proposals/{proposal.id}/comments",
                      {"body": f"Thanks, @{world.lead.email}"}, follow=True)
    assert said.status_code == 200
    assert "syllabus.pdf" in said.text and f"Thanks, @{world.lead.email}" in said.text
    assert "Private note" not in said.text
    download = owner.get(f"/proposals/{proposal.id}/attachments/1")
    assert download.content == PDF
    assert download.headers["content-disposition"].startswith("attachment;")
    office = browser(world.coordinator)
    assert "Move to" in office.get(f"/proposals/{proposal.id}").text
    moved = office.post(f"/proposals/{proposal.id}/meeting", {"meeting_id": second.id},
                        follow=True)
    assert "April" in moved.text.split("Committee meeting")[1][:400]
    reviewer = browser(world.reviewer)
    assert "Private note" in reviewer.get(f"/proposals/{proposal.id}").text
    assert first.id != second.id


def test_the_overview_shows_decision_times_and_credentials_due_for_review(
        world: World, browser: MakeBrowser, engine: Engine,
        publish: Callable[..., dict]) -> None:  # type: ignore[type-arg]
    from sqlalchemy import text

    past_meeting(engine, world, utcnow() - timedelta(days=30))
    credential = publish()
    with engine.begin() as conn:
        conn.execute(text("UPDATE credential SET published_at = :at"),
                     {"at": utcnow() - timedelta(days=3 * 365 - 5)})
    office = browser(world.coordinator)
    page = office.get("/overview").text
    assert "Decisions within 14 days of the meeting" in page and "Past committee" in page
    assert "Credentials due for review" in page and credential["title"] in page
    renewed = office.post(f"/credentials/{credential['id']}/renew", {"comment": "Current"},
                          follow=True)
    assert "Done: credential renewed" in renewed.text
    assert "No credential is due for review" in renewed.text
