"""What a lead who replies from their phone sees: the comment the submitter gets (without the
lead's signature), an answer that agrees with itself and threads into the proposal's
conversation, and plain words when a reply was not understood or came too late."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from plumbing.settings import Settings
from tests.conftest import SMTPServer, World
from tests.notifications.conftest import SECRET, drain
from tests.notifications.test_email_actions import reply, state_of, submitted
from tests.notifications.test_events import thread_root
from workflow.audit import AuditEntry

# Outlook on the web: the person's words, their unmarked signature, then the quoted original.
OUTLOOK_WEB = ("{words}\n\nLead Person\nDepartment Lead | Computer Science\n520-555-0143\n"
               "________________________________\nFrom: Micro-credentials "
               "<microcred@localhost>\nSent: Friday, December 4, 2026 9:14 AM\nTo: Lead\n"
               "Subject: Approval needed\n\nApprove it, or return it with a comment.\n")


def answers_to(server: SMTPServer, before: int, to: str) -> list[tuple[str, str, str]]:
    """(subject, plain text, References) of the answers sent to `to` since `before`."""
    found = []
    for mail in server.received[before:]:
        if mail.recipients == [to]:
            body = mail.message.get_body(("plain",))
            assert body is not None
            found.append((str(mail.message["Subject"]), body.get_content().replace("\r\n", "\n"),
                          str(mail.message["References"])))
    return found


def test_a_returning_reply_stores_the_comment_without_the_signature_and_answers_in_kind(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    app_client: TestClient,
) -> None:
    proposal, request = submitted(world, engine, mail_settings, smtp_server)
    lead = world.lead.email

    def send(words: str) -> str:
        answer = app_client.post("/api/inbound-email", content=reply(
            request, lead, OUTLOOK_WEB.format(words=words)),
            headers={"X-Inbound-Secret": SECRET})
        return str(answer.json()["status"])

    before = len(smtp_server.received)
    assert send("Looks good to me") == "help"
    assert state_of(engine, proposal.id or 0) == "department_review"
    assert send("Returning: please add the employer letters") == "done"
    assert state_of(engine, proposal.id or 0) == "returned"
    assert send("Approve") == "refused"
    drain(engine, mail_settings)

    with Session(engine) as session:
        returned = session.exec(select(AuditEntry).where(AuditEntry.action == "return")).one()
    assert returned.detail["comment"] == "please add the employer letters"

    (help_subject, helped, _), (done_subject, done, refs), (late_subject, late, _) = answers_to(
        smtp_server, before, lead)
    assert help_subject.startswith("Reply not understood: ")
    assert 'We read the first line of your reply as "Looks good to me"' in helped
    assert 'To return: start with "return", "returning", "send back"' in helped
    assert 'To reject: start with "reject"' in helped  # a lead may reject

    assert done_subject.startswith("Done: ")
    assert "It is now in returned for changes." in done
    assert "Your comment, as the submitter will see it:\nplease add the employer letters" in done
    assert "Stage:         returned for changes" in done
    assert "520-555-0143" not in done and "Department Lead" not in done
    assert refs.split()[0] == thread_root(proposal)  # in the proposal's conversation

    assert late_subject.startswith("Not done: ")
    assert "already returned by Lead (lead@arizona.edu) on" in late
    assert "it is now in returned for changes" in late
    assert "link" not in late and "UTC" not in late
    assert "MST" in late  # the office's zone, America/Phoenix, named

    # What the submitter reads: the comment alone.
    to_owner = [m for m in smtp_server.received[before:] if m.recipients == [world.owner.email]]
    text = to_owner[0].message.get_body(("plain",)).get_content()
    assert "please add the employer letters" in text and "520-555-0143" not in text
