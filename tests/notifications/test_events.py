"""Every event of the matrix, delivered to a real SMTP server: recipients, subject, both parts,
threading headers, links, and a title that tries to inject a script."""

from datetime import UTC
from email.message import EmailMessage

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from plumbing.settings import Settings
from tests.conftest import ReceivedMail, SMTPServer, World, force_state
from tests.notifications.conftest import drain
from workflow import events
from workflow.events import Event
from workflow.fields import as_utc
from workflow.machine import State
from workflow.proposals.models import Proposal
from workflow.reviews import assignment, reviewing, rubrics
from workflow.reviews.models import ReviewSubmission

TITLE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
BASE = "http://127.0.0.1:8000"
OWNER, CO_AUTHOR, LEAD = "owner@arizona.edu", "coauthor@arizona.edu", "lead@arizona.edu"
OFFICE, REVIEWER = "badge@arizona.edu", "reviewer@arizona.edu"


def thread_root(proposal: Proposal) -> str:
    return f"<proposal-{proposal.id}.{int(as_utc(proposal.created_at).timestamp())}@localhost>"


def parts(mail: ReceivedMail) -> tuple[EmailMessage, str, str]:
    message = mail.message
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return message, text.get_content(), html.get_content()


def check(mail: ReceivedMail, proposal: Proposal, to: str, what: str,
          says: tuple[str, ...] = (), links: tuple[str, ...] = ()) -> None:
    """What every message about a proposal must be, plus what this one says and links to."""
    message, text, html = parts(mail)
    assert mail.recipients == [to]
    assert mail.envelope_from == "microcred@localhost"
    assert message["To"] == to
    assert message["Subject"] == f"{what}: {TITLE}"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].startswith(f"<p{proposal.id}.")
    assert message["In-Reply-To"] == message["References"] == thread_root(proposal)
    # The title as typed in the text part, escaped in the HTML part, never live markup.
    assert TITLE in text
    assert ESCAPED in html and "<script>" not in html
    proposal_link = f"{BASE}/proposals/{proposal.id}"
    assert proposal_link in text and f'href="{proposal_link}"' in html
    for words in says:
        assert words in text, words
    for link in links:
        assert link in text and f'href="{link}"' in html, link


def delivered(engine: Engine, settings: Settings, server: SMTPServer) -> dict[str, ReceivedMail]:
    """Send what is queued; answer this step's messages by recipient (each exactly once)."""
    before = len(server.received)
    drain(engine, settings)
    mails = server.received[before:]
    by_recipient = {m.recipients[0]: m for m in mails}
    assert len(by_recipient) == len(mails), [m.recipients for m in mails]
    return by_recipient


def pass_rubric(world: World, proposal: Proposal) -> None:
    rubric = rubrics.rubric_version(world.session, "microcredential")
    scores = {criterion.key: "exemplary" for criterion in rubric.criteria}
    for who in (world.coordinator, world.reviewer):
        reviewing.save_review(world.session, proposal.id or 0, ReviewSubmission(scores=scores),
                              who.user, "api", world.settings)


def test_a_proposal_lifecycle_mails_the_right_people(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer
) -> None:
    p = world.proposal(TITLE)
    pid = p.id or 0
    assert delivered(engine, mail_settings, smtp_server) == {}  # a draft mails nobody

    world.fire(p, "submit", world.owner)
    mails = delivered(engine, mail_settings, smtp_server)
    assert set(mails) == {LEAD, OWNER, CO_AUTHOR}  # not the other department's lead
    check(mails[LEAD], p, LEAD, "Approval needed",
          says=("Owner submitted", "your approval is needed", "Hello Lead,"))
    check(mails[OWNER], p, OWNER, "Submitted",
          says=("Your proposal", "Computer Science (CS)", "Credits:       9"))
    check(mails[CO_AUTHOR], p, CO_AUTHOR, "Submitted",
          says=("which you co-author",))

    world.fire(p, "return", world.lead, comment="Say <b>how</b> outcomes are assessed")
    mails = delivered(engine, mail_settings, smtp_server)
    assert set(mails) == {OWNER, CO_AUTHOR}
    for to in (OWNER, CO_AUTHOR):
        check(mails[to], p, to, "Returned from department review",
              says=("Lead returned", "from department review",
                    "Say <b>how</b> outcomes are assessed"),
              links=(f"{BASE}/proposals/{pid}/edit",))
        assert "Say &lt;b&gt;how&lt;/b&gt; outcomes" in parts(mails[to])[2]

    world.fire(p, "resubmit", world.owner)
    mails = delivered(engine, mail_settings, smtp_server)
    assert set(mails) == {LEAD, OWNER, CO_AUTHOR}
    check(mails[LEAD], p, LEAD, "Resubmitted, approval needed",
          says=("resubmitted", "back in department review"))
    check(mails[OWNER], p, OWNER, "Resubmitted")

    assignment.assign_reviewers(world.session, pid, [REVIEWER], world.coordinator.user, "api",
                                world.settings)
    mails = delivered(engine, mail_settings, smtp_server)
    assert set(mails) == {REVIEWER}
    check(mails[REVIEWER], p, REVIEWER, "Review requested",
          says=("Badge asked you to review",))
    # Assigning the same reviewer again tells nobody twice.
    assignment.assign_reviewers(world.session, pid, [REVIEWER], world.coordinator.user, "api",
                                world.settings)
    assert delivered(engine, mail_settings, smtp_server) == {}

    world.fire(p, "approve", world.lead)
    mails = delivered(engine, mail_settings, smtp_server)
    assert set(mails) == {OFFICE, REVIEWER, OWNER, CO_AUTHOR}
    check(mails[OFFICE], p, OFFICE, "Assign reviewers",
          says=("assign reviewers", "Assign reviewers: "),
          links=(f"{BASE}/proposals/{pid}#reviewers",))
    check(mails[REVIEWER], p, REVIEWER, "Review needed",
          says=("you are one of its reviewers", "Start the review: "),
          links=(f"{BASE}/proposals/{pid}/review",))
    for to in (OWNER, CO_AUTHOR):
        check(mails[to], p, to, "Department approved", says=("Good news",))

    pass_rubric(world, p)
    world.fire(p, "approve", world.coordinator)
    mails = delivered(engine, mail_settings, smtp_server)
    assert set(mails) == {OFFICE, OWNER, CO_AUTHOR}
    check(mails[OFFICE], p, OFFICE, "Badge design approval needed",
          says=("approving publishes the credential in the public catalog",
                "No badge design has been uploaded yet"),
          links=(f"{BASE}/proposals/{pid}/design",))
    for to in (OWNER, CO_AUTHOR):
        check(mails[to], p, to, "Passed rubric review")

    # Publishing needs the badge design (another feature): the door's event, applied directly.
    force_state(engine, pid, State.PUBLISHED.value)
    with Session(engine, expire_on_commit=False) as session:
        published = session.get(Proposal, pid)
        assert published is not None
        events.record(session, events.ProposalEvent(
            Event.PUBLISHED, pid, State.PUBLISHED, published.version,
            actor_id=world.coordinator.user.id))
        session.commit()
    mails = delivered(engine, mail_settings, smtp_server)
    # The shipped routing rules copy the registrar and, for this undergraduate credential,
    # Undergraduate Education (tests/process/test_routing.py). The badge office acted: its
    # own copy would only tell it what it did.
    copies = {"registrar@arizona.edu", "undergrad@arizona.edu"}
    assert set(mails) == {OWNER, CO_AUTHOR, LEAD} | copies
    for to in set(mails) - copies:
        check(mails[to], p, to, "Published", says=("is published",),
              links=(f"{BASE}/credentials/{pid}",))

    world.session.expire_all()
    world.fire(p, "retire", world.coordinator, comment="Replaced by the 2027 edition")
    mails = delivered(engine, mail_settings, smtp_server)
    assert set(mails) == {OWNER, CO_AUTHOR}
    for to in (OWNER, CO_AUTHOR):
        check(mails[to], p, to, "Retired", says=("Replaced by the 2027 edition",))

    ids = [m.message["Message-ID"] for m in smtp_server.received]
    assert len(ids) == len(set(ids)) == 23


@pytest.mark.parametrize(("trigger", "what"), [("reject", "Rejected"), ("withdraw", "Withdrawn")])
def test_reject_and_withdraw_tell_the_submitter_and_the_badge_office(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    trigger: str, what: str,
) -> None:
    p = world.proposal(TITLE)
    world.fire(p, "submit", world.owner)
    delivered(engine, mail_settings, smtp_server)
    who = world.lead if trigger == "reject" else world.owner
    world.fire(p, trigger, who, comment="Out of scope for <this> office")
    mails = delivered(engine, mail_settings, smtp_server)
    assert set(mails) == {OWNER, OFFICE}
    for to in mails:
        check(mails[to], p, to, what, says=("Out of scope for <this> office",))


def test_withdrawing_a_draft_mails_nobody(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer
) -> None:
    p = world.proposal(TITLE)
    world.fire(p, "withdraw", world.owner)
    assert delivered(engine, mail_settings, smtp_server) == {}


def test_a_lead_who_co_authors_gets_a_receipt_not_a_request(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer
) -> None:
    p = world.proposal(TITLE, co_authors=[LEAD])
    world.fire(p, "submit", world.owner)
    mails = delivered(engine, mail_settings, smtp_server)
    assert set(mails) == {OWNER, LEAD}
    check(mails[LEAD], p, LEAD, "Submitted",
          says=("which you co-author",))


def test_every_transition_of_the_table_is_an_event_or_deliberately_silent() -> None:
    from workflow.machine import TRANSITIONS

    silent = []
    for row in TRANSITIONS:
        for source in row.source:
            event = events.for_transition(row.trigger, source, row.dest)
            if event is None:
                silent.append((row.trigger, source.value))
            else:
                assert isinstance(event, Event)
    assert silent == [("withdraw", "draft")]


def test_the_thread_root_is_stable_for_a_proposal(world: World) -> None:
    p = world.proposal(TITLE)
    reloaded = world.session.get(Proposal, p.id)
    assert reloaded is not None
    assert thread_root(reloaded) == thread_root(p)
    assert as_utc(p.created_at).tzinfo is UTC
