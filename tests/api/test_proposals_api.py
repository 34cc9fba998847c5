"""The JSON API as a client sees it: status codes, shapes, filters and pages."""

from fastapi.testclient import TestClient

from api.demo import sample_proposal
from tests.conftest import World
from workflow.proposals.models import ProposalPage, ProposalPublic

NEW = sample_proposal("Applied Data Storytelling", "CS").model_dump(mode="json")


def test_health_needs_no_token(client: TestClient) -> None:
    assert client.get("/api/health").json() == {"status": "ok"}


def test_missing_or_bad_token_is_401(client: TestClient, world: World) -> None:
    assert client.get("/api/me").status_code == 401
    bad = client.get("/api/me", headers={"Authorization": "Bearer mc_not-a-token"})
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == "Bearer"


def test_me_lists_roles_and_departments(client: TestClient, world: World) -> None:
    me = client.get("/api/me", headers=world.lead.headers).json()
    assert me["email"] == "lead@arizona.edu"
    assert me["roles"] == [{"role": "department_lead", "department": "CS"}]
    assert me["departments"] == ["CS"]


def test_create_answers_201_with_the_whole_proposal(client: TestClient, world: World) -> None:
    response = client.post("/api/proposals", json=NEW, headers=world.owner.headers)
    assert response.status_code == 201
    body = response.json()
    assert (body["state"], body["version"], body["department"]) == ("draft", 1, "CS")
    assert body["owner"]["email"] == "owner@arizona.edu"
    assert body["learning_outcomes"] == NEW["learning_outcomes"]
    assert {"id", "created_at", "updated_at"} <= body.keys()
    again = client.get(f"/api/proposals/{body['id']}", headers=world.owner.headers).json()
    assert again == body


def test_create_in_a_department_you_do_not_belong_to_is_403(
    client: TestClient, world: World
) -> None:
    response = client.post("/api/proposals", json=NEW, headers=world.outsider.headers)
    assert response.status_code == 403


def test_unknown_department_is_422_naming_the_field(client: TestClient, world: World) -> None:
    response = client.post("/api/proposals", json={**NEW, "department": "NOPE"},
                           headers=world.owner.headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "department"]


def test_extra_wrong_typed_and_overlong_fields_are_422_naming_the_field(
    client: TestClient, world: World
) -> None:
    cases = {
        "state": {**NEW, "state": "published"},
        "credits": {**NEW, "credits": "many"},
        "title": {**NEW, "title": "x" * 201},
        "competencies": {**NEW, "competencies": ["juggling"]},
        "co_authors": {**NEW, "co_authors": ["not an email"]},
    }
    for field, body in cases.items():
        response = client.post("/api/proposals", json=body, headers=world.owner.headers)
        assert response.status_code == 422, field
        assert field in {str(part) for e in response.json()["detail"] for part in e["loc"]}
    listed = client.get("/api/proposals", headers=world.owner.headers).json()
    assert listed["items"] == []


def test_owner_edits_a_draft_and_history_records_before_and_after(
    client: TestClient, world: World
) -> None:
    p = world.proposal()
    response = client.patch(f"/api/proposals/{p.id}", json={"title": "Data Storytelling",
                                                            "version": 1},
                            headers=world.owner.headers)
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["version"]) == ("Data Storytelling", 2)
    history = client.get(f"/api/proposals/{p.id}/history", headers=world.owner.headers).json()
    assert history[-1]["action"] == "edit"
    assert history[-1]["detail"]["changes"] == {
        "title": {"before": "Applied Data Storytelling", "after": "Data Storytelling"}
    }


def test_edit_with_a_stale_version_is_409_and_changes_nothing(
    client: TestClient, world: World
) -> None:
    p = world.proposal()
    response = client.patch(f"/api/proposals/{p.id}", json={"title": "Other", "version": 7},
                            headers=world.owner.headers)
    assert response.status_code == 409
    body = client.get(f"/api/proposals/{p.id}", headers=world.owner.headers).json()
    assert (body["title"], body["version"]) == ("Applied Data Storytelling", 1)


def test_edit_cannot_touch_state(client: TestClient, world: World) -> None:
    p = world.proposal()
    response = client.patch(f"/api/proposals/{p.id}", json={"state": "published"},
                            headers=world.owner.headers)
    assert response.status_code == 422
    assert client.get(f"/api/proposals/{p.id}", headers=world.owner.headers).json()[
        "state"] == "draft"


def test_only_the_owner_edits_and_only_in_draft_or_returned(
    client: TestClient, world: World
) -> None:
    p = world.proposal()
    assert client.patch(f"/api/proposals/{p.id}", json={"title": "Mine now"},
                        headers=world.co_author.headers).status_code == 403
    world.fire(p, "submit", world.owner)
    assert client.patch(f"/api/proposals/{p.id}", json={"title": "Late change"},
                        headers=world.owner.headers).status_code == 409


def test_someone_elses_draft_is_invisible(client: TestClient, world: World) -> None:
    p = world.proposal()
    for person in (world.colleague, world.lead, world.coordinator, world.outsider):
        assert client.get(f"/api/proposals/{p.id}", headers=person.headers).status_code == 404
    assert client.get(f"/api/proposals/{p.id}", headers=world.co_author.headers).status_code == 200


def test_fire_trigger_answers_the_proposal_and_actions_list_what_i_may_do(
    client: TestClient, world: World
) -> None:
    p = world.proposal()
    actions = client.get(f"/api/proposals/{p.id}/actions", headers=world.owner.headers).json()
    assert [a["trigger"] for a in actions] == ["submit", "withdraw"]
    response = client.post(f"/api/proposals/{p.id}/submit", headers=world.owner.headers)
    assert (response.status_code, response.json()["state"]) == (200, "department_review")
    lead_actions = client.get(f"/api/proposals/{p.id}/actions", headers=world.lead.headers).json()
    assert {a["trigger"]: a["comment_required"] for a in lead_actions} == {
        "approve": False, "return": True, "reject": True}
    assert client.get(f"/api/proposals/{p.id}/actions",
                      headers=world.other_lead.headers).json() == []


def test_unknown_trigger_is_404(client: TestClient, world: World) -> None:
    p = world.proposal()
    response = client.post(f"/api/proposals/{p.id}/publish", headers=world.owner.headers)
    assert response.status_code == 404


def test_unknown_proposal_is_404(client: TestClient, world: World) -> None:
    assert client.get("/api/proposals/999", headers=world.owner.headers).status_code == 404
    assert client.post("/api/proposals/999/submit", headers=world.owner.headers).status_code == 404


def test_trigger_body_with_unknown_field_is_422(client: TestClient, world: World) -> None:
    p = world.proposal()
    response = client.post(f"/api/proposals/{p.id}/submit", json={"coment": "typo"},
                           headers=world.owner.headers)
    assert response.status_code == 422
    assert client.get(f"/api/proposals/{p.id}", headers=world.owner.headers).json()[
        "state"] == "draft"


def test_return_needs_a_comment_and_stale_version_conflicts(
    client: TestClient, world: World
) -> None:
    p = world.fire(world.proposal(), "submit", world.owner)
    url = f"/api/proposals/{p.id}/return"
    assert client.post(url, json={}, headers=world.lead.headers).status_code == 422
    assert client.post(url, json={"comment": "Why?", "version": 1},
                       headers=world.lead.headers).status_code == 409
    ok = client.post(url, json={"comment": "Why?", "version": p.version},
                     headers=world.lead.headers)
    assert (ok.status_code, ok.json()["state"]) == (200, "returned")


def test_checks_list_prescreen_errors_with_fields(client: TestClient, world: World) -> None:
    p = world.proposal(summary="", credit_bearing=False, credits=None)
    checks = client.get(f"/api/proposals/{p.id}/checks", headers=world.owner.headers).json()
    assert {(c["field"], c["severity"]) for c in checks} >= {
        ("summary", "error"), ("hours", "error")}
    submitted = client.post(f"/api/proposals/{p.id}/submit", headers=world.owner.headers)
    assert submitted.status_code == 422
    assert {tuple(e["loc"]) for e in submitted.json()["detail"]} == {
        ("body", "summary"), ("body", "hours")}


def test_graduate_proposal_without_a_bachelors_prerequisite_cannot_be_submitted(
    client: TestClient, world: World
) -> None:
    p = world.proposal(level="graduate")
    refused = client.post(f"/api/proposals/{p.id}/submit", headers=world.owner.headers)
    assert refused.status_code == 422
    assert [e["type"] for e in refused.json()["detail"]] == ["prescreen.graduate_needs_bachelor"]
    client.patch(f"/api/proposals/{p.id}", headers=world.owner.headers,
                 json={"prerequisites": ["A bachelor's degree in any field"]})
    ok = client.post(f"/api/proposals/{p.id}/submit", headers=world.owner.headers)
    assert ok.status_code == 200


def test_near_duplicate_title_is_a_warning_that_does_not_block(
    client: TestClient, world: World
) -> None:
    first = world.fire(world.proposal("Applied Data Storytelling"), "submit", world.owner)
    second = world.proposal("Applied Data Story Telling")
    checks = client.get(f"/api/proposals/{second.id}/checks", headers=world.owner.headers).json()
    assert [(c["code"], c["severity"]) for c in checks] == [("possible_duplicate", "warning")]
    assert f"#{first.id}" in checks[0]["message"]
    assert client.post(f"/api/proposals/{second.id}/submit",
                       headers=world.owner.headers).status_code == 200


def test_list_filters_and_pages_without_gaps_or_repeats(client: TestClient, world: World) -> None:
    ids = [world.proposal(f"Credential {n}").id for n in range(7)]
    for pid in ids[:3]:
        client.post(f"/api/proposals/{pid}/submit", headers=world.owner.headers)
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/proposals", params=params, headers=world.owner.headers).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    submitted = client.get("/api/proposals", params={"state": "department_review"},
                           headers=world.lead.headers).json()["items"]
    assert sorted(i["id"] for i in submitted) == sorted(ids[:3])
    mine = client.get("/api/proposals", params={"mine": True},
                      headers=world.co_author.headers).json()["items"]
    assert len(mine) == 7
    colleague = client.get("/api/proposals", headers=world.colleague.headers).json()["items"]
    assert sorted(i["id"] for i in colleague) == sorted(ids[:3])
    other_department = client.get("/api/proposals", params={"department": "MATH"},
                                  headers=world.owner.headers).json()["items"]
    assert other_department == []


def test_a_list_page_shows_each_proposal_byte_for_byte_as_reading_it_does(
    client: TestClient, world: World
) -> None:
    variants = [
        {**NEW, "title": "Ciência de Dados: “quoted” ✓ \\ and \"more\"", "credits": 1.5,
         "hours": 0.1, "partners": ["Zürich Partner", "Tōkyō"]},
        {**NEW, "title": "Nothing optional", "level": None, "modality": None, "credits": None,
         "hours": None, "competencies": [], "learning_outcomes": [], "expiration_months": None},
        {**NEW, "title": "Whole numbers", "credits": 3.0, "hours": 1e-05, "expiration_months": 24},
    ]
    ids = []
    for body in variants:
        created = client.post("/api/proposals", json=body, headers=world.owner.headers)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    client.post(f"/api/proposals/{ids[0]}/submit", headers=world.owner.headers)
    listed = client.get("/api/proposals", params={"limit": 2}, headers=world.owner.headers)
    one_by_one = [client.get(f"/api/proposals/{pid}", headers=world.owner.headers)
                  for pid in (ids[2], ids[1])]
    for read in one_by_one:
        assert read.content == ProposalPublic.model_validate(read.json()).model_dump_json().encode()
    expected = ProposalPage.model_validate(
        {"items": [read.json() for read in one_by_one],
         "next_cursor": listed.json()["next_cursor"]})
    assert listed.headers["content-type"] == "application/json"
    assert listed.content == expected.model_dump_json().encode()
    last = client.get("/api/proposals", params={"limit": 2, "cursor": expected.next_cursor},
                      headers=world.owner.headers).json()
    assert last["items"] == [client.get(f"/api/proposals/{ids[0]}",
                                        headers=world.owner.headers).json()]
    assert last["items"][0]["state"] == "department_review"


def test_bad_list_parameters_are_422(client: TestClient, world: World) -> None:
    for params in ({"state": "limbo"}, {"limit": 0}, {"limit": 1000}, {"cursor": "!!"}):
        response = client.get("/api/proposals", params=params, headers=world.owner.headers)
        assert response.status_code == 422, params


def test_departments_list_and_admin_only_create(client: TestClient, world: World) -> None:
    codes = [d["code"] for d in client.get("/api/departments", headers=world.owner.headers).json()]
    assert codes == ["CS", "MATH"]
    body = {"code": "NURS", "name": "Nursing"}
    assert client.post("/api/departments", json=body,
                       headers=world.coordinator.headers).status_code == 403
    assert client.post("/api/departments", json=body,
                       headers=world.admin.headers).status_code == 201
    assert client.post("/api/departments", json=body,
                       headers=world.admin.headers).status_code == 409
    assert client.post("/api/departments", json={"code": "bad code!", "name": "x"},
                       headers=world.admin.headers).status_code == 422


def test_audit_verify_is_for_coordinator_and_admin(client: TestClient, world: World) -> None:
    world.fire(world.proposal(), "submit", world.owner)
    assert client.get("/api/audit/verify", headers=world.owner.headers).status_code == 403
    result = client.get("/api/audit/verify", headers=world.coordinator.headers).json()
    assert result == {"ok": True, "entries": 2, "first_bad": None}


def test_values_the_database_cannot_hold_are_422_not_500(client: TestClient,
                                                         world: World) -> None:
    h = world.owner.headers
    too_big = 10**20
    assert client.get(f"/api/proposals/{too_big}", headers=h).status_code == 422
    assert client.post(f"/api/proposals/{too_big}/submit", headers=h).status_code == 422
    assert client.get("/api/proposals", params={"department": "C\x00S"},
                      headers=h).status_code == 422
    for body in ({**NEW, "title": "Data\x00Storytelling"},
                 {**NEW, "learning_outcomes": ["Analyze\x00"]},
                 {**NEW, "predecessor_id": too_big}):
        assert client.post("/api/proposals", json=body, headers=h).status_code == 422
    assert client.get("/api/proposals", headers=h).json()["items"] == []


def test_stacks_into_must_name_a_published_credential_on_submit(
    client: TestClient, world: World, engine: object
) -> None:
    from tests.conftest import force_state

    foundation = world.proposal("Data Foundations")
    force_state(engine, foundation.id or 0, "published")  # type: ignore[arg-type]
    good = world.proposal("Advanced Data Storytelling", stacks_into=["data foundations"])
    assert client.post(f"/api/proposals/{good.id}/submit",
                       headers=world.owner.headers).status_code == 200
    bad = world.proposal("Data Visualisation", stacks_into=["Quantum Basket Weaving"])
    refused = client.post(f"/api/proposals/{bad.id}/submit", headers=world.owner.headers)
    assert refused.status_code == 422
    assert [e["type"] for e in refused.json()["detail"]] == ["prescreen.stacks_into_unknown"]
