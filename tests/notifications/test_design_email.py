"""The badge office is asked to approve a badge design it can see: the image (at an address
signed for that proposal and image) and its alt text, and what approving does."""

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from plumbing.settings import Settings
from tests.conftest import SMTPServer, World
from tests.emails.htmlvalidate import lint
from tests.notifications.conftest import drain
from tests.notifications.test_events import pass_rubric
from tests.workflow.test_badges import png
from workflow.audit import Channel
from workflow.credentials import badges
from workflow.reviews import assignment

ALT = "A navy hexagon with a rising bar chart"


def test_the_design_approval_email_shows_the_badge_and_says_approving_publishes_it(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    app_client: TestClient, tmp_path: Path,
) -> None:
    p = world.proposal()
    image = png(400, 400)
    badges.save_design(world.session, p.id or 0, badges.DesignUpload(
        image=image, criteria_narrative="Earners analyse a public data set.", alt_text=ALT),
        world.owner.user, Channel.API.value)
    world.fire(p, "submit", world.owner)
    assignment.assign_reviewers(world.session, p.id or 0, [world.reviewer.email],
                                world.coordinator.user, "api", world.settings)
    world.fire(p, "approve", world.lead)
    pass_rubric(world, p)
    world.fire(p, "approve", world.coordinator)
    before = len(smtp_server.received)
    drain(engine, mail_settings)
    mail = next(m.message for m in smtp_server.received[before:]
                if str(m.message["Subject"]).startswith("Badge design approval needed"))
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    assert "approving publishes the credential in the public catalog" in text
    assert f"The badge image's alt text: {ALT}" in text
    found = re.search(r'<img src="http://127\.0\.0\.1:8000(/proposals/\d+/design/email-image/'
                      r'[0-9a-f]{64})" alt="([^"]*)"', html)
    assert found and found.group(2) == ALT
    assert lint({"design": html}, tmp_path) == {}
    # The image opens without signing in, as a mail client fetches it; nothing else does.
    shown = app_client.get(found.group(1))
    assert shown.status_code == 200 and shown.content == image
    tampered = found.group(1)[:-1] + ("1" if found.group(1).endswith("0") else "0")
    assert app_client.get(tampered).status_code == 404
    other = found.group(1).replace(f"/proposals/{p.id}/", "/proposals/99/")
    assert app_client.get(other).status_code == 404
