"""Text that would reshape a page or a mail body is refused: one-line fields take no line
breaks and no invisible format characters (bidi overrides, zero-width marks); multi-line
fields keep their line breaks and nothing else of that kind."""

import pytest
from fastapi.testclient import TestClient

from api.demo import sample_proposal
from tests.conftest import World

BODY = sample_proposal("Data Ethics", "CS").model_dump(mode="json")
SNEAKY = {
    "line_feed": "Data Ethics\nSubject: URGENT wire transfer",
    "carriage_return": "Data Ethics\r\nFrom: badge@arizona.edu",
    "bidi_override": "Data Ethics \u202egnp.exe",
    "zero_width_space": "Data\u200bEthics",
    "byte_order_mark": "\ufeffData Ethics",
    "line_separator": "Data Ethics\u2028Approved",
}


@pytest.mark.parametrize("value", SNEAKY.values(), ids=SNEAKY.keys())
@pytest.mark.parametrize("field", ["title", "learning_outcomes", "partners"])
def test_one_line_fields_refuse_line_breaks_and_format_characters(
    client: TestClient, world: World, field: str, value: str
) -> None:
    given = [value] if isinstance(BODY[field], list) else value
    answer = client.post("/api/proposals", json={**BODY, field: given},
                         headers=world.owner.headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][:2] == ["body", field]
    draft = world.proposal()
    edited = client.patch(f"/api/proposals/{draft.id}", json={field: given},
                          headers=world.owner.headers)
    assert edited.status_code == 422


@pytest.mark.parametrize("value", [SNEAKY["bidi_override"], SNEAKY["zero_width_space"]],
                         ids=["bidi_override", "zero_width_space"])
def test_multi_line_fields_keep_line_breaks_only(
    client: TestClient, world: World, value: str
) -> None:
    kept = client.post("/api/proposals", json={
        **BODY, "summary": "First paragraph.\n\nSecond paragraph.\r\nThird line."},
        headers=world.owner.headers)
    assert kept.status_code == 201
    assert kept.json()["summary"] == "First paragraph.\n\nSecond paragraph.\r\nThird line."
    refused = client.post("/api/proposals", json={**BODY, "summary": value},
                          headers=world.owner.headers)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][:2] == ["body", "summary"]
    draft = world.proposal()
    comment = client.post(f"/api/proposals/{draft.id}/withdraw",
                          json={"comment": f"withdrawn {value}"}, headers=world.owner.headers)
    assert comment.status_code == 422


def test_names_refuse_line_breaks_at_the_command_line_and_the_admin_api(
    client: TestClient, world: World
) -> None:
    answer = client.post("/api/departments", json={"code": "NURS", "name": "Nursing\nBcc: all"},
                         headers=world.admin.headers)
    assert answer.status_code == 422


def test_a_user_name_with_a_line_break_is_refused_by_the_command_line(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.cli import main
    from plumbing.database import get_engine
    from plumbing.settings import get_settings

    bind = world.session.get_bind()
    monkeypatch.setenv("MICROCRED_DATABASE_URL",
                       bind.engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        code = main(["users", "add", "new@arizona.edu", "--name", "New\rSubject: hi",
                     "--role", "reviewer"])
    finally:
        get_engine.cache_clear()
        get_settings.cache_clear()
    assert code == 2
    assert "one-line" in capsys.readouterr().err
