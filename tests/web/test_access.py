"""What a user cannot do by editing a URL or a form field, CSRF, and the pages' headers."""

from collections.abc import Callable

from sqlalchemy import Engine
from sqlmodel import Session, select

from tests.conftest import Person, World, force_state
from tests.web.conftest import Browser
from workflow.accounts.models import User
from workflow.audit import AuditEntry
from workflow.proposals.models import Proposal

MakeBrowser = Callable[[Person | None], Browser]


def state_of(engine: Engine, proposal_id: int | None) -> tuple[str, int, str]:
    with Session(engine) as session:
        p = session.get(Proposal, proposal_id)
        assert p is not None
        return p.state, p.version, p.title


def test_every_page_answers_for_its_people(world: World, browser: MakeBrowser) -> None:
    p = world.proposal()
    owner = browser(world.owner)
    for url in ["/", "/proposals", "/proposals/new", f"/proposals/{p.id}",
                f"/proposals/{p.id}/edit"]:
        assert owner.get(url).status_code == 200, url
    admin = browser(world.admin)
    for url in ["/admin", "/admin/outbox", "/admin/outbox?status=dead", "/admin/outbox?status=",
                "/admin/audit", "/overview"]:
        assert admin.get(url).status_code == 200, url
    assert admin.get("/admin/outbox?status=lost").status_code == 422


def test_another_departments_draft_is_not_found_by_url(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    draft = world.proposal("Private Draft Credential")
    for person in (world.outsider, world.colleague, world.other_lead, world.coordinator):
        b = browser(person)
        assert b.get(f"/proposals/{draft.id}").status_code == 404
        assert b.get(f"/proposals/{draft.id}/edit").status_code == 404
        b.get("/")
        answer = b.post(f"/proposals/{draft.id}/edit", {"title": "Taken over"})
        assert answer.status_code == 404
        assert "Private Draft Credential" not in b.get("/proposals").text
    assert state_of(engine, draft.id) == ("draft", 1, "Private Draft Credential")


def test_another_roles_action_is_refused_by_url(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    owner, other_lead = browser(world.owner), browser(world.other_lead)
    owner.get(f"/proposals/{p.id}")
    assert "Approve" not in owner.get(f"/proposals/{p.id}").text
    assert owner.post(f"/proposals/{p.id}/actions/approve").status_code == 403
    other_lead.get(f"/proposals/{p.id}")
    refused = other_lead.post(f"/proposals/{p.id}/actions/reject", {"comment": "no"})
    assert refused.status_code == 403
    assert "only a lead of the proposal" in refused.text
    assert state_of(engine, p.id)[0] == "department_review"


def test_a_submitter_cannot_reach_admin_or_overview_pages(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    b = browser(world.owner)
    for url in ("/admin", "/admin/outbox", "/overview"):
        assert b.get(url).status_code == 403
    b.get("/")
    answer = b.post("/admin/users", {"email": "new@arizona.edu", "name": "New",
                                     "role": "admin"})
    assert answer.status_code == 403
    with Session(engine) as session:
        assert session.exec(select(User).where(User.email == "new@arizona.edu")).first() is None


def test_a_form_field_naming_another_department_creates_nothing(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    b = browser(world.owner)
    b.get("/proposals/new")
    answer = b.post("/proposals/new", {"department": "MATH", "title": "Smuggled In"})
    assert answer.status_code == 403
    with Session(engine) as session:
        assert session.exec(select(Proposal).where(Proposal.title == "Smuggled In")).first() \
            is None


def test_a_state_field_in_the_edit_form_changes_no_state(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    p = world.proposal()
    b = browser(world.owner)
    b.get(f"/proposals/{p.id}/edit")
    answer = b.post(f"/proposals/{p.id}/edit", {"title": "Renamed", "state": "published",
                                                "version": "1"})
    assert answer.status_code == 303
    state, _version, title = state_of(engine, p.id)
    assert (state, title) == ("draft", "Renamed")


def test_a_stale_version_is_refused(world: World, browser: MakeBrowser, engine: Engine) -> None:
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    b = browser(world.lead)
    b.get(f"/proposals/{p.id}")
    answer = b.post(f"/proposals/{p.id}/actions/approve", {"version": "1"})
    assert answer.status_code == 409
    assert state_of(engine, p.id)[0] == "department_review"


def test_a_post_without_the_csrf_token_is_refused(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    lead = browser(world.lead)
    answer = lead.post(f"/proposals/{p.id}/actions/approve", csrf=False)
    assert answer.status_code == 403
    assert "security token" in answer.text
    # A token read by another browser does not fit this browser's cookie either.
    other = browser(world.lead)
    other.get("/")
    lead.get("/")
    lead.token = other.token
    assert lead.post(f"/proposals/{p.id}/actions/approve").status_code == 403
    assert state_of(engine, p.id)[0] == "department_review"


def test_a_reviewer_not_assigned_cannot_score(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    p = world.proposal()
    force_state(engine, p.id or 0, "rubric_review")
    with Session(engine) as session:
        row = session.get(Proposal, p.id)
        assert row is not None
        row.review_round, row.rubric_key, row.rubric_version = 1, "microcredential", 1
        session.add(row)
        session.commit()
    b = browser(world.reviewer)
    page = b.get(f"/proposals/{p.id}/review")
    assert page.status_code == 200
    assert "Save my scores" not in page.text
    answer = b.post(f"/proposals/{p.id}/review", {"score-x": "exemplary"})
    assert answer.status_code == 403
    with Session(engine) as session:
        refused = session.exec(select(AuditEntry).where(AuditEntry.action == "review")).all()
        assert [e.outcome for e in refused] == ["refused"]


def test_pages_carry_security_headers(world: World, browser: MakeBrowser) -> None:
    answer = browser(world.owner).get("/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in answer.text and "http://" not in answer.text.replace(
        "http://www.w3.org", "")


def test_signed_out_pages_send_to_sign_in(browser: MakeBrowser, world: World) -> None:
    answer = browser(None).client.get("/proposals/new", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=%2Fproposals%2Fnew"


def test_a_return_without_comment_is_refused_and_changes_nothing(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    lead = browser(world.lead)
    page = lead.get(f"/proposals/{p.id}")
    assert 'name="comment" rows="2" required' in page.text
    answer = lead.post(f"/proposals/{p.id}/actions/return", {"comment": "  "})
    assert answer.status_code == 422
    assert "comment" in answer.text
    assert state_of(engine, p.id)[0] == "department_review"


def test_unknown_pages_answer_html_and_the_api_keeps_json(
    world: World, browser: MakeBrowser
) -> None:
    b = browser(world.owner)
    page = b.get("/no-such-page")
    assert page.status_code == 404 and "<h1>Not found</h1>" in page.text
    assert b.get("/proposals/999999").status_code == 404
    api = b.client.get("/api/proposals/999999", headers=world.owner.headers)
    assert api.status_code == 404 and api.json() == {"detail": "no such proposal"}


def test_only_the_coordinator_assigns_reviewers_whatever_the_form_says(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    for person in (world.lead, world.reviewer, world.owner):
        b = browser(person)
        b.get(f"/proposals/{p.id}")
        answer = b.post(f"/proposals/{p.id}/reviewers", {"reviewer": world.reviewer.email})
        assert answer.status_code == 403
    with Session(engine) as session:
        tried = session.exec(select(AuditEntry).where(
            AuditEntry.action == "assign_reviewers")).all()
        assert {e.outcome for e in tried} == {"refused"}


def test_a_coordinator_who_co_authors_is_not_offered_reviewer_assignment(
    world: World, browser: MakeBrowser
) -> None:
    theirs = world.proposal(co_authors=[world.coordinator.email])
    other = world.proposal("Another Credential")
    for p in (theirs, other):
        world.fire(p, "submit", world.owner)
    coordinator = browser(world.coordinator)
    # The page offers the form by the door's own rule: separation of duties hides it here.
    assert "Assign reviewers" not in coordinator.get(f"/proposals/{theirs.id}").text
    assert "Assign reviewers" in coordinator.get(f"/proposals/{other.id}").text
    coordinator.get(f"/proposals/{theirs.id}")
    refused = coordinator.post(f"/proposals/{theirs.id}/reviewers",
                               {"reviewer": world.reviewer.email})
    assert refused.status_code == 403
