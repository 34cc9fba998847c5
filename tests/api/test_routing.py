"""The JSON API's route class: a plain route answers every call exactly as FastAPI's own handler
does, and the busy routes are the plain ones."""

import json
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Body, FastAPI, Response
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import errors
from api.deps import ApiDep
from api.routes import proposals
from api.routes.proposals import ProposalId
from api.routing import ApiRoute, _plain
from workflow.models import ProposalUpdate, TriggerRequest


def twin_app() -> FastAPI:
    """Two routes with one endpoint, one per route class, in one app with the service's error
    handlers: `/api/ours/...` (ApiRoute) and `/api/fastapi/...` (FastAPI's handler)."""
    app = FastAPI()
    app.state.engine = None  # the endpoint only echoes what it was given
    errors.install(app)
    for prefix, route_class in (("/api/ours", ApiRoute), ("/api/fastapi", APIRoute)):
        router = APIRouter(prefix=prefix, route_class=route_class)

        @router.post("/{proposal_id}/{trigger:trigger}")
        async def fire(proposal_id: ProposalId, trigger: str, api: ApiDep,
                       body: Annotated[TriggerRequest | None, Body()] = None) -> Response:
            return echo(proposal_id=proposal_id, trigger=trigger, token=api.token,
                        body=body.model_dump(exclude_unset=True) if body else None)

        @router.patch("/{proposal_id}")
        async def edit(proposal_id: ProposalId, body: ProposalUpdate, api: ApiDep) -> Response:
            return echo(proposal_id=proposal_id, token=api.token,
                        body=body.model_dump(exclude_unset=True, mode="json"))

        app.include_router(router)
    return app


def echo(**given: Any) -> Response:
    return Response(json.dumps(given), media_type="application/json")


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(twin_app(), raise_server_exceptions=False)


def same_answer(client: TestClient, method: str, path: str, *, content: bytes | None = None,
                headers: dict[str, str] | None = None) -> Any:
    """Send the call to both twins; they must answer it alike. Returns the answer."""
    ours = client.request(method, "/api/ours" + path, content=content, headers=headers)
    theirs = client.request(method, "/api/fastapi" + path, content=content, headers=headers)
    assert (ours.status_code, ours.headers.get("content-type"), ours.content) == (
        theirs.status_code, theirs.headers.get("content-type"), theirs.content)
    return ours


BEARER = {"Authorization": "Bearer mc_token"}
JSON = {**BEARER, "Content-Type": "application/json"}
UTF8 = {**BEARER, "Content-Type": "application/json; charset=utf-8"}


@pytest.mark.parametrize(("path", "content", "headers", "status"), [
    ("/5/submit", None, BEARER, 200),
    ("/5/return", b'{"comment": "Please add an assessment."}', JSON, 200),
    ("/5/return", b'{"comment": "Jos\\u00e9", "version": 3}', JSON, 200),
    ("/5/return", b'{"comment": "x"}', UTF8, 200),
    ("/5/submit", b"null", JSON, 200),
    ("/0/submit", None, BEARER, 422),
    ("/2147483648/submit", None, BEARER, 422),
    ("/abc/submit", None, BEARER, 422),
    ("/05/submit", None, BEARER, 200),
    ("/5/return", b'{"comment": "x", "extra": 1}', JSON, 422),
    ("/5/return", b'{"version": "three"}', JSON, 422),
    ("/5/return", json.dumps({"comment": "x" * 5001}).encode(), JSON, 422),
    ("/5/return", b'{"comment": ', JSON, 422),
    ("/5/return", b"[1, 2]", JSON, 422),
    ("/5/return", b'{"comment": "x"}', {**BEARER, "Content-Type": "text/plain"}, 422),
    ("/5/return", b'{"comment": "x"}', {**BEARER, "Content-Type": "application/vnd.x+json"}, 200),
    ("/5/return", b'{"comment": "x"}', BEARER, 422),
    ("/5/submit", None, {}, 401),
    ("/5/submit", None, {"Authorization": "Basic dXNlcjpwYXNz"}, 401),
    ("/abc/submit", None, {}, 401),
    ("/5/return", b'{"comment": ', {"Content-Type": "application/json"}, 422),
])
def test_a_transition_call_is_answered_as_fastapi_answers_it(
    client: TestClient, path: str, content: bytes | None, headers: dict[str, str], status: int
) -> None:
    answer = same_answer(client, "POST", path, content=content, headers=headers)
    assert answer.status_code == status, answer.text


@pytest.mark.parametrize(("content", "status"), [
    (b'{"title": "Data Literacy", "version": 2}', 200),
    (b'{"title": null}', 200),
    (b"{}", 200),
    (b"", 422),
    (b"null", 422),
    (b'{"credits": "many"}', 422),
    (b'{"owner_id": 3}', 422),
])
def test_an_edit_call_is_answered_as_fastapi_answers_it(
    client: TestClient, content: bytes, status: int
) -> None:
    answer = same_answer(client, "PATCH", "/7", content=content, headers=JSON)
    assert answer.status_code == status, answer.text


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=6,
)
BODIES = (st.fixed_dictionaries({}, optional={"comment": st.none() | st.text(max_size=20),
                                               "version": JSON_VALUES})
          | JSON_VALUES).map(lambda value: json.dumps(value).encode())


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=BODIES | st.binary(max_size=30),
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-8",
                                     "text/plain", "APPLICATION/JSON", ""]),
       trigger=st.sampled_from(["submit", "return"]), proposal_id=st.sampled_from(["1", "x", "-1"]))
def test_any_body_is_answered_as_fastapi_answers_it(
    client: TestClient, content: bytes, content_type: str, trigger: str, proposal_id: str
) -> None:
    headers = {**BEARER, "Content-Type": content_type} if content_type else BEARER
    same_answer(client, "POST", f"/{proposal_id}/{trigger}", content=content, headers=headers)


@pytest.mark.parametrize("name", ["fire_trigger", "create_proposal", "get_proposal",
                                  "edit_proposal"])
def test_the_busy_proposal_routes_read_their_well_formed_calls_themselves(name: str) -> None:
    route = next(r for r in proposals.router.routes if getattr(r, "name", "") == name)
    assert isinstance(route, ApiRoute) and _plain(route) is not None


def test_a_route_of_another_shape_keeps_fastapis_handler() -> None:
    listing = next(r for r in proposals.router.routes
                   if getattr(r, "name", "") == "list_proposals")
    assert isinstance(listing, ApiRoute) and _plain(listing) is None  # it takes query parameters
