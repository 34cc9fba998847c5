"""Awarding from the pages: one learner, or a file checked line by line first and then awarded
by the worker with its progress shown; revoking with a reason; the office's report by term."""

import csv
import io
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from plumbing.settings import Settings
from tests.awards.conftest import LEARNERS, verify
from tests.conftest import Person, World
from tests.credentials.conftest import Publish
from tests.web.conftest import Browser
from workflow.awards import batches


def test_a_file_is_checked_line_by_line_then_awarded_with_its_progress(
    client: TestClient, world: World, publish: Publish, engine: Engine, settings: Settings,
    browser: Callable[[Person], Browser],
) -> None:
    credential = publish()
    owner = browser(world.owner)
    rows = [["email", "name"], [LEARNERS[0]["email"], LEARNERS[0]["name"]],
            ["not-an-address", "Someone"], [LEARNERS[1]["email"], LEARNERS[1]["name"]],
            [LEARNERS[0]["email"], "Ana again"]]
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    owner.get(f"/credentials/{credential['id']}/awards")
    checked = owner.post(f"/credentials/{credential['id']}/awards/check",
                         files={"file": ("cohort.csv", text.getvalue().encode(), "text/csv")},
                         follow=True)
    assert checked.status_code == 200
    page = checked.text
    assert "2 of 4 lines can be awarded" in page
    assert "Not awarded: email" in page and "the same learner as line 2" in page
    assert client.get(f"/api/credentials/{credential['id']}/awards",
                      headers=world.owner.headers).json() == []  # the check awarded nobody

    started = owner.post(checked.url.path + "/start", follow=True)
    assert "Awarding: 0 of 2" in started.text and "<progress" in started.text
    assert batches.award_pending(engine, settings) == 2  # what the worker does
    finished = owner.get(checked.url.path)
    assert "Done: 2 of 2" in finished.text
    made = client.get(f"/api/credentials/{credential['id']}/awards",
                      headers=world.owner.headers).json()
    assert sorted(a["recipient_email"] for a in made) == sorted(
        learner["email"] for learner in LEARNERS[:2])
    for one in made:
        verify(client, client.get(f"/api/awards/{one['id']}/credential").text)


def test_one_learner_is_awarded_and_revoked_from_the_page(
    client: TestClient, world: World, publish: Publish, browser: Callable[[Person], Browser],
) -> None:
    credential = publish()
    lead = browser(world.lead)
    lead.get(f"/credentials/{credential['id']}/awards")
    done = lead.post(f"/credentials/{credential['id']}/awards",
                     {"name": LEARNERS[2]["name"], "email": LEARNERS[2]["email"]}, follow=True)
    assert "Done: awarded" in done.text and LEARNERS[2]["name"] in done.text
    [made] = client.get(f"/api/credentials/{credential['id']}/awards",
                        headers=world.lead.headers).json()
    refused = lead.post(f"/awards/{made['id']}/revoke", {"reason": ""})
    assert refused.status_code == 422
    revoked = lead.post(f"/awards/{made['id']}/revoke", {"reason": "Entered twice"}, follow=True)
    assert "Revoked" in revoked.text and "Entered twice" in revoked.text


def test_the_office_downloads_awards_by_term_and_others_cannot(
    client: TestClient, world: World, publish: Publish, browser: Callable[[Person], Browser],
) -> None:
    credential = publish()
    client.post(f"/api/credentials/{credential['id']}/awards", headers=world.owner.headers,
                json={"recipients": LEARNERS})
    report = browser(world.coordinator).get("/overview/awards.csv")
    assert report.status_code == 200
    rows = list(csv.reader(io.StringIO(report.text)))
    assert rows[0] == ["credential", "title", "department", "term", "awarded", "revoked"]
    assert rows[1][0] == credential["id"] and rows[1][4] == "3"
    assert browser(world.owner).get("/overview/awards.csv").status_code == 403
    assert browser(world.outsider).get(
        f"/credentials/{credential['id']}/awards").status_code == 403
