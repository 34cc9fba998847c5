"""Rubric review through the API: who may review, rounds, the aggregate, the guard."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from plumbing.settings import Settings
from rubric.definitions import RubricError
from tests.conftest import Person, World
from workflow.accounts.models import Role
from workflow.accounts.service import add_user, issue_token


def reviewer(world: World, email: str, department: str | None = None) -> Person:
    roles = [Role.REVIEWER] + ([Role.SUBMITTER] if department else [])
    user = add_user(world.session, email, email.split("@")[0].title(), roles, department)
    return Person(user, issue_token(world.session, user))


def scores_all(client: TestClient, headers: dict[str, str], level: str,
               **overrides: str) -> dict[str, str]:
    rubric = client.get("/api/rubrics/microcredential", headers=headers).json()
    return {c["key"]: overrides.get(c["key"], level) for c in rubric["criteria"]}


def put_review(client: TestClient, proposal_id: int, who: Person, scores: dict[str, str],
               comments: dict[str, str] | None = None) -> int:
    response = client.put(f"/api/proposals/{proposal_id}/reviews/mine",
                          json={"scores": scores, "comments": comments or {}},
                          headers=who.headers)
    return response.status_code


def test_two_review_rounds_with_three_reviewers(client: TestClient, world: World) -> None:
    rita, ravi, rosa = (reviewer(world, f"{n}@arizona.edu") for n in ("rita", "ravi", "rosa"))
    insider = reviewer(world, "insider@arizona.edu", department="CS")
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    world.fire(p, "approve", world.lead)
    url = f"/api/proposals/{p.id}"
    coordinator = world.coordinator.headers
    detail = client.get(url, headers=coordinator).json()
    assert (detail["review_round"], detail["rubric_key"], detail["rubric_version"]) == (
        1, "microcredential", 1)

    # Who may be assigned and who may score.
    assigned = client.post(f"{url}/reviewers", headers=coordinator,
                           json={"reviewers": [rita.email, ravi.email, rosa.email]})
    assert assigned.status_code == 200
    assert assigned.json()["reviewers"] == sorted([rita.email, ravi.email, rosa.email])
    refused = client.post(f"{url}/reviewers", headers=coordinator,
                          json={"reviewers": [insider.email]})
    assert refused.status_code == 422
    assert "own department" in refused.json()["detail"]
    assert client.post(f"{url}/reviewers", headers=rita.headers,
                       json={"reviewers": [rita.email]}).status_code == 403
    best = scores_all(client, rita.headers, "exemplary")
    assert put_review(client, p.id or 0, world.reviewer, best) == 403  # not assigned
    assert put_review(client, p.id or 0, world.owner, best) == 403

    # Round 1: one glowing review is not enough, and two disagreeing ones fail.
    assert put_review(client, p.id or 0, rita, best) == 200
    early = client.post(f"{url}/approve", headers=coordinator)
    assert early.status_code == 422
    assert early.json()["detail"] == (
        "the rubric result is not a pass: 2 complete reviews are needed; 1 so far.")
    worst = scores_all(client, ravi.headers, "not_evident")
    assert put_review(client, p.id or 0, ravi, worst) == 200
    failing = client.post(f"{url}/approve", headers=coordinator)
    assert failing.status_code == 422
    assert "The weighted score 50% is below the 75% needed." in failing.json()["detail"]
    round_one = client.get(f"{url}/reviews", headers=coordinator).json()
    assert round_one["result"]["passed"] is False
    assert len(round_one["reviews"]) == 2

    # A reviewer who saved theirs sees the others, unnamed; the authors see nothing until the
    # coordinator decides the round (tests/workflow/test_blind_reviews.py has the whole rule).
    assert [r["reviewer"] for r in client.get(f"{url}/reviews",
                                             headers=rita.headers).json()["reviews"]] == [
        rita.email, "Reviewer 2"]
    author_view = client.get(f"{url}/reviews", headers=world.owner.headers).json()
    assert author_view["reviews"] == []

    client.post(f"{url}/return", headers=coordinator, json={"comment": "Sharpen assessment."})
    author_view = client.get(f"{url}/reviews", params={"round": 1},
                             headers=world.owner.headers).json()
    assert [r["reviewer"] for r in author_view["reviews"]] == ["Reviewer 1", "Reviewer 2"]
    client.post(f"{url}/resubmit", headers=world.owner.headers)
    assert put_review(client, p.id or 0, ravi, worst) == 200  # the old score is gone...
    round_two = client.get(f"{url}/reviews", headers=coordinator).json()
    assert (round_two["round"], round_two["rounds"]) == (2, [1, 2])
    old = client.get(f"{url}/reviews", params={"round": 1}, headers=coordinator).json()
    assert len(old["reviews"]) == 2  # ...but round 1 stays readable

    good = scores_all(client, ravi.headers, "accomplished")
    for person, scores in ((ravi, good), (rosa, best), (rita, best)):
        comment = {"assessment_evidence": "Clear."}
        assert put_review(client, p.id or 0, person, scores, comment) == 200
    passed = client.get(f"{url}/reviews", headers=coordinator).json()["result"]
    assert passed["passed"] is True
    approved = client.post(f"{url}/approve", headers=coordinator)
    assert (approved.status_code, approved.json()["state"]) == (200, "design_review")
    assert put_review(client, p.id or 0, rita, best) == 409  # reviews close with the stage

    history = client.get(f"{url}/history", headers=coordinator).json()
    assert sum(1 for e in history if e["action"] == "review" and e["outcome"] == "accepted") == 6


def test_incomplete_or_unknown_scores_are_422_and_change_nothing(
    client: TestClient, world: World
) -> None:
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    world.fire(p, "approve", world.lead)
    coordinator = world.coordinator
    scores = scores_all(client, coordinator.headers, "accomplished")
    first = next(iter(scores))
    missing = {k: v for k, v in scores.items() if k != first}
    assert put_review(client, p.id or 0, coordinator, missing) == 422
    assert put_review(client, p.id or 0, coordinator, {**scores, first: "superb"}) == 422
    assert put_review(client, p.id or 0, coordinator, {**scores, "charisma": "exemplary"}) == 422
    view = client.get(f"/api/proposals/{p.id}/reviews", headers=coordinator.headers).json()
    assert view["reviews"] == []


def test_admin_adds_a_rubric_version_and_old_rounds_keep_theirs(
    client: TestClient, world: World
) -> None:
    current = client.get("/api/rubrics/microcredential", headers=world.admin.headers).json()
    assert client.post("/api/rubrics", json=current,
                       headers=world.admin.headers).status_code == 409
    assert client.post("/api/rubrics", json={**current, "version": 2},
                       headers=world.coordinator.headers).status_code == 403
    broken = {**current, "version": 2, "levels": []}
    bad = client.post("/api/rubrics", json=broken, headers=world.admin.headers)
    assert bad.status_code == 422
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    world.fire(p, "approve", world.lead)
    added = client.post("/api/rubrics", json={**current, "version": 2},
                        headers=world.admin.headers)
    assert added.status_code == 201
    versions = [(r["key"], r["version"]) for r in
                client.get("/api/rubrics", headers=world.owner.headers).json()]
    assert ("microcredential", 2) in versions
    detail = client.get(f"/api/proposals/{p.id}", headers=world.owner.headers).json()
    assert detail["rubric_version"] == 1


def test_a_malformed_office_rubric_stops_start_up_naming_the_file(
    engine: object, tmp_path: Path
) -> None:
    bad = tmp_path / "office.yaml"
    bad.write_text("key: office\nversion: 1\ntitle: Office\nlevels: []\ncriteria: []\n"
                   "scoring: {module: all_of, rules: []}\n")
    settings = Settings(_env_file=None, rubric_dir=str(tmp_path))  # type: ignore[call-arg]
    with pytest.raises(RubricError) as refused:
        create_app(settings, engine)  # type: ignore[arg-type]
    assert str(bad) in str(refused.value)
    assert "levels" in str(refused.value)


def test_changing_a_stored_rubric_version_in_place_is_refused(
    engine: object, tmp_path: Path
) -> None:
    default = (Path(__file__).parents[2] / "rubric/definitions/microcredential-v1.yaml")
    create_app(Settings(_env_file=None), engine)  # type: ignore[arg-type,call-arg]
    edited = tmp_path / "microcredential-v1.yaml"
    edited.write_text(default.read_text().replace("min_reviews: 2", "min_reviews: 3"))
    with pytest.raises(RubricError, match="give the changed rubric a new version number"):
        create_app(Settings(_env_file=None, rubric_dir=str(tmp_path)),  # type: ignore[call-arg]
                   engine)  # type: ignore[arg-type]


def test_a_missing_office_rubric_folder_stops_start_up(engine: object, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, rubric_dir=str(tmp_path / "nowhere"))  # type: ignore[call-arg]
    with pytest.raises(RubricError, match="not a folder of rubric files"):
        create_app(settings, engine)  # type: ignore[arg-type]
