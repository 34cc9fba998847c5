"""A proposal's life in a real browser (Debian's Chromium), with axe-core on every page.

From an empty database: the admin sets up a department and four people, the submitter
drafts and submits, the lead approves, two reviewers score, the coordinator returns it,
the submitter revises and resubmits, the reviewers score again and the coordinator approves
it into design review; the submitter uploads the badge design, the coordinator returns it,
the submitter changes it and resubmits, and the coordinator approves it: the credential is
published, and the submitter finds it in the public catalog. Each page is screenshotted into
test-artifacts/screenshots/.
"""

import json
import os
import re
import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from notifications.models import OutboxMessage
from workflow.accounts.models import Department, Role
from workflow.accounts.service import add_user
from workflow.credentials.models import Credential
from workflow.proposals.models import Proposal

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
IN_CI = os.environ.get("CI", "").lower() == "true"
ARGS = ["--no-sandbox", "--disable-gpu", "--headless", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One browser for this module (its event loop ends with it, so later tests may run
    their own); missing Chromium skips here and fails under CI."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"CI=true but {CHROMIUM} is missing: .ci/run installs it")
        pytest.skip(f"no {CHROMIUM} here; under CI this fails")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


class Visitor:
    """One person's browser tab: every page it lands on is checked by axe and screenshotted."""

    count = 0
    seen: set[str] = set()  # pages that look alike for everyone are checked once

    def __init__(self, browser: Any, base: str, engine: Engine, name: str,
                 viewport: dict[str, int], javascript: bool = True) -> None:
        # The app's CSP forbids inline script; axe is injected by the test, so bypass it here.
        self.context = browser.new_context(viewport=viewport, bypass_csp=True,
                                           java_script_enabled=javascript)
        self.page = self.context.new_page()
        self.base, self.engine, self.name = base, engine, name
        self.javascript = javascript

    def check(self, label: str, once: bool = False) -> None:
        if once and label in Visitor.seen:
            return
        Visitor.seen.add(label)
        page = self.page
        found = []
        if self.javascript:  # the same pages are checked with axe in the test with JavaScript
            page.add_script_tag(path=str(AXE))
            found = page.evaluate("async () => (await axe.run(document, {resultTypes: "
                                  "['violations']})).violations.map(v => ({id: v.id, "
                                  "impact: v.impact, help: v.help, nodes: v.nodes.map("
                                  "n => n.target)}))")
        bad = [v for v in found if v["impact"] in ("serious", "critical")]
        assert not bad, f"{label}: {json.dumps(bad, indent=1)[:3000]}"
        # Nothing wider than the window: a phone never scrolls the whole page sideways.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"], f"{label}: {width} px wide"
        Visitor.count += 1
        page.screenshot(path=str(SHOTS / f"{Visitor.count:02d}-{self.name}-{label}.png"),
                        full_page=True)

    def go(self, path: str, label: str, once: bool = False) -> None:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, (path, response)
        self.check(label, once)

    def click(self, name: str, label: str, *, role: str = "button", once: bool = False) -> None:
        self.page.get_by_role(role, name=name).first.click()
        self.page.wait_for_load_state()
        self.check(label, once)

    def sign_in(self, email: str) -> None:
        self.go("/sign-in", "sign-in", once=True)
        self.page.get_by_label("Your university email").fill(email)
        self.click("Email me a sign-in link", "link-sent", once=True)
        with Session(self.engine) as session:
            row = session.exec(select(OutboxMessage).where(
                OutboxMessage.recipient == email, OutboxMessage.event == "sign_in")
                .order_by(col(OutboxMessage.id).desc())).first()
            assert row is not None
            link = re.search(r"(/sign-in/[A-Za-z0-9_-]+)", row.body_text)
            assert link is not None
        self.go(link.group(1), "confirm-link", once=True)
        self.click("Sign in", "my-tasks")
        assert self.page.get_by_role("heading", name="My tasks").is_visible()

    def text(self) -> str:
        return str(self.page.inner_text("main"))


def badge_png(side: int = 400) -> bytes:
    """A real PNG a browser draws: a navy square with a red band."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    rows = b"".join(b"\0" + (b"\xab\x05\x20" if side // 3 < y < side // 2 else b"\x0c\x23\x4b")
                    * side for y in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


BADGE_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
             b'<polygon points="50,3 93,27 93,73 50,97 7,73 7,27" fill="#0c234b"/>'
             b'<circle cx="50" cy="50" r="22" fill="#ab0520"/></svg>')


def state(engine: Engine, title: str) -> str:
    with Session(engine) as session:
        return session.exec(select(Proposal.state).where(Proposal.title == title)).one()


def score_all(visitor: Visitor, proposal_path: str, round_label: str) -> None:
    page = visitor.page
    again = round_label != "round1"  # the same pages as in round 1: checked there
    visitor.go("/", f"tasks-{round_label}", once=again)
    visitor.click("score against the rubric", f"rubric-{round_label}", role="link", once=again)
    assert page.url.endswith(f"{proposal_path}/review")
    criteria = page.locator("fieldset.criterion").all()
    for criterion in criteria:
        criterion.locator("input[type=radio]").first.check()
    # The top level everywhere: the reviewer's own score, worked out as they choose, is 100%.
    assert page.locator(".my-score").inner_text() == (
        f"Your weighted score with these levels: 100% ({len(criteria)} of {len(criteria)} "
        "criteria chosen).")
    page.locator("textarea[name^=comment-]").first.fill("Clear outcomes, well assessed.")
    visitor.click("Save my scores", f"scored-{round_label}", once=again)
    assert "Done: review saved." in visitor.text()


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_proposal_from_empty_database_to_published_credential(
    chromium: Any, live_server: str, engine: Engine
) -> None:
    Visitor.count, Visitor.seen = 0, set()
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    with Session(engine) as session:  # the one step outside the pages: `microcred users add`
        add_user(session, "adam@arizona.edu", "Adam Admin", [Role.ADMIN])

    def visitor(name: str, viewport: dict[str, int] = LAPTOP) -> Visitor:
        return Visitor(chromium, live_server, engine, name, viewport)

    admin = visitor("admin")
    admin.sign_in("adam@arizona.edu")
    admin.go("/admin", "admin")
    admin.page.get_by_label("Code").fill("CS")
    admin.page.get_by_label("Name", exact=True).last.fill("Computer Science")
    admin.click("Add department", "department-added")
    people = [("sam@arizona.edu", "Sam Submitter", "submitter", "CS"),
              ("lee@arizona.edu", "Lee Lead", "department_lead", "CS"),
              ("rae@arizona.edu", "Rae Reviewer", "reviewer", ""),
              ("rob@arizona.edu", "Rob Reviewer", "reviewer", ""),
              ("cora@arizona.edu", "Cora Coordinator", "coordinator", "")]
    for email, name, role, department in people:
        admin.page.get_by_label("Email").fill(email)
        admin.page.locator("#u-name").fill(name)
        admin.page.get_by_label(role.replace("_", " "), exact=True).check()
        admin.page.get_by_label("Department (for submitter").select_option(department)
        admin.click("Save user", "user-saved", once=True)
    assert "Cora Coordinator" in admin.text()

    title = "Applied Data Storytelling"
    sam = visitor("submitter", PHONE)
    sam.sign_in("sam@arizona.edu")
    sam.click("New proposal", "new-proposal", role="link")
    form = sam.page
    form.get_by_label("Title").fill(title)
    form.get_by_label("Summary").fill("Tell stories with data that decision makers act on.")
    form.get_by_label("Level").select_option("undergraduate")
    form.get_by_label("Credit-bearing").check()
    form.get_by_label("Credits").fill("9")
    form.get_by_label("Modality").select_option("hybrid")
    form.get_by_label("Target audience").fill("Undergraduates and working professionals")
    outcomes = ["Analyze a data set and communicate the findings to a lay audience",
                "Design a reproducible analysis pipeline"]
    for number, outcome in enumerate(outcomes, start=1):
        form.get_by_role("button", name="Add to learning outcomes").click()
        form.get_by_label(f"Learning outcomes {number}", exact=True).fill(outcome)
    form.get_by_label("critical thinking").check()
    form.get_by_label("communication").check()
    form.get_by_label("Requirements").fill("Three courses of three credits each.")
    form.get_by_label("Assessment").fill("A capstone scored by two faculty.")
    form.get_by_label("Evidence").fill("The capstone report and a recorded talk.")
    form.get_by_label("Workforce need").fill("Regional employers report unfilled analyst roles.")
    form.get_by_role("button", name="Add to partners").click()
    form.get_by_label("Partners 1", exact=True).fill("Tucson Data Alliance")
    sam.click("Save draft", "draft-saved")
    # Two outcomes: the pre-screen warns next to the field, and the draft is kept.
    assert "Pre-screen warning" in sam.text() and state(engine, title) == "draft"
    form.get_by_role("button", name="Add to learning outcomes").click()
    form.get_by_label("Learning outcomes 3", exact=True).fill(
        "Evaluate the ethics of a data-driven decision")
    sam.click("Save draft", "draft-saved-again")
    sam.click("Back to the proposal page", "proposal-draft", role="link")
    proposal_path = sam.page.url.removeprefix(live_server)
    sam.click("Submit: to department review", "submitted")
    assert state(engine, title) == "department_review"

    lee = visitor("lead")
    lee.sign_in("lee@arizona.edu")
    assert title in lee.text()
    lee.click(title, "proposal-for-lead", role="link")
    lee.click("Approve: to rubric review", "approved-by-lead")
    assert state(engine, title) == "rubric_review"

    cora = visitor("coordinator")
    cora.sign_in("cora@arizona.edu")
    cora.click(title, "proposal-for-coordinator", role="link")
    cora.page.get_by_label("Rae Reviewer").check()
    cora.page.get_by_label("Rob Reviewer").check()
    cora.click("Assign", "reviewers-assigned")

    rae, rob = visitor("reviewer-1"), visitor("reviewer-2", PHONE)
    rae.sign_in("rae@arizona.edu")
    rob.sign_in("rob@arizona.edu")
    score_all(rae, proposal_path, "round1")
    score_all(rob, proposal_path, "round1")
    assert "Passes" in rob.text()

    cora.go(proposal_path + "/review", "coordinator-sees-reviews")
    assert "rae@arizona.edu" in cora.text() and "rob@arizona.edu" in cora.text()
    cora.go(proposal_path, "proposal-before-return")
    cora.page.get_by_label("Comment (required)").first.fill(
        "Name the employer partners who asked for this.")
    cora.click("Return: to returned", "returned")
    assert state(engine, title) == "returned"

    sam.go("/", "tasks-returned")
    assert "revise and resubmit" in sam.text()
    sam.go(proposal_path + "/edit", "edit-returned")
    sam.page.get_by_role("button", name="Add to partners").click()
    sam.page.get_by_label("Partners 2", exact=True).fill("Pima County Workforce Board")
    sam.click("Save draft", "revised")
    sam.go(proposal_path, "proposal-revised")
    assert "Changed since it was returned" in sam.text()
    assert "Pima County Workforce Board" in sam.page.inner_text("ins")
    sam.click("Resubmit: to rubric review", "resubmitted")
    assert state(engine, title) == "rubric_review"

    score_all(rae, proposal_path, "round2")
    score_all(rob, proposal_path, "round2")
    cora.go(proposal_path, "proposal-before-approval")
    cora.click("Approve: to design review", "approved-by-coordinator")
    assert state(engine, title) == "design_review"
    assert "design review" in (cora.page.text_content("svg.diagram .node.current") or "")

    # The badge design: uploaded, returned once, changed, resubmitted, approved.
    sam.go("/", "tasks-design")
    sam.click("upload the badge design", "design-empty", role="link")
    assert sam.page.url.endswith(f"{proposal_path}/design")
    sam.page.get_by_label("Badge image").set_input_files(
        {"name": "badge.png", "mimeType": "image/png", "buffer": badge_png()})
    # The chosen file is previewed before it is uploaded (app.js).
    sam.page.wait_for_selector("#chosen-preview:not([hidden]) img[src^='data:image/png']")
    sam.check("design-chosen")
    sam.page.get_by_label("Criteria").fill(
        "Complete the **three courses** with a B or better, and:\n\n"
        "- present the capstone to a panel\n- publish the analysis")
    sam.page.get_by_label("Alt text").fill("A navy square badge crossed by a red band")
    sam.page.get_by_label("Tags").fill("data, storytelling")
    sam.click("Save the badge design", "design-saved")
    assert "Done: badge design saved." in sam.text()
    preview = sam.page.get_by_role("img", name="A navy square badge crossed by a red band")
    assert preview.evaluate("img => img.naturalWidth") == 400
    assert sam.page.locator(".criteria strong").inner_text() == "three courses"

    cora.go("/", "tasks-design-review")
    cora.click("approve the badge design", "design-for-coordinator", role="link")
    assert cora.page.get_by_role("img", name="A navy square badge crossed by a red band"
                                 ).evaluate("img => img.naturalWidth") == 400
    cora.page.get_by_label("Comment (required)").fill("Use the university's hexagon shape.")
    cora.click("Return: to returned", "design-returned")
    assert state(engine, title) == "returned"

    sam.go(proposal_path, "proposal-design-returned")
    sam.click("Change the badge design", "design-change", role="link")
    sam.page.get_by_label("Badge image").set_input_files(
        {"name": "badge.svg", "mimeType": "image/svg+xml", "buffer": BADGE_SVG})
    sam.page.get_by_label("Alt text").fill("A navy hexagon badge with a red circle")
    sam.click("Save the badge design", "design-resaved")
    assert sam.page.get_by_role("img", name="A navy hexagon badge with a red circle"
                                ).evaluate("img => img.naturalWidth") > 0
    sam.go(proposal_path, "proposal-design-changed")
    sam.click("Resubmit: to design review", "design-resubmitted")
    assert state(engine, title) == "design_review"

    cora.go(proposal_path + "/design", "design-before-approval")
    cora.click("Approve: to published", "published")
    assert state(engine, title) == "published"
    with Session(engine) as session:
        public_id = session.exec(select(Credential.public_id).join(
            Proposal, col(Proposal.id) == Credential.proposal_id).where(
            Proposal.title == title)).one()
    link = cora.page.get_by_role("link", name="the credential's public page")
    assert (link.get_attribute("href") or "").endswith(f"/credentials/{public_id}")
    sam.go(proposal_path, "proposal-published")
    assert sam.page.get_by_role("link", name="the credential's public page").get_attribute(
        "href") == link.get_attribute("href")
    # The published credential is in the public catalog, with its own page.
    sam.go("/credentials", "catalog-with-the-credential")
    sam.click(title, "credential-page", role="link")
    assert sam.page.get_by_role("heading", level=1).inner_text() == title
    assert sam.page.url.endswith(f"/credentials/{public_id}")
    assert sam.page.get_by_role("img", name="A navy hexagon badge with a red circle"
                                ).evaluate("img => img.naturalWidth") > 0

    cora.go("/overview", "overview")
    admin.go("/admin/outbox", "outbox")
    admin.go("/admin/audit", "audit")
    assert "The audit chain verifies" in admin.text()


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_without_javascript_by_keyboard_on_a_phone(
    chromium: Any, live_server: str, engine: Engine
) -> None:
    with Session(engine) as session:
        add_user(session, "admin@arizona.edu", "Ada Admin", [Role.ADMIN])
        session.add(Department(code="CS", name="Computer Science"))
        session.commit()
        add_user(session, "sam@arizona.edu", "Sam Submitter", [Role.SUBMITTER], "CS")
    sam = Visitor(chromium, live_server, engine, "no-js", PHONE, javascript=False)
    page = sam.page
    page.goto(live_server + "/sign-in")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "email"
    sam.sign_in("sam@arizona.edu")
    sam.go("/proposals/new", "no-js-form", once=True)
    title = "Cloud Infrastructure Foundations"
    page.get_by_label("Title").fill(title)
    # Without JavaScript the list fields stay text areas, one item a line.
    page.get_by_label("Learning outcomes").fill("Design a cloud network\nDeploy a service\n"
                                                "Evaluate the cost of an architecture")
    page.get_by_label("Partners").fill("Tucson Data Alliance\nPima College")
    sam.click("Save draft", "no-js-saved", once=True)
    assert state(engine, title) == "draft"
    with Session(engine) as session:
        saved = session.exec(select(Proposal).where(Proposal.title == title)).one()
        assert saved.partners == ["Tucson Data Alliance", "Pima College"]
        assert len(saved.learning_outcomes) == 3
    sam.click("Back to the proposal page", "no-js-proposal", role="link", once=True)
    # Incomplete: the submit button is disabled and says which pre-screen errors remain.
    submit = page.get_by_role("button", name="Submit: to department review")
    assert submit.is_disabled()
    assert "Not yet:" in sam.text() and state(engine, title) == "draft"


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_public_catalog_on_a_phone_signed_out(
    chromium: Any, live_server: str, engine: Engine, publish: Any
) -> None:
    badge = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" '
             b'cy="5" r="4.5" fill="#ab0520"/><path d="M3 5l1.5 1.5L7 3.5" stroke="#fff"/></svg>')
    base = publish("Data Foundations", image=badge)
    middle = publish("Applied Data Storytelling", stacks_into=["Data Foundations"], image=badge)
    publish("Data Leadership Capstone", stacks_into=[str(middle["proposal_id"])], image=badge)
    SHOTS.mkdir(parents=True, exist_ok=True)
    visitor = Visitor(chromium, live_server, engine, "public", PHONE)
    visitor.go("/credentials", "catalog")
    page = visitor.page
    assert page.locator("ul.catalog img").count() == 3
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.get_by_label("Level").select_option("undergraduate")
    visitor.click("Show", "catalog-filtered")
    visitor.click("Applied Data Storytelling", "credential", role="link")
    assert page.locator("svg.pathway .node.current").text_content() is not None
    page.locator(f"svg.pathway a[href='/credentials/{base['id']}']").click()
    page.wait_for_load_state()
    visitor.check("credential-from-pathway")
    assert page.get_by_role("heading", level=1).inner_text() == "Data Foundations"
    # Without bypassing the CSP, as a visitor's browser loads it: nothing is refused.
    plain = chromium.new_context(viewport=PHONE)
    refused: list[str] = []
    tab = plain.new_page()
    tab.on("console", lambda message: refused.append(message.text)
           if "Content Security Policy" in message.text else None)
    tab.goto(f"{live_server}/credentials/{middle['id']}")
    tab.goto(f"{live_server}/credentials")
    plain.close()
    assert refused == []
