"""Publishing: approving a design makes an immutable credential whose Open Badges 3.0
Achievement validates against the shipped schema and expands with the local context."""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft201909Validator
from pyld import jsonld
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from notifications.expand import expand_pending
from notifications.models import OutboxMessage
from plumbing.settings import Settings
from tests.conftest import World
from tests.credentials.conftest import CRITERIA, Publish, svg, upload
from workflow.audit import AuditEntry
from workflow.credentials import openbadges, publishing
from workflow.credentials.models import Credential
from workflow.events import OutboxEvent
from workflow.proposals.models import Proposal

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "workflow" / "credentials" / "standards"
SCHEMA = json.loads((SHIPPED / "ob_v3p0_achievementcredential_schema.json").read_text())
CONTEXT = json.loads((SHIPPED / "ob_v3p0_context-3.0.3.json").read_text())
CONTEXT_URL = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


def assert_valid_open_badges_3(document: dict[str, Any]) -> None:
    validator = Draft201909Validator({"$schema": SCHEMA["$schema"], "$defs": SCHEMA["$defs"],
                                      "$ref": "#/$defs/Achievement"})
    assert [e.message for e in validator.iter_errors(document)] == []
    requested: list[str] = []

    def offline(url: str, _options: object = None) -> dict[str, Any]:
        requested.append(url)
        assert url == CONTEXT_URL, f"the document needs {url}, which is not local"
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
                "document": CONTEXT}

    dropped: list[str] = []
    expanded = jsonld.expand(document, {"documentLoader": offline},
                             on_property_dropped=lambda name: dropped.append(str(name)))
    assert dropped == []
    assert requested == [CONTEXT_URL]
    vocab = "https://purl.imsglobal.org/spec/vc/ob/vocab.html#"
    assert expanded[0]["@type"] == [f"{vocab}Achievement"]


# SHA-256 of the files as 1EdTech publishes them (the copies in ../shared/standards), so a
# clean clone with nothing beside it still checks that our shipped copies were not edited.
PUBLISHED = {
    "ob_v3p0_achievementcredential_schema.json":
        "5753fb3ecf7d024ed273dd364bd683f483eb47257e718e6618832cf89eb2083a",
    "ob_v3p0_context-3.0.3.json":
        "ef2fa9c7846dce233cc166b43639027278be4ee44f00bb1d45c75de2dd0cd761",
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_the_shipped_standards_are_the_published_ones(name: str) -> None:
    assert hashlib.sha256((SHIPPED / name).read_bytes()).hexdigest() == PUBLISHED[name]


def achievement_of(client: TestClient, credential: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"/api/credentials/{credential['id']}/achievement")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    document: dict[str, Any] = response.json()
    return document


def test_a_credit_bearing_credential_with_competencies_and_tags(
    client: TestClient, world: World, publish: Publish
) -> None:
    credential = publish("Applied Data Storytelling", credits=9,
                         competencies=["communication", "critical_thinking"])
    assert credential["url"] == f"http://127.0.0.1:8000/credentials/{credential['id']}"
    assert (credential["version"], credential["status"], credential["active"]) == (
        1, "active", True)
    document = achievement_of(client, credential)
    assert_valid_open_badges_3(document)
    assert document["id"] == credential["url"]
    assert document["achievementType"] == "MicroCredential"
    assert document["name"] == "Applied Data Storytelling"
    assert document["criteria"] == {"id": f"{credential['url']}#criteria",
                                    "narrative": CRITERIA}
    assert document["image"]["caption"] == credential["image_alt_text"]
    assert document["creditsAvailable"] == 9.0
    assert [a["targetCode"] for a in document["alignment"]] == ["communication",
                                                                "critical_thinking"]
    assert document["tag"] == ["data", "storytelling"]
    assert document["creator"]["name"] == "The University of Arizona"
    assert document["creator"]["parentOrg"]["name"] == "Computer Science"
    assert document["version"] == "1"
    assert "related" not in document
    image = client.get(f"/api/credentials/{credential['id']}/image")
    assert image.headers["x-content-type-options"] == "nosniff"
    assert image.headers["cache-control"].startswith("public")  # published: anyone may cache


def test_a_non_credit_credential_without_competencies_or_tags(
    client: TestClient, world: World, publish: Publish
) -> None:
    credential = publish("Workplace Safety Basics", credit_bearing=False, credits=None,
                         hours=20, competencies=[], tags=None,
                         learning_outcomes=["Identify hazards in a workplace",
                                            "Apply the safety procedures of a lab",
                                            "Report an incident in writing"])
    document = achievement_of(client, credential)
    assert_valid_open_badges_3(document)
    assert "creditsAvailable" not in document
    assert "alignment" not in document
    assert "tag" not in document


def test_an_svg_badge_publishes_too(client: TestClient, publish: Publish) -> None:
    credential = publish(image=svg('<circle cx="5" cy="5" r="4"/>'))
    assert_valid_open_badges_3(achievement_of(client, credential))
    image = client.get(f"/api/credentials/{credential['id']}/image")
    assert image.headers["content-security-policy"].endswith("sandbox")


def test_a_revision_names_its_predecessor_and_supersedes_it(
    client: TestClient, world: World, publish: Publish
) -> None:
    first = publish("Applied Data Storytelling")
    second = publish("Applied Data Storytelling II", predecessor_id=first["proposal_id"])
    assert second["version"] == 2
    assert second["predecessor"] == first["id"]
    document = achievement_of(client, second)
    assert_valid_open_badges_3(document)
    assert document["related"] == [{"id": first["url"], "type": ["Related"], "version": "1"}]
    assert document["version"] == "2"
    old = client.get(f"/api/credentials/{first['id']}").json()
    assert (old["status"], old["active"], old["superseded_by"]) == (
        "superseded", False, second["id"])
    # The old one's page and documents stay; its Achievement is the one published.
    assert achievement_of(client, old) == achievement_of(client, first)


def test_publishing_is_audited_in_the_approvals_transaction(
    client: TestClient, world: World, publish: Publish
) -> None:
    credential = publish()
    history = client.get(f"/api/proposals/{credential['proposal_id']}/history",
                         headers=world.owner.headers).json()
    assert [h["action"] for h in history[-2:]] == ["approve", "credential_published"]
    assert history[-1]["detail"]["credential"] == credential["id"]


def test_an_achievement_that_would_not_validate_refuses_the_approval_and_changes_nothing(
    client: TestClient, world: World, engine: Engine, in_design_review: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proposal = in_design_review()
    assert upload(client, proposal.id or 0, world.owner).status_code == 200

    def with_unknown_term(details: Any) -> dict[str, Any]:
        return {**real(details), "favouriteColour": "copper"}

    real = openbadges.achievement
    monkeypatch.setattr(publishing, "achievement", with_unknown_term)

    def tallies() -> tuple[int, int, int, int]:
        with Session(engine) as session:
            return tuple(session.exec(select(func.count()).select_from(table)).one()  # type: ignore[return-value]
                         for table in (AuditEntry, OutboxEvent, OutboxMessage, Credential))

    before = tallies()
    refused = client.post(f"/api/proposals/{proposal.id}/approve",
                          headers=world.coordinator.headers)
    assert refused.status_code == 422
    assert "favouriteColour" in str(refused.json()["detail"])
    assert tallies() == before
    with Session(engine) as session:
        assert session.get(Proposal, proposal.id).state == "design_review"  # type: ignore[union-attr]


def test_the_badgeclass_is_open_badges_2_as_canvas_credentials_imports_it(
    client: TestClient, publish: Publish
) -> None:
    credential = publish(competencies=["communication", "critical_thinking"])
    badge = client.get(f"/api/credentials/{credential['id']}/badgeclass").json()
    assert badge["@context"] == "https://w3id.org/openbadges/v2"
    assert badge["type"] == "BadgeClass"
    assert badge["id"].endswith(f"/api/credentials/{credential['id']}/badgeclass")
    assert badge["criteria"]["narrative"] == CRITERIA
    assert badge["image"]["id"].endswith(f"/api/credentials/{credential['id']}/image")
    assert badge["issuer"]["type"] == "Profile"
    assert badge["alignment"][0]["targetFramework"] == "NACE Career Readiness Competencies"
    assert badge["tags"] == ["data", "storytelling"]


def test_unknown_credentials_are_404(client: TestClient) -> None:
    for path in ("", "/achievement", "/badgeclass", "/image", "/pathway"):
        assert client.get(f"/api/credentials/nothing-here{path}").status_code == 404


def test_the_publication_emails_link_to_the_credentials_public_page(
    engine: Engine, publish: Publish
) -> None:
    credential = publish()
    expand_pending(engine, Settings(_env_file=None))  # type: ignore[call-arg]
    with Session(engine) as session:
        bodies = session.exec(select(OutboxMessage.body_text).where(
            OutboxMessage.event == "published")).all()
    assert bodies
    assert all(credential["url"] in body for body in bodies)
