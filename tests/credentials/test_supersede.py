"""Only a credential's own department replaces it: a predecessor from another department is
refused, so publishing elsewhere never marks someone else's credential superseded."""

from fastapi.testclient import TestClient

from api.demo import sample_proposal
from tests.conftest import World
from tests.credentials.conftest import Publish


def test_another_department_cannot_name_a_credential_as_its_predecessor(
    client: TestClient, world: World, publish: Publish
) -> None:
    published = publish("Applied Data Storytelling")
    predecessor = published["proposal_id"]
    body = sample_proposal("Data Storytelling, Improved", "MATH").model_dump(mode="json")
    created = client.post("/api/proposals", json={**body, "predecessor_id": predecessor},
                          headers=world.outsider.headers)
    assert created.status_code == 403
    assert "department" in created.json()["detail"]
    # Nor by editing a draft of its own afterwards.
    draft = client.post("/api/proposals", json=body, headers=world.outsider.headers).json()
    edited = client.patch(f"/api/proposals/{draft['id']}", json={"predecessor_id": predecessor},
                          headers=world.outsider.headers)
    assert edited.status_code == 403
    assert client.get(f"/api/proposals/{draft['id']}",
                      headers=world.outsider.headers).json()["predecessor_id"] is None
    # The credential is still active, and its own department may still revise it.
    credential = client.get(f"/api/credentials/{published['id']}").json()
    assert credential["status"] == "active"
    revised = client.post(f"/api/credentials/{published['id']}/revise",
                          headers=world.owner.headers)
    assert revised.status_code == 201
    assert revised.json()["predecessor_id"] == predecessor
    same_department = client.post("/api/proposals", json={
        **sample_proposal("Storytelling II", "CS").model_dump(mode="json"),
        "predecessor_id": predecessor}, headers=world.colleague.headers)
    assert same_department.status_code == 201
