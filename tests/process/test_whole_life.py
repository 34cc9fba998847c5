"""The whole life: from a draft through a meeting's agenda and decision to publication, with
the routing copies delivered to a real SMTP server, then awarded to learners whose signed
credentials an independent Open Badges 3.0 verifier checks; meetings, comments, attachments
and awards in the audit chain, which `microcred audit verify` still passes."""

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from openbadgeslib.ob3 import OB3VerificationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.app import create_app
from api.cli import main
from notifications.expand import expand_pending
from plumbing.database import get_engine
from plumbing.settings import Settings, get_settings
from tests.awards.conftest import LEARNERS, ORIGIN, verify
from tests.conftest import SMTPServer, World
from tests.credentials.conftest import upload
from tests.notifications.conftest import drain
from tests.process.conftest import meeting_in, pass_rubric, to_rubric_review
from tests.process.test_attachments import PDF
from workflow import queries
from workflow.audit import AuditEntry
from workflow.fields import as_utc, utcnow


def delivered(engine: Engine, settings: Settings, server: SMTPServer) -> dict[str, list]:  # type: ignore[type-arg]
    before = len(server.received)
    expand_pending(engine, settings)
    drain(engine, settings)
    mails: dict[str, list] = {}  # type: ignore[type-arg]
    for mail in server.received[before:]:
        mails.setdefault(mail.recipients[0], []).append(mail.message)
    return mails


def audit_verify_command(engine: Engine, capsys: pytest.CaptureFixture[str],
                         monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """`microcred audit verify` against this test's database: its exit code and output."""
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("MICROCRED_DATABASE_URL", url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        code = main(["audit", "verify"])
        return code, capsys.readouterr().out
    finally:
        get_engine(url).dispose()
        get_settings.cache_clear()
        get_engine.cache_clear()


def test_a_draft_goes_through_a_meeting_to_publication_is_awarded_and_its_awards_verify(
        engine: Engine, world: World, settings: Settings, smtp_server: SMTPServer,
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The service at https://testserver, so its issuer is did:web:testserver.
    mail_settings = smtp_server.settings(settings).model_copy(update={
        "base_url": ORIGIN, "signing_key_file": str(tmp_path / "signing.pem")})
    client = TestClient(create_app(mail_settings, engine), base_url=ORIGIN)
    coordinator, owner, lead = (world.coordinator.headers, world.owner.headers,
                                world.lead.headers)
    starts = (utcnow() + timedelta(days=10)).replace(microsecond=0)
    meeting = client.post("/api/meetings", headers=coordinator, json={
        "starts_at": starts.isoformat(), "title": "January review committee",
        "location": "Administration 501"}).json()

    created = client.post("/api/proposals", headers=owner, json={
        "title": "Applied Data Storytelling", "department": "CS", "level": "undergraduate",
        "summary": "Tell stories with data.", "credit_bearing": True, "credits": 9,
        "modality": "online", "target_audience": "Juniors and seniors",
        "learning_outcomes": ["Analyze a data set", "Communicate findings to a lay audience",
                              "Evaluate a visualization"],
        "competencies": ["communication"], "requirements": "Three courses",
        "assessment": "A capstone", "evidence": "The capstone", "workforce_need": "High"})
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    assert client.post(f"/api/proposals/{pid}/attachments", headers=owner,
                       data={"purpose": "letter_of_support"},
                       files={"file": ("support.pdf", PDF, "application/pdf")}
                       ).status_code == 201
    assert client.post(f"/api/proposals/{pid}/submit", headers=owner).status_code == 200
    assert client.post(f"/api/proposals/{pid}/approve", headers=lead).status_code == 200
    assert client.get(f"/api/proposals/{pid}/meeting", headers=owner).json()["id"] == meeting[
        "id"]
    assert client.post(f"/api/proposals/{pid}/reviewers", headers=coordinator,
                       json={"reviewers": [world.reviewer.email]}).status_code == 200
    assert client.post(f"/api/proposals/{pid}/comments", headers=world.reviewer.headers,
                       json={"body": f"@{world.coordinator.email} the employer letter is thin",
                             "private": True}).status_code == 201
    assert client.post(f"/api/proposals/{pid}/comments", headers=owner,
                       json={"body": "The support letter is attached."}).status_code == 201
    delivered(engine, mail_settings, smtp_server)

    # The agenda and its invitation reach the reviewer.
    sent = client.post(f"/api/meetings/{meeting['id']}/agenda-email", headers=coordinator)
    assert sent.status_code == 202 and sent.json()["queued"] == 2
    mails = delivered(engine, mail_settings, smtp_server)
    [agenda_mail] = mails[world.reviewer.email]
    assert "January review committee" in agenda_mail["Subject"]
    html = agenda_mail.get_body(("html",)).get_content()
    assert "Applied Data Storytelling" in html and "Reviews are due by the meeting" in html
    # The time in the office's zone, named (America/Phoenix by default), never in UTC.
    text = agenda_mail.get_body(("plain",)).get_content()
    assert " MST" in text and "UTC" not in text and "UTC" not in html
    [invite] = [part for part in agenda_mail.iter_attachments()
                if part.get_content_type() == "text/calendar"]
    assert invite.get_filename() == "meeting.ics" and invite.get_param("method") == "REQUEST"
    calendar = Calendar.from_ical(invite.get_content())
    [event] = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "REQUEST"
    assert as_utc(event.decoded("DTSTART")) == starts
    assert str(event["LOCATION"]) == "Administration 501"
    attendees = event.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert f"mailto:{world.reviewer.email}" in [str(a) for a in attendees]

    # The meeting decides from its agenda, through the door.
    proposal = queries.read_proposal(world.session, pid)
    assert proposal is not None
    pass_rubric(world, proposal)
    decided = client.post(f"/api/meetings/{meeting['id']}/decisions", headers=coordinator,
                          json={"proposal_id": pid, "decision": "approve"})
    assert decided.status_code == 200 and decided.json()["state"] == "design_review"
    assert upload(client, pid, world.owner).status_code == 200
    published = client.post(f"/api/proposals/{pid}/approve", headers=coordinator)
    assert published.json()["state"] == "published"

    mails = delivered(engine, mail_settings, smtp_server)
    for office in ("registrar@arizona.edu", "undergrad@arizona.edu"):
        [copy] = mails[office]
        assert copy["Subject"] == "Published: Applied Data Storytelling"
        assert "You are copied on this" in copy.get_body(("plain",)).get_content()
    [lead_mail] = [m for m in mails[world.lead.email] if m["Subject"].startswith("Published")]
    assert "update your unit's offering site" in lead_mail.get_body(("plain",)).get_content()

    # The department awards it to three learners; one award is revoked.
    catalog = client.get("/api/credentials", params={"limit": 200}).json()["items"]
    [credential] = [c for c in catalog if c["proposal_id"] == pid]
    awarded = client.post(f"/api/credentials/{credential['id']}/awards", headers=lead,
                          json={"recipients": LEARNERS})
    assert awarded.status_code == 201, awarded.text
    awards = awarded.json()
    mails = delivered(engine, mail_settings, smtp_server)
    for learner, made in zip(LEARNERS, awards, strict=True):
        [letter] = mails[learner["email"]]
        assert f"{ORIGIN}/awards/{made['id']}" in letter.get_body(("plain",)).get_content()
    revoked = client.post(f"/api/awards/{awards[2]['id']}/revoke", headers=coordinator,
                          json={"reason": "Awarded by mistake: did not finish the capstone"})
    assert revoked.status_code == 200

    # An independently written verifier: two valid, one revoked.
    documents = [client.get(f"/api/awards/{made['id']}/credential").text for made in awards]
    for document in documents[:2]:
        assert verify(client, document) is not None
    with pytest.raises(OB3VerificationError, match="revocation"):
        verify(client, documents[2])

    with Session(engine) as session:
        entries = session.exec(select(AuditEntry).order_by(col(AuditEntry.seq))).all()
    actions = [e.action for e in entries if e.proposal_id == pid]
    [approve] = [e for e in entries if e.proposal_id == pid and e.action == "approve"
                 and e.to_state == "design_review"]
    assert approve.detail["meeting_id"] == meeting["id"]
    assert "schedule_meeting" in {e.action for e in entries}
    for action in ("attach", "place_on_agenda", "comment", "private_note", "approve"):
        assert action in actions
    assert actions.count("award") == 3 and actions.count("revoke_award") == 1
    code, out = audit_verify_command(engine, capsys, monkeypatch)
    assert code == 0 and out.startswith("audit chain intact")


def test_audit_verify_passes_over_meetings_comments_and_attachments(
        engine: Engine, world: World, client: TestClient, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    meeting_in(world, 10)
    proposal = to_rubric_review(world)
    pid = proposal.id
    assert client.post(f"/api/proposals/{pid}/comments", headers=world.owner.headers,
                       json={"body": "Thank you all"}).status_code == 201
    assert client.post(f"/api/proposals/{pid}/attachments", headers=world.owner.headers,
                       files={"file": ("syllabus.pdf", PDF, "application/pdf")}
                       ).status_code == 201
    with Session(engine) as session:
        actions = {e.action for e in session.exec(select(AuditEntry)).all()}
    assert {"schedule_meeting", "place_on_agenda", "comment", "attach"} <= actions
    code, out = audit_verify_command(engine, capsys, monkeypatch)
    assert code == 0 and out.startswith("audit chain intact")
