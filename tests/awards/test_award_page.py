"""An award's public page says whether it is genuine, and offers what a learner keeps: the
credential file and the badge image with the credential baked in, both verifiable."""

import json

import pytest
from fastapi.testclient import TestClient
from openbadgeslib.baking import extract_png, extract_svg

from tests.awards.conftest import LEARNERS, award, verify
from tests.conftest import World
from tests.credentials.conftest import Publish, svg
from tests.workflow.test_badges import png


def test_the_page_of_a_valid_award_says_verified_and_offers_the_files(
    client: TestClient, world: World, publish: Publish
) -> None:
    credential = publish()
    [made] = award(client, world, credential["id"], LEARNERS[:1])
    page = client.get(f"/awards/{made['id']}")  # no sign-in
    assert page.status_code == 200
    assert "Verified." in page.text and LEARNERS[0]["name"] in page.text
    assert LEARNERS[0]["email"] not in page.text  # the address stays private
    assert f'href="/awards/{made["id"]}/credential.json"' in page.text
    assert "linkedin.com/profile/add" in page.text
    download = client.get(f"/awards/{made['id']}/credential.json")
    assert download.headers["content-disposition"].startswith("attachment")
    verify(client, download.text)


def test_the_page_of_a_revoked_award_says_so_with_the_reason(
    client: TestClient, world: World, publish: Publish
) -> None:
    credential = publish()
    [made] = award(client, world, credential["id"], LEARNERS[:1])
    client.post(f"/api/awards/{made['id']}/revoke", headers=world.owner.headers,
                json={"reason": "Awarded to the wrong learner"})
    page = client.get(f"/awards/{made['id']}")
    assert "Verified." not in page.text
    assert "Revoked" in page.text and "Awarded to the wrong learner" in page.text


@pytest.mark.parametrize("kind", ["png", "svg"])
def test_the_baked_badge_carries_a_credential_that_verifies(
    client: TestClient, world: World, publish: Publish, kind: str
) -> None:
    image = png(400, 400) if kind == "png" else svg('<circle cx="5" cy="5" r="4" fill="#c60"/>')
    credential = publish(image=image)
    [made] = award(client, world, credential["id"], LEARNERS[:1])
    baked = client.get(f"/awards/{made['id']}/badge")
    assert baked.status_code == 200
    if kind == "png":
        carried = extract_png(baked.content, keyword=b"openbadgecredential")
    else:
        carried = extract_svg(baked.content, element="openbadges:credential",
                              text_fallback=True)
    assert carried is not None
    assert json.loads(carried)["id"].endswith(f"/api/awards/{made['id']}/credential")
    verify(client, carried)


def test_an_unknown_award_is_404(client: TestClient) -> None:
    assert client.get("/awards/no-such-award").status_code == 404
    assert client.get("/api/awards/no-such-award/credential").status_code == 404
