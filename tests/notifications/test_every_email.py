"""Every kind of email of a whole lifecycle, as its recipient meets it: a short subject that
says what happened first, one primary action of at least 44 px on a 375 px phone, words not
stored values, no API paths or UTC times, links to where the action is done, and HTML that
html-validate finds nothing wrong with."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from notifications import reminders
from notifications.audit_checkpoint import send_checkpoint
from notifications.models import EmailPreference, OutboxMessage
from notifications.rendering import render
from notifications.sign_in import send_sign_in_link
from plumbing.settings import Settings
from tests.conftest import IN_CI, SMTPServer, World, force_state, sample_proposal
from tests.emails.htmlvalidate import lint
from tests.notifications.conftest import SECRET, drain
from tests.notifications.test_email_actions import OUTLOOK, reply
from tests.notifications.test_events import pass_rubric
from workflow import events, service
from workflow.audit import Channel
from workflow.audit_checkpoint import take
from workflow.events import Event
from workflow.fields import utcnow
from workflow.machine import State
from workflow.reviews import assignment

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "emails"
TITLE = "Applied Data Analytics for Community Health Program Evaluation and Outcomes"
RAW_VALUES = re.compile(r"\b(?:department_review|rubric_review|design_review|non_degree|"
                        r"in_person|returned_from)\b")
UTC_TIME = re.compile(r"\bUTC\b|\d{4}-\d\d-\d\d[T ]\d\d:\d\d")


def everything(world: World, engine: Engine, settings: Settings, server: SMTPServer,
               client: TestClient) -> list[OutboxMessage]:
    """Walk proposals through every event; answer every message queued, in order."""
    p = world.proposal(TITLE)
    pid = p.id or 0
    world.fire(p, "submit", world.owner)
    drain(engine, settings)
    request = next(m.message for m in server.received if m.recipients == [world.lead.email])
    # Replies: one not understood, one acted on, one too late.
    for words in ("Looks good", "Returning: please add the employer letters",
                  "Approve"):
        client.post("/api/inbound-email", content=reply(request, world.lead.email,
                                                        OUTLOOK.format(words=words)),
                    headers={"X-Inbound-Secret": SECRET})
    world.session.expire_all()
    world.fire(p, "resubmit", world.owner)
    drain(engine, settings)
    assignment.assign_reviewers(world.session, pid, [world.reviewer.email],
                                world.coordinator.user, "api", world.settings)
    drain(engine, settings)
    world.fire(p, "approve", world.lead)
    drain(engine, settings)
    pass_rubric(world, p)
    world.fire(p, "approve", world.coordinator)
    drain(engine, settings)
    world.fire(p, "return", world.coordinator, comment="The badge image needs alt text.")
    drain(engine, settings)
    world.fire(p, "resubmit", world.owner)
    drain(engine, settings)
    force_state(engine, pid, State.PUBLISHED.value)
    with Session(engine, expire_on_commit=False) as session:
        events.record(session, events.ProposalEvent(Event.PUBLISHED, pid, State.PUBLISHED,
                                                    p.version + 1,
                                                    actor_id=world.coordinator.user.id))
        session.commit()
    world.session.expire_all()
    world.fire(p, "retire", world.coordinator, comment="Replaced by the 2027 edition.")

    drain(engine, settings)
    rejected = world.fire(world.proposal("Soil Science"), "submit", world.owner)
    world.fire(rejected, "reject", world.lead, comment="Out of scope for this office.")
    withdrawn = world.fire(world.proposal("Cloud Basics"), "submit", world.owner)
    world.fire(withdrawn, "withdraw", world.owner)
    waiting = world.fire(world.proposal("Data Ethics", co_authors=["new.person@arizona.edu"]),
                         "submit", world.owner)
    world.fire(world.proposal("Cloud Basics for Researchers"), "submit", world.owner)
    # One proposal waits for the other department's lead: a single reminder, with its links.
    maths = service.create_proposal(world.session, sample_proposal("Number Sense", "MATH"),
                                    world.outsider.user, Channel.API)
    world.fire(maths, "submit", world.outsider)
    drain(engine, settings)
    assert waiting.id
    lead_id, owner, admin = world.lead.user.id or 0, world.owner.email, world.admin.email
    world.session.rollback()  # the test's own session holds no lock while the scheduler runs
    later = (utcnow() + timedelta(days=15)).replace(hour=12)
    with Session(engine) as session:
        reminders.run(session, settings.model_copy(update={"digest_hour": 23}), later)
        session.add(EmailPreference(user_id=lead_id, daily_digest=True))
        session.commit()
        reminders.run(session, settings.model_copy(update={"digest_hour": 0}),
                      later + timedelta(days=1))
        send_sign_in_link(session, owner, settings)
        send_checkpoint(session, take(session, b"k" * 32, "microcred"), admin, settings)
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


# Where each kind's primary action leads, by the subject's first words.
LEADS_TO = {
    "Approval needed": r"/actions/[a-z2-7]{32}\?do=approve$",
    "Resubmitted, approval needed": r"/actions/[a-z2-7]{32}\?do=approve$|/design$",
    "Reminder, waiting for you": r"/actions/[a-z2-7]{32}\?do=approve$",
    "Assign reviewers": r"/proposals/\d+#reviewers$",
    "Review needed": r"/proposals/\d+/review$",
    "Review requested": r"/proposals/\d+(?:/review)?$",  # the review opens in rubric review
    "Badge design approval needed": r"/proposals/\d+/design$",
    "Returned": r"/proposals/\d+/(?:edit|design)$",
    "Your sign-in link": r"/sign-in/\S+$",
    "Daily digest": r"/proposals$",
    "Reminder": r"/proposals$",
    "Co-author invitation": r"/sign-in$",
    "Awarded to you": r"/awards/\S+$",
}


def kind(message: OutboxMessage) -> str:
    return message.subject.split(":")[0]


@contextmanager
def phone() -> Iterator[Any]:
    """A 375 px phone's mail view: no scripts, remote content blocked (nothing loads)."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"CI=true but {CHROMIUM} is missing: .ci/run installs it")
        pytest.skip(f"no {CHROMIUM} here; under CI this fails")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--headless"])
        context = browser.new_context(viewport={"width": 375, "height": 740},
                                      java_script_enabled=False)
        context.route("**/*", lambda route: route.abort())
        yield context.new_page()
        browser.close()


def test_every_email_reads_well_on_a_phone_and_leads_to_its_action(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    app_client: TestClient, tmp_path: Path,
) -> None:
    settings = mail_settings.model_copy(update={"inbound_require_auth": False})
    mails = everything(world, engine, settings, smtp_server, app_client)
    award = render("awarded", "Awarded to you: Data Ethics", {
        "recipient": {"name": "Ana Lopez"},
        "award": {"title": "Data Ethics", "issuer": "University of Arizona",
                  "department": "Computer Science", "url": "http://127.0.0.1:8000/awards/x1",
                  "awarder": "Badge", "expires": "4 December 2029"}})
    mails.append(OutboxMessage(event="awarded", recipient="ana@example.com",
                               subject=award.subject, body_text=award.text,
                               body_html=award.html, message_id="<a@x>"))
    kinds = {kind(m) for m in mails}
    assert {"Approval needed", "Submitted", "Reply not understood", "Done", "Not done",
            "Returned from department review", "Returned from badge design review",
            "Resubmitted", "Resubmitted, approval needed", "Review requested",
            "Assign reviewers", "Review needed", "Department approved",
            "Badge design approval needed", "Passed rubric review", "Published", "Retired",
            "Rejected", "Withdrawn", "Reminder, waiting for you", "Reminder", "Overdue",
            "Daily digest",
            "Your sign-in link", "Audit checkpoint", "Co-author invitation",
            "Awarded to you"} <= kinds, kinds

    seen: dict[str, str] = {}
    for mail in mails:
        where = f"{mail.event} to {mail.recipient}: {mail.subject}"
        assert len(mail.subject) < 70, where
        assert not mail.subject.startswith(("[", TITLE[:20])), where
        for part in (mail.body_text, mail.body_html):
            assert not RAW_VALUES.search(part), (where, RAW_VALUES.search(part))
            assert "/api/" not in part, where
            if mail.event != "audit_checkpoint":  # its statement is for a machine
                assert not UTC_TIME.search(part), (where, UTC_TIME.search(part))
        # The text part stands alone, and opens with what to do, not a greeting.
        assert not mail.body_text.startswith("Hello"), where
        seen.setdefault(f"{mail.event}~{kind(mail)}~{mail.recipient.split('@')[0]}",
                        mail.body_html)

    problems = lint(seen, tmp_path)
    assert problems == {}, problems

    # After the mail is all sent: the browser's own event loop must not meet the sender's.
    SHOTS.mkdir(parents=True, exist_ok=True)
    with phone() as page:
        for name, html in seen.items():
            page.set_content(html)
            primary = page.locator("a.action.primary")
            if name.startswith("audit_checkpoint"):
                assert primary.count() == 0  # nothing to do but keep it
                continue
            assert primary.count() == 1, name
            box = primary.bounding_box()
            assert box is not None and box["height"] >= 44, (name, box)
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, name
            lead = primary.get_attribute("href") or ""
            pattern = next((p for k, p in LEADS_TO.items()
                            if name.split("~")[1].startswith(k)),
                           r"/(?:proposals|credentials)/\d+$")
            assert re.search(pattern, lead), (name, lead)
            shot = re.sub(r"[^\w.-]+", "-", name)
            page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
            # A client that drops inline styles still shows the actions one a line, apart.
            page.set_content(re.sub(r' style="[^"]*"', "", html))
            tops = [box["y"] for box in (a.bounding_box() for a in
                                         page.locator("a.action").all()) if box]
            gaps = [lower - upper for upper, lower in zip(tops, tops[1:], strict=False)]
            assert all(gap >= 17 for gap in gaps), (name, tops)
