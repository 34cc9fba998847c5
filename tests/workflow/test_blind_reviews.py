"""Blind reviews, wherever reviews show: the history, the proposal page's timeline, the reviews
endpoint and the review page. A reviewer sees others' scores only after saving their own; the
authors see "Reviewer N" and the comments the coordinator's decision releases; names and
scores stay the coordinator's."""

import json

from fastapi.testclient import TestClient

from api.web import SESSION_COOKIE, session_cookie_value
from plumbing.settings import Settings
from tests.conftest import Person, World
from tests.workflow.test_reviews import put_review, reviewer, scores_all

RITA_SAYS = "Rita thinks the assessment is thin"
RAVI_SAYS = "Ravi wants employer letters"


def page(client: TestClient, settings: Settings, who: Person, path: str) -> str:
    client.cookies.set(SESSION_COOKIE, session_cookie_value(settings, who.user))
    try:
        answer = client.get(path)
        assert answer.status_code == 200, answer.text
        return answer.text
    finally:
        client.cookies.clear()


def everything(client: TestClient, settings: Settings, who: Person, proposal_id: int) -> str:
    """All a reader can get about the proposal's reviews, as one text to search."""
    url = f"/api/proposals/{proposal_id}"
    return "\n".join([
        json.dumps(client.get(f"{url}/history", headers=who.headers).json()),
        json.dumps(client.get(f"{url}/reviews", headers=who.headers).json()),
        page(client, settings, who, f"/proposals/{proposal_id}"),
        page(client, settings, who, f"/proposals/{proposal_id}/review"),
    ])


def shows_rita_scores(seen: str, criterion: str) -> bool:
    """Rita scores every criterion "exemplary": in JSON, or in the review page's table."""
    return f'"{criterion}": "exemplary"' in seen or "<td>exemplary</td>" in seen


def test_reviews_stay_blind_until_each_reader_may_see_them(
    client: TestClient, world: World, settings: Settings
) -> None:
    rita, ravi = reviewer(world, "rita@arizona.edu"), reviewer(world, "ravi@arizona.edu")
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    world.fire(p, "approve", world.lead)
    pid = p.id or 0
    url = f"/api/proposals/{pid}"
    coordinator = world.coordinator.headers
    assert client.post(f"{url}/reviewers", headers=coordinator,
                       json={"reviewers": [rita.email, ravi.email]}).status_code == 200
    rubric = scores_all(client, rita.headers, "exemplary")
    criterion = next(iter(rubric))
    assert put_review(client, pid, rita, rubric, {criterion: RITA_SAYS}) == 200

    # Before saving his own, Ravi learns nothing of Rita's review; nor do the authors and
    # other readers: not her name, her comment, or her scores.
    for reader in (ravi, world.owner, world.co_author, world.colleague):
        seen = everything(client, settings, reader, pid)
        assert rita.email not in seen and RITA_SAYS not in seen
        assert not shows_rita_scores(seen, criterion), reader.email
        view = client.get(f"{url}/reviews", headers=reader.headers).json()
        assert view["reviews"] == [] and view["result"] is None

    # Having saved his own, Ravi sees Rita's scores and comments, as "Reviewer 1".
    assert put_review(client, pid, ravi, scores_all(client, ravi.headers, "accomplished"),
                      {criterion: RAVI_SAYS}) == 200
    ravi_view = client.get(f"{url}/reviews", headers=ravi.headers).json()
    assert [(r["reviewer"], r["scores"][criterion]) for r in ravi_view["reviews"]] == [
        ("Reviewer 1", "exemplary"), (ravi.email, "accomplished")]
    assert ravi_view["result"] is not None
    ravi_seen = everything(client, settings, ravi, pid)
    assert RITA_SAYS in ravi_seen and rita.email not in ravi_seen
    history = client.get(f"{url}/history", headers=ravi.headers).json()
    ritas = [e for e in history if e["action"] == "review" and e["actor"] == "Reviewer 1"]
    assert ritas and ritas[0]["detail"]["scores"][criterion] == "exemplary"
    assert ritas[0]["hash"] == ""  # a hash over hidden fields would let guesses be tested

    # The authors still see nothing until the coordinator decides.
    owner_seen = everything(client, settings, world.owner, pid)
    assert RITA_SAYS not in owner_seen and RAVI_SAYS not in owner_seen

    # The coordinator sees names and scores throughout.
    coordinator_seen = everything(client, settings, world.coordinator, pid)
    assert rita.email in coordinator_seen and RITA_SAYS in coordinator_seen
    names = [r["reviewer"] for r in client.get(f"{url}/reviews",
                                               headers=coordinator).json()["reviews"]]
    assert names == [rita.email, ravi.email]

    # Returning the proposal releases the round's comments to the authors, without names
    # or scores.
    assert client.post(f"{url}/return", headers=coordinator,
                       json={"comment": "See the reviewers' comments."}).status_code == 200
    for author in (world.owner, world.co_author):
        view = client.get(f"{url}/reviews", params={"round": 1}, headers=author.headers).json()
        assert [(r["reviewer"], r["comments"][criterion], r["scores"])
                for r in view["reviews"]] == [("Reviewer 1", RITA_SAYS, {}),
                                              ("Reviewer 2", RAVI_SAYS, {})]
        seen = everything(client, settings, author, pid)
        assert rita.email not in seen and ravi.email not in seen
        assert not shows_rita_scores(seen, criterion)
        assert RITA_SAYS in seen
    timeline = page(client, settings, world.owner, f"/proposals/{pid}")
    assert "review</strong>" in timeline.lower() and "by Reviewer 1" in timeline
