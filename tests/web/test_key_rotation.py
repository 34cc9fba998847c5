"""Rotating MICROCRED_SECRET_KEY: with the old key listed, nobody is signed out; without it,
what the old key signed no longer counts."""

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from api.app import create_app
from api.web import CSRF_COOKIE, SESSION_COOKIE, session_cookie_value
from plumbing.settings import Settings
from tests.conftest import World
from tests.web.conftest import CSRF_INPUT

OLD, NEW = "old-key-" + "o" * 40, "new-key-" + "n" * 40


def signed_in_browser(engine: Engine, settings: Settings, world: World) -> TestClient:
    """A browser that signed in under the old key, with a form open."""
    browser = TestClient(create_app(settings.model_copy(
        update={"secret_key": SecretStr(OLD)}), engine))
    page = browser.get("/sign-in")
    token = CSRF_INPUT.search(page.text)
    assert token is not None
    old = settings.model_copy(update={"secret_key": SecretStr(OLD)})
    browser.cookies.set(SESSION_COOKIE, session_cookie_value(old, world.owner.user))
    browser.headers["X-Form-Token"] = token.group(1)
    assert browser.get("/", follow_redirects=False).status_code == 200
    return browser


def after_restart(browser: TestClient, engine: Engine, settings: Settings,
                  old_keys: str) -> TestClient:
    """The same browser, its cookies kept, against a process started with the new key."""
    rotated = settings.model_copy(update={"secret_key": SecretStr(NEW),
                                          "old_secret_keys": SecretStr(old_keys)})
    again = TestClient(create_app(rotated, engine))
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        again.cookies.set(name, browser.cookies[name])
    again.headers["X-Form-Token"] = browser.headers["X-Form-Token"]
    return again


def test_rotating_the_key_with_the_old_one_listed_keeps_a_browser_signed_in(
        engine: Engine, settings: Settings, world: World) -> None:
    browser = signed_in_browser(engine, settings, world)
    rotated = after_restart(browser, engine, settings, f"some-older-key-{'x' * 30}, {OLD}")
    assert rotated.get("/", follow_redirects=False).status_code == 200
    # A form opened before the restart still goes through.
    answer = rotated.post("/sign-out", data={"csrf_token": rotated.headers["X-Form-Token"]},
                          follow_redirects=False)
    assert answer.status_code == 303


def test_removing_the_old_key_signs_the_browser_out(
        engine: Engine, settings: Settings, world: World) -> None:
    browser = signed_in_browser(engine, settings, world)
    rotated = after_restart(browser, engine, settings, "")
    answer = rotated.get("/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")
    stale = rotated.post("/sign-out", data={"csrf_token": rotated.headers["X-Form-Token"]},
                         follow_redirects=False)
    assert stale.status_code == 403
