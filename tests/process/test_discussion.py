"""Discussion: a thread per proposal, mentions by email, private notes, blind reviewers."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from notifications.expand import expand_pending
from notifications.models import OutboxMessage
from tests.conftest import World
from tests.process.conftest import to_rubric_review
from workflow.audit import AuditEntry


def post(client: TestClient, headers: dict[str, str], pid: int, body: str,
         private: bool = False) -> tuple[int, dict]:  # type: ignore[type-arg]
    answer = client.post(f"/api/proposals/{pid}/comments", headers=headers,
                         json={"body": body, "private": private})
    return answer.status_code, answer.json()


def thread(client: TestClient, headers: dict[str, str], pid: int) -> list[tuple[str, str]]:
    return [(c["author"], c["body"]) for c in
            client.get(f"/api/proposals/{pid}/comments", headers=headers).json()]


def test_anyone_who_may_read_the_proposal_comments_and_a_mention_emails_that_person(
        client: TestClient, world: World, engine: Engine) -> None:
    pid = to_rubric_review(world).id or 0
    code, made = post(client, world.colleague.headers, pid,
                      f"Could @{world.lead.email} confirm the lab space?")
    assert code == 201 and made["mentions"] == [world.lead.email]
    assert thread(client, world.outsider.headers, pid) == [
        ("Colleague <colleague@arizona.edu>", f"Could @{world.lead.email} confirm the lab space?")]
    expand_pending(engine, world.settings)
    with Session(engine) as session:
        [mail] = session.exec(select(OutboxMessage).where(
            OutboxMessage.event == "mentioned")).all()
    assert mail.recipient == world.lead.email
    assert "Colleague mentioned you" in mail.body_text and "confirm the lab space" in mail.body_text
    assert mail.subject == "Mentioned: Applied Data Storytelling"


def test_a_mention_of_someone_who_cannot_read_it_is_refused_and_nothing_is_posted(
        client: TestClient, world: World) -> None:
    pid = world.proposal().id or 0  # a draft: its authors' only
    code, refused = post(client, world.owner.headers, pid, f"@{world.lead.email} look")
    assert code == 422 and "cannot read this proposal" in refused["detail"][0]["msg"]
    code, refused = post(client, world.owner.headers, pid, "@nobody@example.org hello")
    assert code == 422 and "not a user" in refused["detail"][0]["msg"]
    assert thread(client, world.owner.headers, pid) == []
    assert client.post(f"/api/proposals/{pid}/comments", headers=world.owner.headers,
                       json={"body": "   "}).status_code == 422


def test_reviewers_write_private_notes_the_authors_never_see_and_appear_unnamed(
        client: TestClient, world: World) -> None:
    pid = to_rubric_review(world).id or 0
    assert post(client, world.reviewer.headers, pid, "Outcome 2 is vague", private=True)[0] == 201
    assert post(client, world.reviewer.headers, pid, "Nice work on the capstone")[0] == 201
    assert thread(client, world.owner.headers, pid) == [
        ("A reviewer", "Nice work on the capstone")]
    assert [a for a, _ in thread(client, world.coordinator.headers, pid)] == [
        "Reviewer <reviewer@arizona.edu>"] * 2
    assert len(thread(client, world.reviewer.headers, pid)) == 2
    assert post(client, world.owner.headers, pid, "secret", private=True)[0] == 403
    assert post(client, world.colleague.headers, pid, "secret", private=True)[0] == 403
    code, refused = post(client, world.reviewer.headers, pid, f"@{world.owner.email} see",
                         private=True)
    assert code == 422 and "cannot read this note" in refused["detail"][0]["msg"]


def test_comments_are_audited_and_never_changed(client: TestClient, world: World,
                                                engine: Engine) -> None:
    pid = to_rubric_review(world).id or 0
    post(client, world.owner.headers, pid, "First version")
    with Session(engine) as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "comment")).one()
    assert entry.proposal_id == pid and len(entry.detail["sha256"]) == 64
    for statement in ("UPDATE proposal_comment SET body = 'changed'",
                      "DELETE FROM proposal_comment"):
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text(statement))
    assert thread(client, world.owner.headers, pid)[0][1] == "First version"


def test_the_history_keeps_a_reviewers_comments_unnamed_and_private_notes_hidden(
        client: TestClient, world: World) -> None:
    pid = to_rubric_review(world).id or 0
    assert post(client, world.reviewer.headers, pid, "Outcome 2 is vague", private=True)[0] == 201
    assert post(client, world.reviewer.headers, pid, "Nice work on the capstone")[0] == 201

    def discussion(who: dict[str, str]) -> list[tuple[str, str]]:
        history = client.get(f"/api/proposals/{pid}/history", headers=who).json()
        return [(e["actor"], e["action"]) for e in history
                if e["action"] in ("comment", "private_note")]

    for reader in (world.owner, world.colleague):
        shown = discussion(reader.headers)
        assert shown == [("A reviewer", "comment")]
        assert world.reviewer.email not in str(client.get(
            f"/api/proposals/{pid}/history", headers=reader.headers).json())
    assert discussion(world.coordinator.headers) == [
        (world.reviewer.email, "private_note"), (world.reviewer.email, "comment")]
    assert discussion(world.reviewer.headers) == [
        (world.reviewer.email, "private_note"), (world.reviewer.email, "comment")]
