"""Input no route could store or answer is a 422 that names where it is and changes nothing:
numbers that are not finite, text that is not text, addresses that are not plain addresses,
nesting no document has. Never a 500, and the answer never echoes what it cannot encode."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, func, select

from api.demo import sample_proposal
from tests.conftest import World
from workflow.audit import AuditEntry
from workflow.proposals.models import Proposal

NOT_FINITE = ["NaN", "Infinity", "-Infinity"]


def raw_post(client: TestClient, path: str, body: str, headers: dict[str, str],
             method: str = "POST") -> Any:
    return client.request(method, path, content=body.encode("utf-8", "surrogatepass"),
                          headers={**headers, "Content-Type": "application/json"})


def a_proposal_body(world: World, **changes: Any) -> dict[str, Any]:
    return {**sample_proposal("Data Ethics", "CS").model_dump(mode="json"), **changes}


def counts(session: Session) -> tuple[int, int]:
    session.rollback()
    found = (session.exec(select(func.count()).select_from(Proposal)).one(),
             session.exec(select(func.count()).select_from(AuditEntry)).one())
    session.rollback()  # hand SQLite's writer back to the requests
    return found


@pytest.mark.parametrize("constant", NOT_FINITE)
def test_a_number_that_is_not_finite_is_422_wherever_it_is(
    client: TestClient, world: World, constant: str
) -> None:
    proposal = world.proposal()
    before = counts(world.session)
    body = json.dumps(a_proposal_body(world)).replace('"credits": 9.0', f'"credits": {constant}')
    assert constant in body
    for path, method, text in [
        ("/api/proposals", "POST", body),
        (f"/api/proposals/{proposal.id}", "PATCH", f'{{"credits": {constant}}}'),
        (f"/api/proposals/{proposal.id}/submit", "POST", f'{{"version": {constant}}}'),
        ("/api/rubrics", "POST", f'{{"key": "r", "levels": [{{"points": {constant}}}]}}'),
    ]:
        headers = world.admin.headers if path == "/api/rubrics" else world.owner.headers
        answer = raw_post(client, path, text, headers, method)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["detail"][0]["type"] == "finite_number"
        assert "finite" in answer.json()["detail"][0]["msg"]
    assert counts(world.session) == before


def test_a_lone_surrogate_or_a_control_character_in_any_text_is_422(
    client: TestClient, world: World
) -> None:
    proposal = world.proposal()
    before = counts(world.session)
    for bad in ("\\ud800", "\\udfff tail", "bell \\u0007", "nul \\u0000"):
        answers = [
            raw_post(client, "/api/proposals",
                     json.dumps(a_proposal_body(world)).replace('"Data Ethics"', f'"{bad}"'),
                     world.owner.headers),
            raw_post(client, f"/api/proposals/{proposal.id}/submit",
                     f'{{"comment": "{bad}"}}', world.owner.headers),
            raw_post(client, f"/api/proposals/{proposal.id}", f'{{"{bad}": 1}}',
                     world.owner.headers, "PATCH"),
        ]
        for answer in answers:
            assert answer.status_code == 422, answer.text
            assert answer.json()["detail"][0]["type"] == "string_not_text"
    assert counts(world.session) == before


def test_a_co_author_address_with_a_line_break_or_a_display_name_is_422(
    client: TestClient, world: World
) -> None:
    before = counts(world.session)
    for address in ("x@arizona.edu\r\nRCPT TO:<evil@example.com>", "Bob <bob@arizona.edu>",
                    "two words@arizona.edu", "\"quoted\"@arizona.edu", "nobody"):
        answer = client.post("/api/proposals", headers=world.owner.headers,
                             json=a_proposal_body(world, co_authors=[address]))
        assert answer.status_code == 422, address
        assert answer.json()["detail"][0]["loc"][:2] == ["body", "co_authors"]
    assert counts(world.session) == before


def test_a_plain_co_author_address_is_kept_lower_case(client: TestClient, world: World) -> None:
    answer = client.post("/api/proposals", headers=world.owner.headers,
                         json=a_proposal_body(world, co_authors=[" CoAuthor@Arizona.EDU "]))
    assert answer.status_code == 201
    assert answer.json()["co_authors"] == ["coauthor@arizona.edu"]


@pytest.mark.parametrize("depth", [40, 100_000])
def test_absurd_nesting_is_422(client: TestClient, world: World, depth: int) -> None:
    before = counts(world.session)
    body = "[" * depth + "]" * depth
    answer = raw_post(client, "/api/rubrics", f'{{"key": {body}}}', world.admin.headers)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "too_deep"
    assert counts(world.session) == before


# Values Python's JSON parser reads but no route can take as they are.
HOSTILE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats()
    | st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=8)
    | st.sampled_from(["\ud800", "\x00", "\x1b[2J", "a\r\nb"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6) | st.sampled_from(["title", "credits", "comment",
                                                               "\udc80"]), inner, max_size=3),
    max_leaves=12)


@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(body=HOSTILE, route=st.sampled_from([
    ("POST", "/api/proposals"), ("PATCH", "/api/proposals/{id}"),
    ("POST", "/api/proposals/{id}/submit"), ("POST", "/api/proposals/{id}/return"),
    ("PUT", "/api/proposals/{id}/reviews/mine"), ("POST", "/api/proposals/{id}/reviewers"),
    ("POST", "/api/rubrics"), ("POST", "/api/departments"),
    ("PUT", "/api/me/email-preferences"),
]))
def test_hostile_json_to_any_route_is_never_a_server_error(
    client_and_world: tuple[TestClient, World, int], body: Any, route: tuple[str, str]
) -> None:
    client, world, proposal_id = client_and_world
    method, path = route
    text = json.dumps(body, allow_nan=True)  # lone surrogates go as \u escapes
    answer = raw_post(client, path.format(id=proposal_id), text, world.admin.headers, method)
    assert answer.status_code < 500, answer.text
    answer.json()  # whatever it says, it is JSON


@pytest.fixture
def client_and_world(client: TestClient, world: World) -> tuple[TestClient, World, int]:
    proposal_id = world.proposal().id or 0
    world.session.commit()  # hand SQLite's writer back to the requests
    return client, world, proposal_id
