"""The service mails only people it knows: co-authors are users, or addresses of the allowed
domains (MICROCRED_ALLOWED_EMAIL_DOMAINS, by default the domains of existing users); a named
non-user gets one invitation, never the proposal's text."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.demo import sample_proposal
from plumbing.settings import Settings
from tests.conftest import SMTPServer, World
from tests.notifications.conftest import drain

BODY = sample_proposal("Cheap Degrees Online", "CS",
                       summary="Click https://evil.example to claim your prize").model_dump(
    mode="json")


def test_a_co_author_outside_the_known_domains_is_refused(
    client: TestClient, world: World
) -> None:
    for outsider in ("victim@gmail.com", "boss@arizona.edu.evil.example"):
        created = client.post("/api/proposals", json={**BODY, "co_authors": [outsider]},
                              headers=world.owner.headers)
        assert created.status_code == 422, created.text
        assert created.json()["detail"][0]["loc"][:2] == ["body", "co_authors"]
        assert outsider in created.json()["detail"][0]["msg"]
    draft = world.proposal()
    edited = client.patch(f"/api/proposals/{draft.id}", json={"co_authors": ["x@gmail.com"]},
                          headers=world.owner.headers)
    assert edited.status_code == 422


def test_a_non_user_of_an_allowed_domain_gets_one_invitation_and_no_proposal_text(
    engine: Engine, world: World, mail_settings: Settings, smtp_server: SMTPServer,
    client: TestClient,
) -> None:
    newcomer = "newcomer@arizona.edu"
    for title in ("Cheap Degrees Online", "Cheap Degrees Online II"):
        body = {**BODY, "title": title, "co_authors": [newcomer, world.co_author.email]}
        created = client.post("/api/proposals", json=body, headers=world.owner.headers)
        assert created.status_code == 201, created.text
        assert client.post(f"/api/proposals/{created.json()['id']}/submit",
                           headers=world.owner.headers).status_code == 200
    drain(engine, mail_settings)
    invited = [m.message for m in smtp_server.received if m.recipients == [newcomer]]
    assert len(invited) == 1
    text = invited[0].as_string()
    assert "Cheap Degrees" not in text and "evil.example" not in text
    assert world.owner.user.name in text and "/sign-in" in text
    # A co-author who is a user still gets the receipts, with the title.
    receipts = [m.message for m in smtp_server.received if m.recipients == [world.co_author.email]]
    assert len(receipts) == 2 and "Cheap Degrees Online" in receipts[0]["Subject"]


def test_allowed_domains_can_be_set(engine: Engine, world: World, settings: Settings) -> None:
    configured = settings.model_copy(update={"allowed_email_domains": "email.arizona.edu"})
    with TestClient(create_app(configured, engine)) as client:
        ok = client.post("/api/proposals", json={**BODY, "co_authors": ["a@email.arizona.edu"]},
                         headers=world.owner.headers)
        assert ok.status_code == 201, ok.text
        # Users are always allowed, whatever their domain.
        user = client.post("/api/proposals", json={**BODY, "co_authors": [world.lead.email]},
                           headers=world.owner.headers)
        assert user.status_code == 201
        other = client.post("/api/proposals", json={**BODY, "co_authors": ["b@arizona.edu"]},
                            headers=world.owner.headers)
        assert other.status_code == 422
