"""Awards tests: a published credential, the service at https://testserver (so its did:web is
`did:web:testserver`), and an independent Open Badges 3.0 verifier that fetches from it."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.web import SESSION_COOKIE, session_cookie_value
from plumbing.settings import Settings
from tests.conftest import Person, World
from tests.credentials.conftest import in_design_review, publish  # noqa: F401
from tests.web.conftest import Browser

ORIGIN = "https://testserver"
DID = "did:web:testserver"
LEARNERS = [{"email": "ana.lopez@email.arizona.edu", "name": "Ana López"},
            {"email": "ben.okafor@email.arizona.edu", "name": "Ben Okafor"},
            {"email": "cho.kim@email.arizona.edu", "name": "Cho Kim"}]


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"base_url": ORIGIN,
                                       "signing_key_file": str(tmp_path / "signing.pem")})


def fetcher(client: TestClient) -> Callable[[str], bytes]:
    """What the verifier downloads (the DID document, status lists), answered by the app."""

    def fetch(url: str) -> bytes:
        assert url.startswith(ORIGIN + "/"), f"the verifier asked for {url}"
        answer = client.get(url[len(ORIGIN):])
        answer.raise_for_status()
        return answer.content

    return fetch


def verify(client: TestClient, document: str) -> Any:
    """Verify as a backpack or an employer's tool would: signature, issuer key from the
    did:web document, expiry, and revocation through the status list."""
    from openbadgeslib.ob3 import OB3LdpVerifier

    return OB3LdpVerifier.for_issuer_did(DID).verify(document, check_status=True,
                                                    download=fetcher(client))


def award(client: TestClient, world: World, credential_id: str,
          learners: list[dict[str, str]] | None = None) -> list[dict[str, Any]]:
    answer = client.post(f"/api/credentials/{credential_id}/awards", headers=world.owner.headers,
                         json={"recipients": learners or LEARNERS})
    assert answer.status_code == 201, answer.text
    made: list[dict[str, Any]] = answer.json()
    return made


@pytest.fixture
def browser(client: TestClient, settings: Settings) -> Iterator[Callable[[Person], Browser]]:
    """A browser per person, signed in, on the service's https origin (its cookies are
    Secure there)."""
    opened: list[TestClient] = []

    def make(person: Person) -> Browser:
        fresh = TestClient(client.app, base_url=ORIGIN)
        fresh.cookies.set(SESSION_COOKIE, session_cookie_value(settings, person.user))
        opened.append(fresh)
        return Browser(fresh)

    yield make
    for one in opened:
        one.close()
