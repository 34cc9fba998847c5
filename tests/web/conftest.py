"""Page tests: a browser-like client per person, signed in through the session cookie."""

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from api.web import CSRF_COOKIE, SESSION_COOKIE, session_cookie_value
from plumbing.settings import Settings
from tests.conftest import Person
from tests.credentials.conftest import in_design_review, publish

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A TestClient with its own cookies, that reads the CSRF token from the last page."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.token = ""

    def get(self, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        response = self.client.get(url, **kwargs)  # type: ignore[arg-type]
        found = CSRF_INPUT.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def post(self, url: str, data: dict[str, object] | None = None, *, csrf: bool = True,
             follow: bool = False, files: dict[str, object] | None = None
             ):  # type: ignore[no-untyped-def]
        if csrf and not self.token:
            self.get("/sign-in")
        form = {**(data or {}), **({"csrf_token": self.token} if csrf else {})}
        return self.client.post(url, data=form, files=files,  # type: ignore[arg-type]
                                follow_redirects=follow)


@pytest.fixture
def browser(client: TestClient, settings: Settings) -> Callable[[Person | None], Browser]:
    """A new browser per call, signed in as the person given (or anonymous)."""
    app = client.app

    def make(person: Person | None = None) -> Browser:
        fresh = TestClient(app, base_url="http://testserver")
        fresh.__enter__()  # the app's lifespan already runs in `client`; this only opens it
        if person is not None:
            fresh.cookies.set(SESSION_COOKIE, session_cookie_value(settings, person.user))
        opened.append(fresh)
        return Browser(fresh)

    opened: list[TestClient] = []
    yield make  # type: ignore[misc]
    for c in opened:
        c.__exit__(None, None, None)


# in_design_review and publish: the catalog pages publish credentials as tests/credentials do.
__all__ = ["CSRF_COOKIE", "Browser", "in_design_review", "publish"]
