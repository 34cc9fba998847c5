"""The public catalog: filters, keyset pages, pathways, retirement and revisions."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import World, force_state
from tests.credentials.conftest import Publish

OUTCOMES = ["Lead a team through a project plan", "Communicate a plan to stakeholders",
            "Evaluate a team's progress against milestones"]


def titles(client: TestClient, **params: object) -> list[str]:
    response = client.get("/api/credentials", params=params)
    assert response.status_code == 200, response.text
    return [c["title"] for c in response.json()["items"]]


def test_the_catalog_is_public_and_filters(
    client: TestClient, world: World, publish: Publish
) -> None:
    publish("Applied Data Storytelling", competencies=["communication"], level="undergraduate",
            modality="hybrid")
    publish("Team Leadership Online", competencies=["leadership", "teamwork"],
            learning_outcomes=OUTCOMES, modality="online", level="professional",
            credit_bearing=False, credits=None, hours=30)
    assert titles(client) == ["Team Leadership Online", "Applied Data Storytelling"]
    assert titles(client, competency="teamwork") == ["Team Leadership Online"]
    assert titles(client, competency="communication") == ["Applied Data Storytelling"]
    assert titles(client, modality="online") == ["Team Leadership Online"]
    assert titles(client, level="undergraduate") == ["Applied Data Storytelling"]
    assert titles(client, credit_bearing=True) == ["Applied Data Storytelling"]
    assert titles(client, credit_bearing=False) == ["Team Leadership Online"]
    assert titles(client, department="CS") == ["Team Leadership Online",
                                                "Applied Data Storytelling"]
    assert titles(client, department="MATH") == []
    assert client.get("/api/credentials", params={"competency": "juggling"}).status_code == 422


def test_pages_follow_the_cursor_to_the_end(client: TestClient, publish: Publish) -> None:
    for n in range(5):
        publish(f"Credential Number {n}")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/credentials", params=params).json()
        seen += [c["title"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Credential Number {n}" for n in reversed(range(5))]
    assert client.get("/api/credentials", params={"cursor": "garbage!"}).status_code == 422


def test_retiring_keeps_the_page_and_marks_it_retired(
    client: TestClient, world: World, publish: Publish
) -> None:
    credential = publish()
    retired = client.post(f"/api/proposals/{credential['proposal_id']}/retire",
                          headers=world.coordinator.headers, json={"comment": "replaced"})
    assert retired.status_code == 200
    page = client.get(f"/api/credentials/{credential['id']}").json()
    assert (page["status"], page["active"]) == ("retired", False)
    assert page["retired_at"] is not None
    assert titles(client, active=True) == []
    assert titles(client, active=False) == [credential["title"]]
    assert client.get(f"/api/credentials/{credential['id']}/achievement").status_code == 200


def test_the_pathway_shows_what_stacks_into_what(
    client: TestClient, world: World, publish: Publish
) -> None:
    base = publish("Data Foundations")
    middle = publish("Applied Data Storytelling", stacks_into=["Data Foundations"])
    top = publish("Data Leadership Capstone", stacks_into=[str(middle["proposal_id"])])
    graph = client.get(f"/api/credentials/{middle['id']}/pathway").json()
    assert [n["id"] for n in graph["stacks_into"]] == [base["id"]]
    assert [n["id"] for n in graph["stacks_from"]] == [top["id"]]
    assert {n["id"] for n in graph["nodes"]} == {base["id"], middle["id"], top["id"]}
    assert sorted(map(tuple, graph["edges"])) == sorted(
        [(middle["id"], base["id"]), (top["id"], middle["id"])])
    alone = client.get(f"/api/credentials/{base['id']}/pathway").json()
    assert alone["stacks_into"] == []
    assert len(alone["nodes"]) == 3


def test_revise_starts_a_prefilled_draft_that_supersedes_on_publication(
    client: TestClient, world: World, engine: Engine, publish: Publish
) -> None:
    credential = publish(competencies=["communication"], credits=9)
    assert client.post(f"/api/credentials/{credential['id']}/revise").status_code == 401
    assert client.post(f"/api/credentials/{credential['id']}/revise",
                       headers=world.outsider.headers).status_code == 403
    draft = client.post(f"/api/credentials/{credential['id']}/revise",
                        headers=world.owner.headers)
    assert draft.status_code == 201
    body = draft.json()
    assert (body["state"], body["title"], body["credits"], body["competencies"]) == (
        "draft", credential["title"], 9, ["communication"])
    assert body["predecessor_id"] == credential["proposal_id"]
    design = client.get(f"/api/proposals/{body['id']}/badge-design", headers=world.owner.headers)
    assert design.json()["alt_text"] == credential["image_alt_text"]
    force_state(engine, body["id"], "design_review")
    assert client.post(f"/api/proposals/{body['id']}/approve",
                       headers=world.coordinator.headers).status_code == 200
    old = client.get(f"/api/credentials/{credential['id']}").json()
    assert old["status"] == "superseded"
    assert titles(client, active=True) == [credential["title"]]
    again = client.post(f"/api/credentials/{credential['id']}/revise", headers=world.owner.headers)
    assert again.status_code == 422


def test_a_credential_naming_itself_in_stacks_into_gets_no_loop(
    client: TestClient, publish: Publish
) -> None:
    credential = publish("Self Referential Badge", stacks_into=["Self Referential Badge"])
    graph = client.get(f"/api/credentials/{credential['id']}/pathway").json()
    assert (graph["stacks_into"], graph["stacks_from"], graph["edges"]) == ([], [], [])
