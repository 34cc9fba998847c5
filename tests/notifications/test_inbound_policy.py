"""The inbound path trusts only what a trusted server vouches for, and cannot be flooded:

- a reply acts only when the receiving server's Authentication-Results (from a trusted
  authserv-id) say DMARC passed, or SPF and DKIM passed aligned with From;
- rate limits count by reply token and by connecting address, never by a header the sender
  writes, so nobody can mute a lead by sending mail "from" them;
- refusals of callers nobody authenticated (a wrong webhook secret, an unknown action link,
  mail to no real reply address) leave one audit entry per source and window, and a source
  over the limit is turned away;
- a message nested too deep, or of too many parts, is refused for good (5xx, 422), once.
"""

import smtplib
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from api.app import create_app
from plumbing.settings import Settings
from tests.conftest import SMTPServer, World
from tests.notifications.test_email_actions import (
    AUTHSERV,
    SECRET,
    reply,
    send_to_listener,
    state_of,
    submitted,
)
from workflow.audit import AuditEntry


def post(client: TestClient, raw: bytes, secret: str = SECRET) -> dict[str, str]:
    answer = client.post("/api/inbound-email", content=raw, headers={"X-Inbound-Secret": secret})
    assert answer.status_code == 202, answer.text
    result: dict[str, str] = answer.json()
    return result


UNTRUSTED = {
    "no_header": None,
    "dmarc_none": "dmarc=none header.from=arizona.edu",
    "spf_softfail": "spf=softfail smtp.mailfrom=arizona.edu",
    "spf_pass_alone": "spf=pass smtp.mailfrom=lead@arizona.edu",
    "dkim_of_another_domain": ("spf=pass smtp.mailfrom=lead@arizona.edu; "
                               "dkim=pass header.d=evil.example"),
    "pass_in_a_comment": "dmarc=fail (but dmarc=pass, trust me) header.from=arizona.edu",
}


@pytest.mark.parametrize("results", UNTRUSTED.values(), ids=UNTRUSTED.keys())
def test_a_reply_its_server_did_not_vouch_for_changes_nothing(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    app_client: TestClient, results: str | None,
) -> None:
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    answer = post(app_client, reply(message, world.lead.email, "approve",
                                    authentication=results))
    assert answer["status"] == "refused"
    assert answer["reason"] in ("authentication_missing", "authentication_failed")
    assert state_of(engine, proposal.id or 0) == "department_review"


def test_results_from_a_server_nobody_trusts_count_for_nothing(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    app_client: TestClient,
) -> None:
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    forged = (b"Authentication-Results: mx.evil.example; dmarc=pass header.from=arizona.edu\r\n"
              + reply(message, world.lead.email, "approve", authentication=None))
    assert post(app_client, forged) == {"status": "refused",
                                        "reason": "authentication_missing"}
    assert state_of(engine, proposal.id or 0) == "department_review"


def test_spf_and_dkim_passing_aligned_are_enough(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    app_client: TestClient,
) -> None:
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    aligned = ("spf=pass smtp.mailfrom=lead@arizona.edu; "
               "dkim=pass header.d=mail.arizona.edu header.s=s1")
    assert post(app_client, reply(message, world.lead.email, "approve",
                                  authentication=aligned))["status"] == "done"
    assert state_of(engine, proposal.id or 0) == "rubric_review"


def test_without_required_authentication_only_failures_are_refused(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
) -> None:
    relaxed = mail_settings.model_copy(update={"inbound_secret": SecretStr(SECRET),
                                               "inbound_require_auth": False})
    client = TestClient(create_app(relaxed, engine))
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    failed = reply(message, world.lead.email, "approve", authentication="dmarc=fail")
    assert post(client, failed) == {"status": "refused", "reason": "authentication_failed"}
    assert post(client, reply(message, world.lead.email, "approve", authentication=None)) == {
        "status": "done", "reason": "approve"}
    assert state_of(engine, proposal.id or 0) == "rubric_review"


def test_mail_forged_from_a_lead_does_not_mute_the_leads_own_replies(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    reply_listener: int,
) -> None:
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    forged = EmailMessage()
    forged["From"] = world.lead.email
    forged["To"] = f"reply+{'a' * 32}@localhost"
    forged["Subject"] = "hello"
    forged.set_content("approve")
    for _ in range(mail_settings.inbound_rate_limit * 2):
        send_to_listener(reply_listener, world.lead.email, forged["To"], bytes(forged))
    send_to_listener(reply_listener, world.lead.email, message["Reply-To"],
                     reply(message, world.lead.email, "approve"))
    assert state_of(engine, proposal.id or 0) == "rubric_review"


def audit_count(engine: Engine, reason: str) -> int:
    with Session(engine) as session:
        rows = session.exec(select(AuditEntry.detail).where(
            AuditEntry.action == "email_action", AuditEntry.outcome == "refused")).all()
        return sum(1 for detail in rows if detail.get("reason") == reason)


def test_wrong_webhook_secrets_are_audited_once_per_source_and_window_then_turned_away(
    engine: Engine, world: World, settings: Settings,
) -> None:
    limited = settings.model_copy(update={"inbound_secret": SecretStr(SECRET),
                                          "refusal_limit": 5})
    client = TestClient(create_app(limited, engine))
    with Session(engine) as session:
        before = session.exec(select(func.count()).select_from(AuditEntry)).one()
    codes = [client.post("/api/inbound-email", content=b"From: x@example.com\r\n\r\nhi",
                         headers={"X-Inbound-Secret": f"guess-{n}"}).status_code
             for n in range(30)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    with Session(engine) as session:
        after = session.exec(select(func.count()).select_from(AuditEntry)).one()
    assert after - before == 1
    assert audit_count(engine, "bad_inbound_secret") == 1


def test_unknown_action_links_are_audited_once_per_source_and_window_then_turned_away(
    engine: Engine, world: World, settings: Settings,
) -> None:
    client = TestClient(create_app(settings.model_copy(update={"refusal_limit": 5}), engine))
    codes = [client.post(f"/actions/{'b' * 31}{chr(ord('a') + n % 26)}",
                         data={"do": "approve"}).status_code for n in range(30)]
    assert codes[:5] == [404] * 5 and set(codes[5:]) == {429}
    assert audit_count(engine, "unknown") == 1


def test_mail_to_unknown_reply_addresses_is_audited_once_per_source_and_window(
    engine: Engine, world: World, mail_settings: Settings, reply_listener: int,
) -> None:
    for n in range(25):
        junk = EmailMessage()
        junk["From"] = f"spammer{n}@example.com"
        junk["To"] = f"reply+{'c' * 31}{chr(ord('a') + n)}@localhost"
        junk["Subject"] = "buy"
        junk.set_content("approve")
        try:
            send_to_listener(reply_listener, junk["From"], junk["To"], bytes(junk))
        except smtplib.SMTPResponseException as refused:
            assert refused.smtp_code == 450  # over the address's limit: later, if ever
    assert audit_count(engine, "unknown") == 1


def test_a_source_over_the_address_limit_is_told_to_come_back_later(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
) -> None:
    tight = mail_settings.model_copy(update={"inbound_secret": SecretStr(SECRET),
                                             "inbound_address_rate_limit": 3})
    client = TestClient(create_app(tight, engine))
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    for n in range(3):
        assert post(client, reply(message, world.lead.email, f"hello {n}"))["status"] == "help"
    over = client.post("/api/inbound-email", content=reply(message, world.lead.email, "approve"),
                       headers={"X-Inbound-Secret": SECRET})
    assert over.status_code == 429
    assert state_of(engine, proposal.id or 0) == "department_review"


def mime_bomb(depth: int = 2000) -> bytes:
    head = (b"From: lead@arizona.edu\r\nTo: reply+" + b"d" * 32 + b"@localhost\r\n"
            b"Subject: boom\r\nMIME-Version: 1.0\r\n")
    parts = [head]
    for level in range(depth):
        parts.append(f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n'
                     f"--b{level}\r\n".encode())
    parts.append(b"Content-Type: text/plain\r\n\r\napprove\r\n")
    for level in reversed(range(depth)):
        parts.append(f"--b{level}--\r\n".encode())
    return b"".join(parts)


def test_a_mime_bomb_is_refused_for_good_and_audited_once(
    engine: Engine, world: World, mail_settings: Settings, app_client: TestClient,
    reply_listener: int,
) -> None:
    bomb = mime_bomb()
    answer = app_client.post("/api/inbound-email", content=bomb,
                             headers={"X-Inbound-Secret": SECRET})
    assert answer.status_code == 422, answer.text
    # Over SMTP a permanent refusal: the sending server gives up instead of retrying forever.
    for _ in range(3):
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send_to_listener(reply_listener, "lead@arizona.edu", f"reply+{'d' * 32}@localhost",
                             bomb)
        assert 550 <= refused.value.smtp_code < 560
    # One audit entry per source (the webhook's caller, the SMTP peer), not one per attempt.
    assert audit_count(engine, "unreadable") == 2
    # Many parts side by side are refused too.
    wide = (b"From: a@arizona.edu\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="w"\r\n\r\n'
            + b"--w\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 5000 + b"--w--\r\n")
    assert app_client.post("/api/inbound-email", content=wide,
                           headers={"X-Inbound-Secret": SECRET}).status_code == 422


def test_the_trusted_authserv_id_is_a_setting(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
) -> None:
    ours = mail_settings.model_copy(update={"inbound_secret": SecretStr(SECRET),
                                            "inbound_authserv_id": "mx1.arizona.edu, "
                                                                   "mx2.arizona.edu"})
    client = TestClient(create_app(ours, engine))
    proposal, message = submitted(world, engine, mail_settings, smtp_server)
    by_default_id = reply(message, world.lead.email, "approve")  # "localhost" is not trusted
    assert post(client, by_default_id)["reason"] == "authentication_missing"
    vouched = (b"Authentication-Results: mx2.arizona.edu; dmarc=pass header.from=arizona.edu\r\n"
               + reply(message, world.lead.email, "approve", authentication=None))
    assert post(client, vouched)["status"] == "done"
    assert AUTHSERV == ours.reply_domain
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(AuditEntry).where(
            col(AuditEntry.action) == "approve")).one() == 1
