"""The badge design page: the owner uploads, bad files are refused next to their field and
change nothing, nobody else uploads, and the coordinator returns or approves from the page."""

import hashlib
import re
from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from tests.conftest import Person, World, force_state
from tests.credentials.conftest import ALT, CRITERIA, png, svg
from tests.web.conftest import Browser
from workflow.audit import AuditEntry
from workflow.credentials.models import BadgeDesign, Credential
from workflow.proposals.models import Proposal

MakeBrowser = Callable[[Person | None], Browser]
TEXTS = {"criteria_narrative": "Complete **three** courses:\n\n- Data I\n- Data II",
         "alt_text": ALT, "tags": "data, storytelling"}


def design_of(engine: Engine, proposal_id: int | None) -> BadgeDesign | None:
    with Session(engine) as session:
        return session.exec(select(BadgeDesign).where(
            BadgeDesign.proposal_id == proposal_id)).first()


def state_of(engine: Engine, proposal_id: int | None) -> str:
    with Session(engine) as session:
        proposal = session.get(Proposal, proposal_id)
        assert proposal is not None
        return proposal.state


def send(b: Browser, proposal_id: int | None, image: bytes | None, filename: str = "badge.png",
         **texts: str):  # type: ignore[no-untyped-def]
    b.get(f"/proposals/{proposal_id}/design")
    # An empty file part is what a browser sends when no file was chosen.
    part = (filename, image, "application/octet-stream") if image is not None else (
        "", b"", "application/octet-stream")
    return b.post(f"/proposals/{proposal_id}/design", {**TEXTS, **texts},
                  files={"image": part})


def test_the_owner_uploads_a_png_and_sees_it_with_its_alt_text_and_criteria(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    p = world.proposal()
    owner = browser(world.owner)
    page = owner.get(f"/proposals/{p.id}/design")
    assert page.status_code == 200
    assert 'type="file" id="f-image" name="image" accept="image/png,image/svg+xml' in page.text
    image = png(400, 400)
    answer = send(owner, p.id, image)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/proposals/{p.id}/design?done=badge_design_saved"
    page = owner.get(f"/proposals/{p.id}/design")
    digest = hashlib.sha256(image).hexdigest()
    assert f'src="/proposals/{p.id}/design/image?v={digest[:12]}" alt="{ALT}"' in page.text
    assert "<strong>three</strong>" in page.text and "<li>Data II</li>" in page.text
    served = owner.get(f"/proposals/{p.id}/design/image")
    assert served.content == image
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["cache-control"].startswith("private")
    with Session(engine) as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "badge_design")).one()
        assert (entry.channel, entry.detail["sha256"]) == ("web", digest)
    # The proposal page shows the design too and links to its page.
    proposal_page = owner.get(f"/proposals/{p.id}").text
    assert f'href="/proposals/{p.id}/design">Change the badge design' in proposal_page
    assert f'alt="{ALT}"' in proposal_page


def test_an_svg_is_served_to_the_page_with_a_sandboxing_policy(
    world: World, browser: MakeBrowser
) -> None:
    p = world.proposal()
    owner = browser(world.owner)
    assert send(owner, p.id, svg('<circle cx="5" cy="5" r="4"/>'), "badge.svg"
                ).status_code == 303
    served = owner.get(f"/proposals/{p.id}/design/image")
    assert served.headers["content-type"].startswith("image/svg+xml")
    assert served.headers["content-security-policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'; sandbox")


BAD_FILES = {
    "a PNG renamed .svg": (png(400, 400), "badge.svg", "named .svg but its content is image/png"),
    "an SVG with a script": (svg("<script>alert(1)</script>"), "badge.svg",
                             "contains a &lt;script&gt; element"),
    "a non-square PNG": (png(600, 400), "badge.png", "must be square"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_is_refused_next_to_the_field_and_changes_nothing(
    world: World, browser: MakeBrowser, engine: Engine, case: str
) -> None:
    p = world.proposal()
    owner = browser(world.owner)
    first = png(400, 400)
    assert send(owner, p.id, first).status_code == 303
    image, filename, message = BAD_FILES[case]
    answer = send(owner, p.id, image, filename, criteria_narrative="A new narrative")
    assert answer.status_code == 422
    next_to_image = re.search(r'<p class="error" id="e-image">([^<]*)</p>', answer.text)
    assert next_to_image is not None and message in next_to_image.group(1)
    assert "Nothing was saved" in answer.text
    assert ">A new narrative</textarea>" in answer.text  # what was typed is kept
    design = design_of(engine, p.id)
    assert design is not None
    assert (design.sha256, design.criteria_narrative) == (
        hashlib.sha256(first).hexdigest(), TEXTS["criteria_narrative"])


def test_missing_alt_text_is_shown_next_to_its_field(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    p = world.proposal()
    answer = send(browser(world.owner), p.id, png(400, 400), alt_text="  ")
    assert answer.status_code == 422
    assert '<p class="error" id="e-alt_text">alt text describing the image is required' \
        in answer.text
    assert design_of(engine, p.id) is None


def test_a_file_over_the_size_limit_is_refused_with_413(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    p = world.proposal()
    answer = send(browser(world.owner), p.id, png(400, 400) + b"\0" * (2 * 1024 * 1024))
    assert answer.status_code == 413
    assert "larger than the 2,097,152-byte limit" in answer.text
    assert design_of(engine, p.id) is None


def test_without_a_new_file_the_texts_change_and_the_image_stays(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    p = world.proposal()
    owner = browser(world.owner)
    refused = send(owner, p.id, None)
    assert refused.status_code == 422 and "choose an image file" in refused.text
    assert design_of(engine, p.id) is None
    image = png(512, 512)
    assert send(owner, p.id, image).status_code == 303
    assert send(owner, p.id, None, criteria_narrative="Pass the capstone.").status_code == 303
    design = design_of(engine, p.id)
    assert design is not None
    assert (design.image, design.criteria_narrative) == (image, "Pass the capstone.")


def test_nobody_but_the_owner_uploads_and_the_coordinator_sees_it_read_only(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    p = world.proposal()
    force_state(engine, p.id or 0, "design_review")
    for person, code in ((world.colleague, 403), (world.coordinator, 403), (world.lead, 403),
                         (world.outsider, 403)):
        b = browser(person)
        page = b.get(f"/proposals/{p.id}/design")
        assert page.status_code == 200
        assert 'name="image"' not in page.text
        assert send(b, p.id, png(400, 400)).status_code == code
    assert design_of(engine, p.id) is None
    draft = world.proposal("A Private Draft")
    outsider = browser(world.outsider)
    assert outsider.get(f"/proposals/{draft.id}/design").status_code == 404
    assert outsider.get(f"/proposals/{draft.id}/design/image").status_code == 404
    assert send(outsider, draft.id, png(400, 400)).status_code == 404
    assert design_of(engine, draft.id) is None


def test_an_upload_without_the_csrf_token_is_refused(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    p = world.proposal()
    owner = browser(world.owner)
    answer = owner.post(f"/proposals/{p.id}/design", TEXTS, csrf=False,
                        files={"image": ("badge.png", png(400, 400), "image/png")})
    assert answer.status_code == 403 and "security token" in answer.text
    assert design_of(engine, p.id) is None


def test_a_published_proposals_design_cannot_change(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    p = world.proposal()
    force_state(engine, p.id or 0, "published")
    owner = browser(world.owner)
    assert 'name="image"' not in owner.get(f"/proposals/{p.id}/design").text
    assert send(owner, p.id, png(400, 400)).status_code == 409
    assert design_of(engine, p.id) is None


def test_the_coordinator_returns_then_approves_on_the_design_page_and_it_is_published(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    p = world.proposal()
    force_state(engine, p.id or 0, "design_review")
    owner, coordinator = browser(world.owner), browser(world.coordinator)
    page = coordinator.get(f"/proposals/{p.id}/design")
    assert "Not yet: the badge design is missing or invalid: no badge design yet" in page.text
    assert send(owner, p.id, png(400, 400), criteria_narrative=CRITERIA).status_code == 303

    page = coordinator.get(f"/proposals/{p.id}/design")
    assert f'alt="{ALT}"' in page.text and CRITERIA in page.text
    assert "Approve: to published" in page.text and "Return: to returned" in page.text
    version = str(world.session.get(Proposal, p.id).version)  # type: ignore[union-attr]
    refused = coordinator.post(f"/proposals/{p.id}/actions/return", {"version": version})
    assert refused.status_code == 422 and state_of(engine, p.id) == "design_review"
    returned = coordinator.post(f"/proposals/{p.id}/actions/return",
                                {"version": version, "comment": "Make the hexagon larger."})
    assert returned.status_code == 303 and state_of(engine, p.id) == "returned"

    assert send(owner, p.id, png(600, 600)).status_code == 303
    owner.get(f"/proposals/{p.id}")
    assert owner.post(f"/proposals/{p.id}/actions/resubmit").status_code == 303
    assert state_of(engine, p.id) == "design_review"

    coordinator.get(f"/proposals/{p.id}/design")
    approved = coordinator.post(f"/proposals/{p.id}/actions/approve")
    assert approved.status_code == 303 and state_of(engine, p.id) == "published"
    with Session(engine) as session:
        credential = session.exec(select(Credential).where(
            Credential.proposal_id == p.id)).one()
    link = f'href="http://127.0.0.1:8000/credentials/{credential.public_id}"'
    assert link in owner.get(f"/proposals/{p.id}").text
    assert link in coordinator.get(f"/proposals/{p.id}/design").text


def test_the_owner_is_asked_for_the_design_until_it_is_uploaded(
    world: World, browser: MakeBrowser, engine: Engine
) -> None:
    p = world.proposal()
    force_state(engine, p.id or 0, "design_review")
    owner = browser(world.owner)
    task = f'<a href="/proposals/{p.id}/design">upload the badge design</a>'
    assert task in owner.get("/").text
    assert f'<a href="/proposals/{p.id}/design">approve the badge design</a>' in browser(
        world.coordinator).get("/").text
    assert send(owner, p.id, png(400, 400)).status_code == 303
    assert task not in owner.get("/").text
