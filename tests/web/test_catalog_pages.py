"""The public catalog pages: the list with its filters and pages, and each credential's page."""

import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import World, force_state
from tests.credentials.conftest import ALT, Publish
from tests.web.conftest import Browser
from tests.web.test_access import MakeBrowser

ENTRY = re.compile(r'<h3><a href="/credentials/([A-Za-z0-9_-]+)">([^<]+)</a>')
NEXT = re.compile(r'<a href="(/credentials\?[^"]+)" rel="next">Next page</a>')
OUTCOMES = ["Lead a team through a project plan", "Communicate a plan to stakeholders",
            "Evaluate a team's progress against milestones"]


def listed(client: TestClient | Browser, url: str = "/credentials") -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return [html.unescape(title) for _, title in ENTRY.findall(response.text)]


def test_the_catalog_lists_published_credentials_with_their_badges_signed_out(
    client: TestClient, world: World, publish: Publish, in_design_review: object
) -> None:
    published = publish("Applied Data Storytelling", credits=9, level="undergraduate")
    world.proposal("A Draft Nobody Sees")
    in_design_review("Still In Design Review")  # type: ignore[operator]
    page = client.get("/credentials")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert listed(client) == ["Applied Data Storytelling"]
    assert f'<img src="/api/credentials/{published["id"]}/image" alt="{ALT}"' in page.text
    assert "Computer Science · undergraduate" in page.text
    assert "9 credits" in page.text
    assert client.get(f"/api/credentials/{published['id']}/image").status_code == 200


def test_each_filter_narrows_the_catalog(
    client: TestClient, world: World, publish: Publish
) -> None:
    publish("Applied Data Storytelling", competencies=["communication"], level="undergraduate",
            modality="hybrid")
    leadership = publish("Team Leadership Online", competencies=["leadership", "teamwork"],
                         learning_outcomes=OUTCOMES, modality="online", level="professional",
                         credit_bearing=False, credits=None, hours=30)
    both = ["Team Leadership Online", "Applied Data Storytelling"]
    assert listed(client) == both
    assert listed(client, "/credentials?competency=teamwork") == ["Team Leadership Online"]
    assert listed(client, "/credentials?competency=communication") == [
        "Applied Data Storytelling"]
    assert listed(client, "/credentials?modality=online") == ["Team Leadership Online"]
    assert listed(client, "/credentials?level=undergraduate") == ["Applied Data Storytelling"]
    assert listed(client, "/credentials?credit_bearing=true") == ["Applied Data Storytelling"]
    assert listed(client, "/credentials?credit_bearing=false") == ["Team Leadership Online"]
    assert listed(client, "/credentials?department=CS") == both
    assert listed(client, "/credentials?department=MATH") == []
    # The plain GET form sends every field, empty ones meaning "any".
    everything = ("/credentials?department=&competency=&level=&modality=&credit_bearing="
                  "&active=true")
    assert listed(client, everything) == both
    assert client.post(f"/api/proposals/{leadership['proposal_id']}/retire",
                       headers=world.coordinator.headers,
                       json={"comment": "folded into another"}).status_code == 200
    assert listed(client) == ["Applied Data Storytelling"]
    assert listed(client, "/credentials?active=") == both
    assert listed(client, "/credentials?active=false") == ["Team Leadership Online"]
    # The form offers the departments that have credentials, with the chosen one kept.
    chosen = client.get("/credentials?department=CS&level=undergraduate").text
    assert '<option value="CS" selected>Computer Science</option>' in chosen
    assert '<option value="undergraduate" selected>undergraduate</option>' in chosen


@pytest.mark.parametrize(("query", "named"), [
    ("level=expert", "level: 'expert' is not one of"),
    ("competency=juggling", "competency: 'juggling' is not one of"),
    ("modality=underwater", "modality: 'underwater' is not one of"),
    ("credit_bearing=maybe", "credit_bearing: 'maybe' is not one of"),
    ("active=sometimes", "active: 'sometimes' is not one of"),
    ("department=no%20such%20thing", "department: 'no such thing' is not a department code"),
    ("cursor=garbage!", "not a cursor from this API"),
    ("limit=0", "limit"),
    ("level=" + "x" * 101, "level"),
])
def test_a_bad_filter_answers_a_page_that_says_which(
    client: TestClient, publish: Publish, query: str, named: str
) -> None:
    publish()
    page = client.get(f"/credentials?{query}")
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert named in html.unescape(page.text)
    assert "Applied Data Storytelling" not in page.text


def test_next_page_links_walk_the_whole_catalog_without_repeats(
    client: TestClient, publish: Publish
) -> None:
    for n in range(5):
        publish(f"Credential Number {n}", level="graduate" if n % 2 else "undergraduate",
                prerequisites=["A bachelor's degree"])
    seen: list[str] = []
    url: str | None = "/credentials?limit=2"
    pages = 0
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen += [html.unescape(t) for _, t in ENTRY.findall(page.text)]
        found = NEXT.search(page.text)
        url = html.unescape(found.group(1)) if found else None
        pages += 1
    assert seen == [f"Credential Number {n}" for n in reversed(range(5))]
    assert pages == 3
    # The next page keeps the filters.
    first = client.get("/credentials?limit=1&level=graduate").text
    found = NEXT.search(first)
    assert found is not None
    assert listed(client, html.unescape(found.group(1))) == ["Credential Number 1"]
    assert NEXT.search(client.get(html.unescape(found.group(1))).text) is None


def test_a_credential_page_shows_its_badge_criteria_and_pathway_drawn(
    client: TestClient, publish: Publish
) -> None:
    base = publish("Data Foundations")
    middle = publish("Applied Data Storytelling", stacks_into=["Data Foundations"],
                     competencies=["communication"], credits=9)
    top = publish("Data Leadership Capstone", stacks_into=[str(middle["proposal_id"])])
    page = client.get(f"/credentials/{middle['id']}")
    assert page.status_code == 200
    text = page.text
    assert "<h1 id=\"credential-title\">Applied Data Storytelling</h1>" in text
    assert f'<img src="/api/credentials/{middle["id"]}/image" alt="{ALT}"' in text
    assert 'id="criteria"' in text and "present the capstone" in text
    assert "<li>communication</li>" in text and "9 credits" in text
    svg = text[text.index("<svg class=\"pathway"):text.index("</svg>")]
    assert "style=" not in svg
    for other in (base, top):
        assert f'<a href="/credentials/{other["id"]}" class="node status-active">' in svg
    assert (f'<a href="/credentials/{middle["id"]}" class="node status-active current" '
            'aria-current="page">') in svg
    assert svg.count("<line ") == 2 and 'marker-end="url(#pathway-arrow)"' in svg
    # The same pathway as a list, for screen readers and text browsers.
    assert f'<a href="/credentials/{base["id"]}">Data Foundations</a>' in text
    assert f'<a href="/credentials/{top["id"]}">Data Leadership Capstone</a>' in text
    for document in ("achievement", "badgeclass"):
        link = f"/api/credentials/{middle['id']}/{document}"
        assert f'href="{link}"' in text
        assert client.get(link).status_code == 200
    alone = client.get(f"/credentials/{publish('Standalone Badge')['id']}").text
    assert "<svg class=\"pathway" not in alone
    assert "does not stack into another published credential" in alone


def test_criteria_markdown_is_rendered_and_html_in_it_is_shown_as_text(
    client: TestClient, publish: Publish
) -> None:
    criteria = ("# Steps\n\nComplete **three courses**.\n\n<script>alert('x')</script>\n\n"
                "<img src=x onerror=alert(1)> [click](javascript:alert(1)) "
                "[syllabus](https://example.edu/syllabus)")
    credential = publish(criteria=criteria)
    text = client.get(f"/credentials/{credential['id']}").text
    criteria_html = text[text.index('<div class="criteria">'):text.index("</section>",
                                                                       text.index('id="criteria"'))]
    assert "<h3>Steps</h3>" in criteria_html
    assert "<strong>three courses</strong>" in criteria_html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in criteria_html or (
        "&lt;script&gt;alert('x')&lt;/script&gt;" in criteria_html)
    assert "<script" not in criteria_html and "<img" not in criteria_html
    assert "javascript:" not in criteria_html.replace("[click](javascript:alert(1))", "")
    assert '<a href="https://example.edu/syllabus">syllabus</a>' in criteria_html


def test_retired_and_superseded_credentials_say_so_and_link_their_versions(
    client: TestClient, world: World, engine: Engine, publish: Publish
) -> None:
    first = publish("Applied Data Storytelling")
    draft = client.post(f"/api/credentials/{first['id']}/revise", headers=world.owner.headers)
    assert draft.status_code == 201
    force_state(engine, draft.json()["id"], "design_review")
    assert client.post(f"/api/proposals/{draft.json()['id']}/approve",
                       headers=world.coordinator.headers).status_code == 200
    second = client.get("/api/credentials", params={"active": True}).json()["items"][0]
    old = client.get(f"/credentials/{first['id']}").text
    assert "<strong>Superseded</strong>" in old
    assert f'<a href="/credentials/{second["id"]}">Version 2</a>' in old
    new = client.get(f"/credentials/{second['id']}").text
    assert f'<a href="/credentials/{first["id"]}">Version 1</a>' in new
    assert "Superseded" not in new and "Retired" not in new
    assert client.post(f"/api/proposals/{second['proposal_id']}/retire",
                       headers=world.coordinator.headers,
                       json={"comment": "no longer offered"}).status_code == 200
    retired = client.get(f"/credentials/{second['id']}")
    assert retired.status_code == 200
    assert "<strong>Retired</strong> on " in retired.text
    assert '<span class="state state-retired">retired</span>' in retired.text


@pytest.mark.parametrize("public_id", ["AAAAAAAAAAAA", "no.such", "x" * 40])
def test_an_unknown_credential_is_the_html_not_found_page(
    client: TestClient, publish: Publish, public_id: str
) -> None:
    publish()
    page = client.get(f"/credentials/{public_id}")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in page.text


def test_catalog_pages_carry_the_security_headers_and_the_menu_for_everyone(
    world: World, publish: Publish, browser: MakeBrowser
) -> None:
    credential = publish()
    anonymous, owner = browser(None), browser(world.owner)
    for url in ("/credentials", f"/credentials/{credential['id']}", "/credentials/unknown"):
        answer = anonymous.get(url)
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert "style-src 'self';" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert "style=" not in answer.text
        assert '<a href="/credentials">Catalog</a>' in answer.text
        assert '<a href="/sign-in">Sign in</a>' in answer.text
        assert "My tasks" not in answer.text
    signed_in = owner.get(f"/credentials/{credential['id']}").text
    assert '<a href="/">My tasks</a>' in signed_in and "Sign out" in signed_in
    assert '<a href="/credentials">Catalog</a>' in owner.get("/").text
