"""The emails keep reviews blind: the authors learn what the reviewers wrote when the
coordinator decides the round, as "Reviewer N", never who wrote it or how they scored."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from plumbing.settings import Settings
from tests.conftest import SMTPServer, World
from tests.notifications.conftest import drain
from tests.workflow.test_reviews import put_review, reviewer, scores_all

RITA_SAYS = "Rita thinks the assessment is thin"


def test_a_return_from_rubric_review_mails_the_authors_the_comments_unnamed(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    client: TestClient,
) -> None:
    rita, ravi = reviewer(world, "rita@arizona.edu"), reviewer(world, "ravi@arizona.edu")
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    world.fire(p, "approve", world.lead)
    url = f"/api/proposals/{p.id}"
    assert client.post(f"{url}/reviewers", headers=world.coordinator.headers,
                       json={"reviewers": [rita.email, ravi.email]}).status_code == 200
    scores = scores_all(client, rita.headers, "exemplary")
    criterion = next(iter(scores))
    assert put_review(client, p.id or 0, rita, scores, {criterion: RITA_SAYS}) == 200
    assert put_review(client, p.id or 0, ravi, scores) == 200
    world.fire(p, "return", world.coordinator, comment="Please see the reviewers' comments.")
    drain(engine, mail_settings)
    for author in (world.owner.email, world.co_author.email):
        mails = [m.message for m in smtp_server.received if m.recipients == [author]]
        assert mails
        everything = "\n".join(m.as_string() for m in mails)
        assert rita.email not in everything and ravi.email not in everything
        assert "exemplary" not in everything.lower()
        returned = next(m for m in mails if m["Subject"].startswith("Returned"))
        text = returned.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "Reviewer 1:" in text and RITA_SAYS in text
        html = returned.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert "Reviewer 1:" in html and RITA_SAYS in html
    # Nobody else is mailed what the reviewers wrote.
    others = [m for m in smtp_server.received
              if m.recipients[0] not in (world.owner.email, world.co_author.email)]
    assert all(RITA_SAYS not in m.message.as_string() for m in others)
