"""Sign-in: the one-time email link, the trusted header, demo sign-in, the session cookie."""

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from api.app import create_app
from api.web import SESSION_COOKIE
from notifications.models import OutboxMessage
from plumbing.settings import ConfigurationError, Settings
from tests.conftest import Person, World
from tests.web.conftest import Browser

MakeBrowser = Callable[[Person | None], Browser]
LINK = re.compile(r"http://127\.0\.0\.1:8000(/sign-in/[A-Za-z0-9_-]+)")


def sign_in_links(engine: Engine, email: str) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).where(
            OutboxMessage.recipient == email, OutboxMessage.event == "sign_in")
            .order_by(col(OutboxMessage.id))).all()
        return [m.group(1) for row in rows if (m := LINK.search(row.body_text))]


def test_a_sign_in_link_works_once(world: World, browser: MakeBrowser, engine: Engine) -> None:
    b = browser(None)
    b.get("/sign-in")
    asked = b.post("/sign-in", {"email": "Owner@Arizona.edu"})
    assert "a sign-in link is on its way" in asked.text
    [link] = sign_in_links(engine, world.owner.email)
    # Opening the link (as a mail scanner would) signs nobody in.
    confirm = b.get(link)
    assert "Press the button to sign in" in confirm.text
    assert SESSION_COOKIE not in b.client.cookies
    used = b.post(link)
    assert used.status_code == 303
    assert SESSION_COOKIE in used.headers["set-cookie"]
    assert "HttpOnly" in used.headers["set-cookie"] and "SameSite=lax" in used.headers[
        "set-cookie"]
    assert "Secure" not in used.headers["set-cookie"]
    assert "Owner" in b.get("/").text
    again = browser(None)
    again.get(link)
    assert again.post(link).status_code == 410
    assert SESSION_COOKIE not in again.client.cookies


def test_a_sign_in_link_opens_the_page_that_sent_to_sign_in(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    proposal = world.proposal()
    page = f"/proposals/{proposal.id}"
    b = browser(None)
    sent_away = b.get(page, follow_redirects=False)
    assert sent_away.headers["location"] == f"/sign-in?next=%2Fproposals%2F{proposal.id}"
    form = b.get(sent_away.headers["location"]).text
    then = re.search(r'name="next" value="([^"]*)"', form)
    assert then is not None and then.group(1) == page
    b.post("/sign-in", {"email": world.owner.email, "next": then.group(1)})
    with Session(engine) as session:
        [body] = session.exec(select(OutboxMessage.body_text).where(
            OutboxMessage.event == "sign_in")).all()
    emailed = re.search(r"http://127\.0\.0\.1:8000(/sign-in/\S+)", body)
    assert emailed is not None and emailed.group(1).endswith(f"?next=/proposals/{proposal.id}")
    confirm = b.get(emailed.group(1)).text
    kept = re.search(r'name="next" value="([^"]*)"', confirm)
    assert kept is not None and kept.group(1) == page
    # Only a path on this site: a link edited to point elsewhere would land on My tasks.
    edited = b.get(emailed.group(1).split("?")[0] + "?next=//evil.example").text
    assert 'name="next" value="/"' in edited and "evil" not in edited
    b.get(emailed.group(1))
    used = b.post(emailed.group(1).split("?")[0], {"next": kept.group(1)})
    assert used.status_code == 303 and used.headers["location"] == page


def test_asking_again_and_again_sends_at_most_three_waiting_links(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    b = browser(None)
    b.get("/sign-in")
    answers = {b.post("/sign-in", {"email": world.lead.email}).status_code for _ in range(6)}
    assert answers == {200}
    assert len(sign_in_links(engine, world.lead.email)) == 3
    # Once one is used, one more may be sent.
    b.get(sign_in_links(engine, world.lead.email)[0])
    b.post(sign_in_links(engine, world.lead.email)[0])
    b.get("/sign-in")
    b.post("/sign-in", {"email": world.lead.email})
    assert len(sign_in_links(engine, world.lead.email)) == 4


def test_an_expired_link_signs_nobody_in(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    b = browser(None)
    b.get("/sign-in")
    b.post("/sign-in", {"email": world.lead.email})
    [link] = sign_in_links(engine, world.lead.email)
    with engine.begin() as conn:
        conn.execute(text("UPDATE sign_in_link SET expires_at = created_at"))
    assert "has been used or has expired" in b.get(link).text
    assert b.post(link).status_code == 410


def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    b = browser(None)
    b.get("/sign-in")
    answer = b.post("/sign-in", {"email": "nobody@arizona.edu"})
    assert answer.status_code == 200
    assert "If nobody@arizona.edu has an account" in answer.text
    assert sign_in_links(engine, "nobody@arizona.edu") == []


PROXY_SECRET = "the-proxy-secret-of-this-test-0123456789"
SECRET_HEADER = {"X-Microcred-Proxy-Secret": PROXY_SECRET}


@pytest.fixture
def proxied(engine: Engine, settings: Settings) -> Iterator[Callable[[str | None], TestClient]]:
    app = create_app(settings.model_copy(update={
        "trusted_user_header": "X-Remote-User", "trusted_proxies": "10.0.0.0/8, 192.0.2.7",
        "trusted_proxy_secret": SecretStr(PROXY_SECRET)}), engine)
    clients: list[TestClient] = []

    def from_address(host: str | None) -> TestClient:
        """A client from this address; None: over a Unix socket, which has none."""
        c = TestClient(app, client=(host, 40000) if host else None)  # type: ignore[arg-type]
        clients.append(c)
        return c

    yield from_address
    for c in clients:
        c.close()


def test_the_trusted_header_counts_only_from_a_trusted_proxy(
    world: World, proxied: Callable[[str | None], TestClient]
) -> None:
    header = {"X-Remote-User": world.coordinator.email, **SECRET_HEADER}
    trusted = proxied("10.1.2.3").get("/overview", headers=header, follow_redirects=False)
    assert trusted.status_code == 200
    for host in ("203.0.113.9", "192.0.2.8", "testclient"):
        untrusted = proxied(host).get("/overview", headers=header, follow_redirects=False)
        assert untrusted.status_code == 303, host
        assert untrusted.headers["location"].startswith("/sign-in")
    # A client naming a trusted proxy in X-Forwarded-For is still the client.
    forged = proxied("203.0.113.9").get("/overview", follow_redirects=False,
                                        headers={**header, "X-Forwarded-For": "10.1.2.3"})
    assert forged.status_code == 303


def test_the_trusted_header_without_the_proxy_secret_signs_nobody_in(
    world: World, proxied: Callable[[str | None], TestClient]
) -> None:
    """Any process on the proxy's host reaches the web processes from a trusted address, or
    through their socket; only the proxy knows the secret."""
    header = {"X-Remote-User": world.admin.email}
    for host in ("10.1.2.3", None):
        for sent in ({}, {"X-Microcred-Proxy-Secret": "guess"},
                     {"X-Microcred-Proxy-Secret": PROXY_SECRET + "x"}):
            forged = proxied(host).get("/admin", headers={**header, **sent},
                                       follow_redirects=False)
            assert forged.status_code == 303, (host, sent)
        real = proxied(host).get("/admin", headers={**header, **SECRET_HEADER},
                                 follow_redirects=False)
        assert real.status_code == 200, host


def test_a_user_header_without_a_proxy_secret_is_refused_at_start(
    engine: Engine, settings: Settings
) -> None:
    with pytest.raises(ConfigurationError, match="MICROCRED_TRUSTED_PROXY_SECRET"):
        create_app(settings.model_copy(update={"trusted_user_header": "X-Remote-User",
                                               "trusted_proxies": "127.0.0.1"}), engine)


def test_demo_sign_in_only_in_demo_mode(
    world: World, browser: MakeBrowser, engine: Engine, settings: Settings
) -> None:
    b = browser(None)
    assert "Demo: sign in as" not in b.get("/sign-in").text
    assert b.post("/sign-in/demo", {"email": world.admin.email}).status_code == 404
    demo = TestClient(create_app(settings.model_copy(update={"demo_sign_in": True}), engine))
    with demo:
        page = demo.get("/sign-in")
        assert "Demo: sign in as" in page.text and world.admin.email in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        answer = demo.post("/sign-in/demo", data={"email": world.admin.email,
                                                  "csrf_token": token.group(1)},
                           follow_redirects=False)
        assert answer.status_code == 303
        assert demo.get("/admin").status_code == 200


def test_the_session_cookie_is_secure_under_https(
    world: World, engine: Engine, settings: Settings
) -> None:
    app = create_app(settings.model_copy(update={"base_url": "https://microcred.example.edu",
                                                 "demo_sign_in": True}), engine)
    with TestClient(app, base_url="https://testserver") as c:
        page = c.get("/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        answer = c.post("/sign-in/demo", data={"email": world.owner.email,
                                               "csrf_token": token.group(1)},
                        follow_redirects=False)
        cookie = answer.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_a_forged_session_cookie_is_ignored(world: World, browser: MakeBrowser) -> None:
    b = browser(None)
    b.client.cookies.set(SESSION_COOKIE, f"{world.admin.user.id}.9999999999.forged")
    assert b.client.get("/admin", follow_redirects=False).status_code == 303
