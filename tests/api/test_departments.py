"""Department codes are unique whatever their case: `cs` beside `CS` is refused."""

from fastapi.testclient import TestClient

from tests.conftest import World


def test_a_code_differing_only_by_case_is_taken(client: TestClient, world: World) -> None:
    for code in ("cs", "Cs", "math"):
        answer = client.post("/api/departments", json={"code": code, "name": "Copy"},
                             headers=world.admin.headers)
        assert answer.status_code == 409, answer.text
        assert "already exists" in answer.json()["detail"]
    codes = [d["code"] for d in client.get("/api/departments",
                                           headers=world.admin.headers).json()]
    assert codes == ["CS", "MATH"]
    assert client.post("/api/departments", json={"code": "NURS", "name": "Nursing"},
                       headers=world.admin.headers).status_code == 201
