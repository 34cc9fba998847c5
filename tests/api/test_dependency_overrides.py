"""`app.dependency_overrides` reaches every router: a test (or a deployment's own wrapper) can
stand in the caller, the sessions and the settings wherever the service asks for them."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from api.deps import get_current_grants, get_read_session, get_session, get_settings
from api.web import web_user
from plumbing.database import read_session, write_session
from plumbing.settings import Settings
from tests.conftest import World
from workflow.access import Grants, grants_of

# One route of each router: its path, whether it asks who is calling, and its answer.
ROUTES = [
    ("/api/me", True, 200),  # accounts
    ("/api/proposals/{id}", True, 200),  # proposals
    ("/api/proposals/{id}/reviews", True, 200),  # reviews
    ("/api/proposals/{id}/badge-design", True, 404),  # badge designs: it has none yet
    ("/api/me/email-preferences", True, 200),  # email
    ("/api/credentials", False, 200),  # credentials
    ("/actions/not-a-token", False, 404),  # email actions
    ("/proposals/{id}", True, 200),  # pages (their caller is the signed-in user)
]


@pytest.fixture
def overridden(engine: Engine, world: World, settings: Settings
               ) -> Iterator[tuple[TestClient, list[str]]]:
    app = create_app(settings, engine)
    used: list[str] = []

    def sessions_that_say_so(kind: str, opening):  # type: ignore[no-untyped-def]
        def session() -> Iterator[Session]:
            used.append(kind)
            with opening(engine) as opened:
                yield opened
        return session

    coordinator = grants_of(world.session, world.coordinator.user)

    def the_coordinator() -> Grants:
        used.append("caller")
        return coordinator

    app.dependency_overrides[get_session] = sessions_that_say_so("session", write_session)
    app.dependency_overrides[get_read_session] = sessions_that_say_so("read", read_session)
    app.dependency_overrides[get_current_grants] = the_coordinator
    app.dependency_overrides[web_user] = the_coordinator
    with TestClient(app) as client:
        yield client, used


@pytest.mark.parametrize(("path", "asks_who", "status"), ROUTES)
def test_every_router_takes_the_overridden_caller_and_sessions(
    overridden: tuple[TestClient, list[str]], world: World, path: str, asks_who: bool,
    status: int,
) -> None:
    client, used = overridden
    proposal = world.proposal()
    world.fire(proposal, "submit", world.owner)
    # No token, no cookie: only the override can say who is asking.
    answer = client.get(path.format(id=proposal.id), follow_redirects=False)
    assert answer.status_code == status, answer.text
    assert "read" in used
    assert ("caller" in used) is asks_who


def test_a_transition_takes_the_overridden_caller_and_settings(
    engine: Engine, world: World, settings: Settings
) -> None:
    app = create_app(settings, engine)
    proposal = world.proposal()
    world.fire(proposal, "submit", world.owner)
    lead = grants_of(world.session, world.lead.user)
    world.session.commit()  # hand SQLite's writer back before the requests
    app.dependency_overrides[get_current_grants] = lambda: lead
    # A rubric nobody has: approving opens a review round against it, so only a door given
    # these settings fails.
    app.dependency_overrides[get_settings] = lambda: settings.model_copy(
        update={"rubric_key": "no-such-rubric"})
    with TestClient(app) as client:
        refused = client.post(f"/api/proposals/{proposal.id}/approve")
        assert refused.status_code == 404
        assert refused.json()["detail"] == "no rubric no-such-rubric"
        del app.dependency_overrides[get_settings]
        approved = client.post(f"/api/proposals/{proposal.id}/approve")
    assert approved.status_code == 200
    assert approved.json()["state"] == "rubric_review"
