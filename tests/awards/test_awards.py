"""Awarding a published credential to learners: signed Open Badges 3.0 credentials that an
independently written verifier accepts, revocation it sees, tampering it catches, and keys
that can be rotated with old awards still verifying."""

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from jsonschema import Draft201909Validator
from openbadgeslib.ob3 import OB3VerificationError
from sqlalchemy import Engine
from sqlmodel import Session, select

from plumbing.settings import Settings
from tests.awards.conftest import DID, LEARNERS, award, verify
from tests.conftest import SMTPServer, World
from tests.credentials.conftest import Publish
from tests.notifications.conftest import drain
from workflow.audit import AuditEntry
from workflow.audit import verify as verify_chain
from workflow.credentials.openbadges import STANDARDS

SCHEMA = json.loads((STANDARDS / "ob_v3p0_achievementcredential_schema.json").read_text())


def test_three_awards_one_revoked_two_verify_and_one_is_seen_revoked(
    client: TestClient, world: World, publish: Publish
) -> None:
    credential = publish()
    made = award(client, world, credential["id"])
    assert [a["recipient_name"] for a in made] == [learner["name"] for learner in LEARNERS]
    revoked = client.post(f"/api/awards/{made[2]['id']}/revoke", headers=world.owner.headers,
                          json={"reason": "Awarded by mistake: did not finish the capstone"})
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True

    documents = [client.get(f"/api/awards/{a['id']}/credential") for a in made]
    assert {d.headers["content-type"] for d in documents} == {"application/vc+ld+json"}
    for document in documents[:2]:
        verified = verify(client, document.text)
        assert verified is not None
    with pytest.raises(OB3VerificationError, match="revocation"):
        verify(client, documents[2].text)


def test_an_award_is_an_achievement_credential_by_the_shipped_schema(
    client: TestClient, world: World, publish: Publish
) -> None:
    credential = publish()
    [made] = award(client, world, credential["id"], LEARNERS[:1])
    document = client.get(f"/api/awards/{made['id']}/credential").json()
    problems = [e.message for e in Draft201909Validator(SCHEMA).iter_errors(document)]
    assert problems == []
    assert document["issuer"]["id"] == DID
    subject = document["credentialSubject"]
    assert subject["achievement"]["name"] == credential["title"]
    # The learner's address is there only as a salted hash.
    assert LEARNERS[0]["email"] not in json.dumps(document)


@pytest.mark.parametrize("change", ["achievement name", "recipient", "credits", "status"])
def test_tampering_with_a_signed_credential_fails_verification(
    client: TestClient, world: World, publish: Publish, change: str
) -> None:
    credential = publish(credits=9)
    [made] = award(client, world, credential["id"], LEARNERS[:1])
    document = client.get(f"/api/awards/{made['id']}/credential").json()
    subject = document["credentialSubject"]
    if change == "achievement name":
        subject["achievement"]["name"] = "Doctor of Everything"
    elif change == "recipient":
        subject["identifier"][0]["identityHash"] = "sha256$" + "0" * 64
    elif change == "credits":
        subject["achievement"]["creditsAvailable"] = 60.0
    else:
        document["credentialStatus"]["statusListIndex"] = "0"
    with pytest.raises(OB3VerificationError):
        verify(client, json.dumps(document))


def test_a_rotated_key_keeps_old_awards_verifying(
    client: TestClient, world: World, publish: Publish, settings: Settings
) -> None:
    credential = publish()
    [old] = award(client, world, credential["id"], LEARNERS[:1])
    rotated = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    Path(settings.signing_key_file or "").write_bytes(rotated)
    [new] = award(client, world, credential["id"], LEARNERS[1:2])

    did = client.get("/.well-known/did.json").json()
    names = [method["id"] for method in did["verificationMethod"]]
    new_key = client.get(f"/api/awards/{new['id']}/credential").json()["proof"][0][
        "verificationMethod"]
    old_key = client.get(f"/api/awards/{old['id']}/credential").json()["proof"][0][
        "verificationMethod"]
    assert names == [new_key, old_key]  # the current key first, the retired one kept
    for made in (old, new):
        verify(client, client.get(f"/api/awards/{made['id']}/credential").text)


def test_only_the_departments_leads_and_the_authors_award_and_the_office_may_revoke(
    client: TestClient, world: World, publish: Publish
) -> None:
    credential = publish()
    body = {"recipients": LEARNERS[:1]}
    path = f"/api/credentials/{credential['id']}/awards"
    for person in (world.outsider, world.other_lead, world.reviewer, world.admin):
        assert client.post(path, headers=person.headers, json=body).status_code == 403
    for person in (world.lead, world.co_author):
        assert client.post(path, headers=person.headers, json=body).status_code == 201
    made = client.get(path, headers=world.coordinator.headers).json()
    assert len(made) == 2
    assert client.get(path, headers=world.outsider.headers).status_code == 403
    refused = client.post(f"/api/awards/{made[0]['id']}/revoke", headers=world.outsider.headers,
                          json={"reason": "No"})
    assert refused.status_code == 403
    done = client.post(f"/api/awards/{made[0]['id']}/revoke", headers=world.coordinator.headers,
                       json={"reason": "Reported as shared by someone else"})
    assert done.status_code == 200
    again = client.post(f"/api/awards/{made[0]['id']}/revoke",
                        headers=world.coordinator.headers, json={"reason": "Twice"})
    assert again.status_code == 409


def test_a_retired_credential_is_not_awarded(
    client: TestClient, world: World, publish: Publish
) -> None:
    credential = publish()
    retired = client.post(f"/api/proposals/{credential['proposal_id']}/retire",
                          headers=world.coordinator.headers,
                          json={"comment": "Replaced by the 2027 edition"})
    assert retired.status_code == 200
    answer = client.post(f"/api/credentials/{credential['id']}/awards",
                         headers=world.owner.headers, json={"recipients": LEARNERS[:1]})
    assert answer.status_code == 409


def test_awards_and_revocations_are_in_the_audit_chain(
    client: TestClient, world: World, publish: Publish, engine: Engine
) -> None:
    credential = publish()
    made = award(client, world, credential["id"])
    client.post(f"/api/awards/{made[0]['id']}/revoke", headers=world.owner.headers,
                json={"reason": "A mistake"})
    with Session(engine) as session:
        actions = session.exec(select(AuditEntry.action).where(
            AuditEntry.proposal_id == credential["proposal_id"])).all()
        assert actions.count("award") == 3 and actions.count("revoke_award") == 1
        assert verify_chain(session).ok


def test_each_learner_is_emailed_a_link_to_their_award(
    client: TestClient, world: World, publish: Publish, engine: Engine, settings: Settings,
    smtp_server: SMTPServer,
) -> None:
    credential = publish()
    made = award(client, world, credential["id"])
    drain(engine, smtp_server.settings(settings))
    mails = {m.recipients[0]: m.message for m in smtp_server.received
             if str(m.message["Subject"]).startswith("Awarded to you")}
    assert set(mails) == {learner["email"] for learner in LEARNERS}
    for one in made:
        text = mails[one["recipient_email"]].get_body(("plain",)).get_content()
        assert one["url"] in text
        assert credential["title"] in text


def test_without_a_signing_key_awarding_says_what_to_set(
    engine: Engine, world: World, publish: Publish, settings: Settings
) -> None:
    from api.app import create_app

    credential = publish()
    unconfigured = settings.model_copy(update={"signing_key_file": None,
                                               "database_url": "postgresql+psycopg://x/y"})
    with TestClient(create_app(unconfigured, engine)) as other:
        answer = other.post(f"/api/credentials/{credential['id']}/awards",
                            headers=world.owner.headers, json={"recipients": LEARNERS[:1]})
    assert answer.status_code == 503
    assert "MICROCRED_SIGNING_KEY_FILE" in answer.json()["detail"]
