"""A draft withdrawn before it was ever submitted stays its authors' own, as drafts are."""

from fastapi.testclient import TestClient

from tests.conftest import World


def test_a_draft_withdrawn_unsubmitted_stays_private_to_its_authors(
    client: TestClient, world: World
) -> None:
    never_sent = world.proposal("Private Idea")
    world.fire(never_sent, "withdraw", world.owner)
    submitted = world.proposal("Public Idea")
    world.fire(submitted, "submit", world.owner)
    world.fire(submitted, "withdraw", world.owner)
    for reader in (world.colleague, world.lead, world.outsider, world.coordinator):
        assert client.get(f"/api/proposals/{never_sent.id}",
                          headers=reader.headers).status_code == 404
        assert client.get(f"/api/proposals/{never_sent.id}/history",
                          headers=reader.headers).status_code == 404
        listed = client.get("/api/proposals", params={"state": "withdrawn"},
                            headers=reader.headers).json()["items"]
        assert [p["title"] for p in listed] == ["Public Idea"]
    for author in (world.owner, world.co_author):
        assert client.get(f"/api/proposals/{never_sent.id}",
                          headers=author.headers).status_code == 200
        listed = client.get("/api/proposals", params={"state": "withdrawn"},
                            headers=author.headers).json()["items"]
        assert sorted(p["title"] for p in listed) == ["Private Idea", "Public Idea"]
