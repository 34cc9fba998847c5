"""Sessions end when they should: sign-out, a role change and deactivation end every cookie
of that user; the dev mailbox takes the admin's own session, never a token in a cookie."""

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.web import SESSION_COOKIE
from tests.conftest import Person, World
from tests.web.conftest import Browser
from workflow.accounts.service import deactivate_user

MakeBrowser = Callable[[Person | None], Browser]


def another_browser(b: Browser, cookie: str) -> TestClient:
    """A second client holding a copy of the cookie (a stolen or left-behind one)."""
    copy = TestClient(b.client.app, base_url="http://testserver")
    copy.cookies.set(SESSION_COOKIE, cookie)
    return copy


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(
    world: World, browser: MakeBrowser
) -> None:
    b = browser(world.owner)
    assert b.get("/").status_code == 200
    copied = b.client.cookies[SESSION_COOKIE]
    signed_out = b.post("/sign-out")
    assert signed_out.status_code == 303
    leftover = another_browser(b, copied)
    answer = leftover.get("/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")
    # Signing in again works as before.
    assert browser(world.owner).get("/").status_code == 200


def test_a_role_change_ends_that_users_sessions(world: World, browser: MakeBrowser) -> None:
    b = browser(world.owner)
    copied = b.client.cookies[SESSION_COOKIE]
    admin = browser(world.admin)
    admin.get("/admin")
    added = admin.post("/admin/users", {"email": world.owner.email, "name": "Owner",
                                        "role": "reviewer"})
    assert added.status_code == 303
    answer = another_browser(b, copied).get("/", follow_redirects=False)
    assert answer.status_code == 303
    # Other people's sessions go on.
    assert admin.get("/admin").status_code == 200


def test_deactivation_ends_sessions_for_good(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    b = browser(world.owner)
    copied = b.client.cookies[SESSION_COOKIE]
    deactivate_user(world.session, world.owner.user.email)
    assert another_browser(b, copied).get("/", follow_redirects=False).status_code == 303
    # Made active again (by hand, in the database), the old cookie still opens nothing.
    with engine.begin() as conn:
        conn.execute(text("UPDATE app_user SET is_active = :yes WHERE id = :id"),
                     {"yes": True, "id": world.owner.user.id})
    assert another_browser(b, copied).get("/", follow_redirects=False).status_code == 303


def test_the_mailbox_takes_the_admins_session_and_no_token_form(
    world: World, browser: MakeBrowser
) -> None:
    anonymous = browser(None)
    # The form that put a raw API token in a cookie, with no CSRF token, is gone.
    login = anonymous.post("/mailbox/sign-in", {"token": world.admin.token}, csrf=False)
    assert login.status_code in (404, 405)
    assert "microcred_mailbox" not in login.headers.get("set-cookie", "")
    assert anonymous.client.get("/mailbox", follow_redirects=False).status_code in (303, 401)
    # An admin signed in on the site reads it; anyone else is refused.
    assert browser(world.admin).get("/mailbox").status_code == 200
    assert browser(world.lead).get("/mailbox").status_code in (401, 403)
    # Scripts may still send an admin's token as a header (never stored in a cookie).
    assert anonymous.client.get("/mailbox", headers=world.admin.headers).status_code == 200
