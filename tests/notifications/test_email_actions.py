"""Acting from the email: links and replies, end to end through a real SMTP server."""

import json
import logging
import re
import smtplib
import threading
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import make_msgid

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from api.app import create_app
from plumbing.settings import Settings
from tests.conftest import SMTPServer, World, serving
from tests.notifications.conftest import SECRET, drain
from workflow.accounts.models import Role, User
from workflow.accounts.service import add_user
from workflow.audit import AuditEntry
from workflow.proposals.models import Proposal


def state_of(engine: Engine, proposal_id: int) -> str:
    with Session(engine) as session:
        proposal = session.get(Proposal, proposal_id)
        assert proposal is not None
        return proposal.state


def refusals(engine: Engine) -> list[dict[str, object]]:
    with Session(engine) as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.action == "email_action",
                                                     AuditEntry.outcome == "refused")
                            .order_by(col(AuditEntry.seq))).all()
        return [r.detail for r in rows]


def submitted(world: World, engine: Engine, settings: Settings, server: SMTPServer
              ) -> tuple[Proposal, EmailMessage]:
    proposal = world.proposal()
    world.fire(proposal, "submit", world.owner)
    drain(engine, settings)
    mail = next(m for m in server.received if m.recipients == [world.lead.email])
    return proposal, mail.message


def link(message: EmailMessage, trigger: str) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(rf"http://\S+/actions/([a-z2-7]{{32}})\?do={trigger}", body.get_content())
    assert found, body.get_content()
    return found.group(0).split("8000", 1)[1]


def test_get_shows_and_changes_nothing_post_approves(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    app_client: TestClient,
) -> None:
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    html = message.get_body(("html",))
    assert html is not None and "/actions/" in html.get_content()
    assert message["Reply-To"].startswith("reply+")
    path = link(message, "approve")
    shown = app_client.get(path)
    assert shown.status_code == 200
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    assert "Applied Data Storytelling" in shown.text
    assert state_of(engine, proposal.id or 0) == "department_review"
    done = app_client.post(path, data={"do": "approve"})
    assert done.status_code == 200 and "Done" in done.text
    assert state_of(engine, proposal.id or 0) == "rubric_review"
    again = app_client.post(path, data={"do": "approve"})
    assert again.status_code == 410 and "already used" in again.text
    token = path.split("/")[2].split("?")[0]
    with Session(engine) as session:
        entries = session.exec(select(AuditEntry)).all()
        assert all(token not in str(e.detail) for e in entries)
        assert any(e.channel == "email_link" and e.action == "approve" for e in entries)


# The receiving server's Authentication-Results: it names itself by the trusted authserv-id
# (MICROCRED_INBOUND_AUTHSERV_ID, by default the reply domain, "localhost" in the tests).
AUTHSERV = "localhost"
PASSED = "dmarc=pass (p=reject) header.from=arizona.edu"


def reply(original: EmailMessage, sender: str, body: str, html: str | None = None,
          to: str | None = None, authentication: str | None = PASSED) -> bytes:
    """A reply as the lead's mail client writes it, received through a server that checked
    its sender (`authentication`: that server's results; None: no such header)."""
    message = EmailMessage()
    if authentication is not None:
        message["Authentication-Results"] = f"{AUTHSERV}; {authentication}"
    message["From"] = sender
    message["To"] = to or original["Reply-To"]
    message["Subject"] = "Re: " + original["Subject"]
    message["Message-ID"] = make_msgid(domain="mail.example")
    message["In-Reply-To"] = original["Message-ID"]
    message["References"] = f'{original["References"]} {original["Message-ID"]}'
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return bytes(message)


GMAIL = ("{words}\n\nOn Sat, Nov 28, 2026 at 6:03 PM Micro-credentials <\nmicrocred@localhost> "
         "wrote:\n\n> Hello,\n> approve it, return it to the submitter\n")
OUTLOOK = ("{words}\n\n________________________________\nFrom: Micro-credentials "
           "<microcred@localhost>\nSent: Saturday, November 28, 2026 6:03 PM\nTo: Lead\n"
           "Subject: submitted\n\napprove it, return it\n")
APPLE = ("{words}\n\nSent from my iPhone\n\n> On Nov 28, 2026, at 18:03, Micro-credentials "
         "<microcred@localhost> wrote:\n>\n> approve\n")
GMAIL_HTML = ('<div dir="ltr">{words}</div><br><div class="gmail_quote"><div class="gmail_attr">'
              "On Sat wrote:</div><blockquote>approve it</blockquote></div>")
OUTLOOK_HTML = ('<div>{words}</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg">'
                "<b>From:</b> x<br><b>Sent:</b> y</div><div>approve it</div>")
APPLE_HTML = ('<div>{words}<br><div><br><blockquote type="cite"><div>On Nov 28, wrote:</div>'
              "<div>approve</div></blockquote></div></div>")


@pytest.mark.parametrize("plain, html", [
    (GMAIL, None), (OUTLOOK, None), (APPLE, None),
    (GMAIL, GMAIL_HTML), (OUTLOOK, OUTLOOK_HTML), (APPLE, APPLE_HTML),
], ids=["gmail", "outlook", "apple", "gmail-html", "outlook-html", "apple-html"])
def test_replies_as_mail_clients_write_them(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    app_client: TestClient, plain: str, html: str | None,
) -> None:
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    # Only the quoted original says "approve": nothing happens, a helpful answer comes back.
    quoted_only = reply(message, world.lead.email, plain.format(words="Thanks!"),
                        html.format(words="Thanks!") if html else None)
    answer = app_client.post("/api/inbound-email", content=quoted_only,
                             headers={"X-Inbound-Secret": SECRET})
    assert answer.status_code == 202 and answer.json()["status"] == "help"
    assert state_of(engine, proposal.id or 0) == "department_review"
    words = "Return: please add a third learning outcome."
    returned = reply(message, world.lead.email, plain.format(words=words),
                     html.format(words=words) if html else None)
    answer = app_client.post("/api/inbound-email", content=returned,
                             headers={"X-Inbound-Secret": SECRET})
    assert answer.json()["status"] == "done"
    assert state_of(engine, proposal.id or 0) == "returned"
    before = len(smtp_server.received)
    drain(engine, mail_settings)
    answers = [m for m in smtp_server.received[before:] if m.recipients == [world.lead.email]]
    # The help answer to the first reply, then the confirmation; both from the null sender.
    assert [m.message["Subject"].split(": ")[0] for m in answers] == [
        "Reply not understood", "Done"]
    assert all(m.envelope_from == "<>" for m in answers)
    assert all(m.message["Auto-Submitted"] == "auto-replied" for m in answers)
    with Session(engine) as session:
        last = session.exec(select(AuditEntry).where(AuditEntry.action == "return")).one()
        assert last.detail["comment"] == "please add a third learning outcome."
        assert last.channel == "email_reply"


@pytest.mark.parametrize("attack", [
    "other_sender", "dmarc", "auto_submitted", "precedence", "empty_return_path",
    "bad_secret", "forged", "other_proposal",
])
def test_reply_attacks_change_nothing_and_are_audited(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    app_client: TestClient, attack: str,
) -> None:
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    sender = world.colleague.email if attack == "other_sender" else world.lead.email
    raw = reply(message, sender, "approve")
    secret = SECRET
    if attack == "dmarc":
        raw = reply(message, sender, "approve",
                    authentication="dmarc=fail header.from=arizona.edu")
    elif attack == "auto_submitted":
        raw = b"Auto-Submitted: auto-replied\r\n" + raw
    elif attack == "precedence":
        raw = b"Precedence: bulk\r\n" + raw
    elif attack == "empty_return_path":
        raw = b"Return-Path: <>\r\n" + raw
    elif attack == "bad_secret":
        secret = "guess"
    elif attack == "forged":
        raw = re.sub(rb"reply\+[a-z2-7]{32}@", b"reply+" + b"a" * 32 + b"@", raw)
    elif attack == "other_proposal":
        other = world.proposal("Another Credential")
        raw = raw.replace(f"<proposal-{proposal.id}.".encode(), f"<proposal-{other.id}.".encode())
        raw = raw.replace(f"<p{proposal.id}.".encode(), f"<p{other.id}.".encode())
    answer = app_client.post("/api/inbound-email", content=raw,
                             headers={"X-Inbound-Secret": secret})
    assert answer.status_code == (401 if attack == "bad_secret" else 202)
    assert state_of(engine, proposal.id or 0) == "department_review"
    reasons = [d["reason"] for d in refusals(engine)]
    expected = {"other_sender": "other_sender", "dmarc": "authentication_failed",
                "auto_submitted": "automatic", "precedence": "automatic",
                "empty_return_path": "automatic", "bad_secret": "bad_inbound_secret",
                "forged": "unknown", "other_proposal": "other_proposal"}[attack]
    assert reasons == [expected]


def test_link_refused_when_expired_or_proposal_moved_on(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    app_client: TestClient,
) -> None:
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    path = link(message, "approve")
    with engine.begin() as conn:
        conn.execute(text("UPDATE action_token SET expires_at = '2000-01-01 00:00:00+00:00'"))
    expired = app_client.post(path, data={"do": "approve"})
    assert expired.status_code == 410 and "expired" in expired.text
    with engine.begin() as conn:
        conn.execute(text("UPDATE action_token SET expires_at = '2100-01-01 00:00:00+00:00'"))
    world.fire(proposal, "return", world.lead, comment="from the website")
    moved = app_client.post(path, data={"do": "approve"})
    assert moved.status_code == 409
    assert "already returned by Lead (lead@arizona.edu)" in moved.text
    assert state_of(engine, proposal.id or 0) == "returned"
    assert [d["reason"] for d in refusals(engine)] == ["expired", "moved_on"]


# --- attacks on links, replies that must not act, and two approvers at once --------------------


def snapshot(engine: Engine, proposal_id: int) -> tuple[str, int, list[str]]:
    """The proposal's state, version and accepted audit entries, to compare before and after."""
    with Session(engine) as session:
        proposal = session.get(Proposal, proposal_id)
        assert proposal is not None
        trail = session.exec(select(AuditEntry.action).where(
            AuditEntry.proposal_id == proposal_id, AuditEntry.outcome == "accepted")
            .order_by(col(AuditEntry.seq))).all()
        return proposal.state, proposal.version, list(trail)


def answers_to(server: SMTPServer, address: str, since: int = 0) -> list[EmailMessage]:
    return [m.message for m in server.received[since:] if m.recipients == [address]]


def test_reused_link_is_refused_audited_and_changes_nothing(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    app_client: TestClient,
) -> None:
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    path = link(message, "approve")
    assert app_client.post(path, data={"do": "approve"}).status_code == 200
    after_first = snapshot(engine, proposal.id or 0)
    assert after_first[0] == "rubric_review"
    again = app_client.post(path, data={"do": "approve"})
    assert again.status_code == 410
    assert "already used" in again.text and "each email link works once" in again.text
    # The same token by reply, and the other button of the same email, are spent too.
    by_reply = app_client.post("/api/inbound-email", content=reply(message, world.lead.email,
                                                                   "approve"),
                               headers={"X-Inbound-Secret": SECRET})
    assert by_reply.json() == {"status": "refused", "reason": "used"}
    returned = app_client.post(link(message, "return"), data={"do": "return",
                                                               "comment": "second thoughts"})
    assert returned.status_code == 410
    assert snapshot(engine, proposal.id or 0) == after_first
    assert [d["reason"] for d in refusals(engine)] == ["used", "used", "used"]


def forwarded(original: EmailMessage, lead: str, reader: str) -> EmailMessage:
    """The lead forwards the email; Gmail keeps the original's headers in the body."""
    forward = EmailMessage()
    forward["From"] = lead
    forward["To"] = reader
    forward["Subject"] = "Fwd: " + original["Subject"]
    forward["Message-ID"] = make_msgid(domain="mail.example")
    forward["References"] = original["Message-ID"]
    body = original.get_body(("plain",))
    assert body is not None
    forward.set_content("Can you look at this one?\n\n---------- Forwarded message ---------\n"
                        f"From: {original['From']}\nReply-To: {original['Reply-To']}\n"
                        f"Subject: {original['Subject']}\n\n{body.get_content()}")
    return forward


@pytest.mark.parametrize("reader", ["colleague@arizona.edu", "someone@elsewhere.example"],
                         ids=["a-colleague", "a-stranger"])
def test_forwarded_email_answered_by_its_new_reader_changes_nothing(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    app_client: TestClient, reader: str,
) -> None:
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    before = snapshot(engine, proposal.id or 0)
    forward = forwarded(message, world.lead.email, reader)
    # The new reader answers the reply address the forwarded text shows them.
    answer = reply(forward, reader, "Approve\n\nOn Sat, Nov 28, 2026 at 6:03 PM Lead "
                   "<lead@arizona.edu> wrote:\n> Can you look at this one?\n",
                   to=message["Reply-To"])
    taken = app_client.post("/api/inbound-email", content=answer,
                            headers={"X-Inbound-Secret": SECRET})
    assert taken.json() == {"status": "refused", "reason": "other_sender"}
    assert snapshot(engine, proposal.id or 0) == before
    assert [d["reason"] for d in refusals(engine)] == ["other_sender"]
    sent = len(smtp_server.received)
    drain(engine, mail_settings)
    told = answers_to(smtp_server, reader, sent)
    if reader == world.colleague.email:
        # One of our users gets a polite refusal, with no link or address that could act.
        assert len(told) == 1
        text = told[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "only they can act on it" in text
        assert "/actions/" not in str(told[0]) and "reply+" not in str(told[0])
        assert told[0]["Reply-To"] is None
    else:
        # A stranger is told nothing at all (no backscatter to an address we do not know).
        assert told == []
    assert answers_to(smtp_server, world.lead.email, sent) == []


@pytest.mark.parametrize("tamper", [
    {"proposal": "other"}, {"proposal": "²"}, {"proposal": "-1"}, {"do": "resubmit"},
    {"do": "withdraw"},
], ids=["other-proposal", "superscript-digit", "negative-id", "resubmit", "withdraw"])
def test_link_tampered_to_act_elsewhere_changes_nothing(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    app_client: TestClient, tamper: dict[str, str],
) -> None:
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    other = world.proposal("Another Credential")
    world.fire(other, "submit", world.owner)
    before = snapshot(engine, proposal.id or 0), snapshot(engine, other.id or 0)
    path = link(message, "approve")
    form = {"do": "approve", "proposal": str(proposal.id)}
    form |= {name: str(other.id) if value == "other" else value for name, value in tamper.items()}
    tampered = app_client.post(path, data=form)
    assert 400 <= tampered.status_code < 500
    assert "Done" not in tampered.text and "nothing was done" in tampered.text.lower()
    assert (snapshot(engine, proposal.id or 0), snapshot(engine, other.id or 0)) == before
    assert len(refusals(engine)) == 1
    # The link still works for what it was sent for.
    assert app_client.post(path, data={"do": "approve"}).status_code == 200
    assert state_of(engine, proposal.id or 0) == "rubric_review"
    assert state_of(engine, other.id or 0) == "department_review"


@pytest.mark.parametrize("header", [
    b"X-Autoreply: yes", b"X-Autorespond: vacation", b"Auto-Submitted: auto-replied",
    b"Precedence: auto_reply", b"Return-Path: <>",
])
def test_automatic_replies_are_dropped_without_an_answer(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    app_client: TestClient, header: bytes,
) -> None:
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    before = snapshot(engine, proposal.id or 0)
    # An out-of-office robot that quotes the email, keyword and all.
    raw = header + b"\r\n" + reply(message, world.lead.email, "approve\n\nI am away.")
    taken = app_client.post("/api/inbound-email", content=raw,
                            headers={"X-Inbound-Secret": SECRET})
    assert taken.status_code == 202
    assert taken.json() == {"status": "dropped", "reason": "automatic"}
    assert snapshot(engine, proposal.id or 0) == before
    assert [d["reason"] for d in refusals(engine)] == ["automatic"]
    sent = len(smtp_server.received)
    drain(engine, mail_settings)
    assert smtp_server.received[sent:] == []


def lead_of_cs(world: World, email: str = "lead2@arizona.edu") -> User:
    return add_user(world.session, email, "Second Lead", [Role.DEPARTMENT_LEAD], "CS")


def test_a_burst_to_one_reply_address_is_rate_limited_others_are_not(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
) -> None:
    settings = mail_settings.model_copy(update={
        "inbound_secret": SecretStr(SECRET), "inbound_rate_limit": 3,
        "inbound_rate_window_seconds": 600})
    client = TestClient(create_app(settings, engine))
    second = lead_of_cs(world)
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    second_mail = next(m.message for m in smtp_server.received
                       if m.recipients == [second.email])

    def send(original: EmailMessage, sender: str, words: str) -> dict[str, str]:
        taken = client.post("/api/inbound-email", content=reply(original, sender, words),
                            headers={"X-Inbound-Secret": SECRET})
        assert taken.status_code == 202
        result: dict[str, str] = taken.json()
        return result

    burst = [send(message, world.lead.email, f"hello {n}") for n in range(3)]
    assert [b["reason"] for b in burst] == ["not_understood"] * 3
    # Beyond the limit even a real command is dropped unread, and nothing is answered.
    assert send(message, world.lead.email, "approve") == {
        "status": "dropped", "reason": "rate_limited"}
    assert send(message, world.lead.email, "hello again") == {
        "status": "dropped", "reason": "rate_limited"}
    assert state_of(engine, proposal.id or 0) == "department_review"
    # Another approver is not held back by the first one's burst.
    assert send(second_mail, second.email, "approve") == {"status": "done",
                                                          "reason": "approve"}
    assert state_of(engine, proposal.id or 0) == "rubric_review"
    # Drops over the limit leave one audit entry per source and window, not one each.
    assert [d["reason"] for d in refusals(engine)] == ["not_understood"] * 3 + [
        "rate_limited"]
    sent = len(smtp_server.received)
    drain(engine, mail_settings)
    assert len(answers_to(smtp_server, world.lead.email, sent)) == 3
    assert len(answers_to(smtp_server, second.email, sent)) == 1


def at_once(http: httpx.Client, channel: str, mails: dict[str, EmailMessage]
            ) -> dict[str, httpx.Response]:
    """Each addressee approves from their own email, by link or by reply, all at one moment."""
    start = threading.Barrier(len(mails))

    def approve(lead: str) -> tuple[str, httpx.Response]:
        start.wait()
        if channel == "link":
            return lead, http.post(link(mails[lead], "approve"), data={"do": "approve"})
        return lead, http.post("/api/inbound-email", headers={"X-Inbound-Secret": SECRET},
                               content=reply(mails[lead], lead, "Approved."))

    with ThreadPoolExecutor(len(mails)) as pool:
        return dict(pool.map(approve, mails))


@pytest.mark.parametrize("channel", ["link", "reply"])
def test_two_approvers_at_once_one_wins_the_other_is_told_who(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    channel: str,
) -> None:
    second = lead_of_cs(world)
    leads = {world.lead.email: world.lead.user.name, second.email: second.name}
    settings = mail_settings.model_copy(update={"inbound_secret": SecretStr(SECRET)})
    with serving(create_app(settings, engine)) as base, httpx.Client(base_url=base,
                                                                     timeout=60) as http:
        for round_ in range(3):
            proposal = world.proposal(f"Applied Data Storytelling {round_}")
            world.fire(proposal, "submit", world.owner)
            sent = len(smtp_server.received)
            drain(engine, mail_settings)
            mails = {m.recipients[0]: m.message for m in smtp_server.received[sent:]
                     if m.recipients[0] in leads}
            assert set(mails) == set(leads)
            results = at_once(http, channel, mails)
            if channel == "link":
                winners = [lead for lead, r in results.items() if r.status_code == 200]
            else:
                winners = [lead for lead, r in results.items() if r.json()["status"] == "done"]
            assert len(winners) == 1, {lead: r.text for lead, r in results.items()}
            winner, = winners
            loser, = set(leads) - {winner}
            told = f"already approved by {leads[winner]} ({winner}) on "
            if channel == "link":
                assert results[loser].status_code == 409
                assert told in results[loser].text
            else:
                assert results[loser].json() == {"status": "refused", "reason": "moved_on"}
                sent = len(smtp_server.received)
                drain(engine, mail_settings)
                answer, = answers_to(smtp_server, loser, sent)
                assert told in answer.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            state, version, trail = snapshot(engine, proposal.id or 0)
            assert (state, trail.count("approve")) == ("rubric_review", 1)
    assert [d["reason"] for d in refusals(engine)] == ["moved_on"] * 3


def send_to_listener(port: int, sender: str, recipient: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.sendmail(sender, [recipient], raw)


def test_reply_through_the_smtp_listener_approves_and_is_answered_from_the_null_sender(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    reply_listener: int,
) -> None:
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    # The listener is no relay: only reply addresses are taken.
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send_to_listener(reply_listener, world.lead.email, "someone@elsewhere.example",
                         reply(message, world.lead.email, "approve"))
    assert state_of(engine, proposal.id or 0) == "department_review"
    send_to_listener(reply_listener, world.lead.email, message["Reply-To"],
                     reply(message, world.lead.email, GMAIL.format(words="Approved, thanks.")))
    assert state_of(engine, proposal.id or 0) == "rubric_review"
    with Session(engine) as session:
        approval = session.exec(select(AuditEntry).where(AuditEntry.action == "approve")).one()
        assert (approval.channel, approval.actor_id) == ("email_reply", world.lead.user.id)
    sent = len(smtp_server.received)
    drain(engine, mail_settings)
    confirmation, = [m for m in smtp_server.received[sent:] if m.recipients == [world.lead.email]
                     and m.message["Subject"].startswith("Done: ")]
    assert confirmation.envelope_from == "<>"
    assert confirmation.message["Auto-Submitted"] == "auto-replied"
    text = confirmation.message.get_body(("plain",)).get_content()
    assert 'Done: you approved "Applied Data Storytelling"' in text


def test_tokens_never_reach_the_audit_or_the_logs(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    reply_listener: int, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = mail_settings.model_copy(update={"inbound_secret": SecretStr(SECRET)})
    # log_config=None: uvicorn's access log reaches the root logger, where caplog listens.
    with serving(create_app(settings, engine), log_config=None, log_level="debug") as base, \
            httpx.Client(base_url=base, timeout=60) as http:
        proposal, message = submitted(world, engine, mail_settings, smtp_server)
        path = link(message, "return")
        assert http.get(path).status_code == 200
        assert http.post(path, data={"do": "return"}).status_code == 422  # no comment
        taken = http.post("/api/inbound-email", headers={"X-Inbound-Secret": SECRET},
                          content=reply(message, world.lead.email, "approve"))
        assert taken.json()["status"] == "done"
        assert http.post(path, data={"do": "return", "comment": "late"}).status_code == 410
        send_to_listener(reply_listener, world.lead.email, message["Reply-To"],
                         reply(message, world.lead.email, "approve"))
        drain(engine, mail_settings)
    assert state_of(engine, proposal.id or 0) == "rubric_review"
    tokens = set(re.findall(rb"(?:actions/|reply\+)([a-z2-7]{32})",
                            b"".join(m.raw for m in smtp_server.received)))
    assert tokens
    with Session(engine) as session:
        entries = session.exec(select(AuditEntry)).all()
    assert {e.channel for e in entries} >= {"email_link", "email_reply"}
    for entry in entries:
        assert not any(t.decode() in json.dumps(entry.detail) for t in tokens), entry.detail
    # The test's own HTTP client logs the URLs it requests; the service is what is checked.
    logged = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any("/actions/<token>" in r.getMessage() for r in logged)  # the access log was read
    for record in logged:
        text = record.getMessage() + (record.exc_text or "")
        assert not any(t.decode() in text for t in tokens), text
