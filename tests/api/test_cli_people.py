"""People and tokens from the command line: deactivate, take a role, list and revoke tokens."""

import re

import pytest
from fastapi.testclient import TestClient

from api.web import SESSION_COOKIE, session_cookie_value
from plumbing.settings import Settings
from tests.api.conftest import run

TOKEN = re.compile(r"mc_[A-Za-z0-9_-]{43}")


def add_lead(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list[str]]:
    code, out, _ = run(capsys, "users", "add", "lead@arizona.edu", "--name", "Lee Lead",
                       "--role", "department_lead", "--role", "reviewer", "--department", "CS",
                       *extra)
    return code, out.strip().splitlines()


@pytest.fixture
def cs(cli_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "db", "upgrade")[0] == 0
    assert run(capsys, "departments", "add", "CS", "--name", "Computer Science")[0] == 0


def test_adding_an_existing_user_mints_no_second_token_unless_asked(
        cs: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, first = add_lead(capsys)
    assert code == 0 and TOKEN.fullmatch(first[-1])
    code, again = add_lead(capsys)
    assert code == 0 and not TOKEN.search("\n".join(again))
    assert again[-1].startswith("lead@arizona.edu already existed: no new API token")
    code, asked = add_lead(capsys, "--new-token")
    assert code == 0 and TOKEN.fullmatch(asked[-1])
    listed = run(capsys, "tokens", "list", "lead@arizona.edu")[1].splitlines()
    assert len(listed) == 2 and all(line.rstrip().endswith("cli") for line in listed)


def test_a_revoked_token_is_refused_and_the_others_still_work(
        cs: None, capsys: pytest.CaptureFixture[str], client: TestClient) -> None:
    first = add_lead(capsys)[1][-1]
    second = add_lead(capsys, "--new-token")[1][-1]
    ids = [int(line.split()[0]) for line in
           run(capsys, "tokens", "list", "lead@arizona.edu")[1].splitlines()]
    code, out, _ = run(capsys, "tokens", "revoke", str(ids[0]))
    assert (code, out.strip()) == (0, f"API token {ids[0]} of lead@arizona.edu revoked")
    assert client.get("/api/me", headers={"Authorization": f"Bearer {first}"}).status_code == 401
    assert client.get("/api/me", headers={"Authorization": f"Bearer {second}"}).status_code == 200
    code, _, err = run(capsys, "tokens", "revoke", str(ids[0]))
    assert (code, err.strip()) == (2, f"microcred: no API token {ids[0]}")


def test_a_deactivated_user_is_refused_by_token_and_by_cookie(
        cs: None, capsys: pytest.CaptureFixture[str], client: TestClient,
        settings: Settings) -> None:
    token = add_lead(capsys)[1][-1]
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    someone = type("U", (), {"id": me.json()["id"], "session_generation": 0})()
    cookie = session_cookie_value(settings, someone)  # type: ignore[arg-type]
    client.cookies.set(SESSION_COOKIE, cookie)
    assert client.get("/", follow_redirects=False).status_code == 200
    code, out, _ = run(capsys, "users", "deactivate", "Lead@Arizona.edu")
    assert code == 0 and out.startswith("user lead@arizona.edu deactivated")
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/", follow_redirects=False).status_code == 303
    code, _, err = run(capsys, "users", "deactivate", "nobody@arizona.edu")
    assert (code, err.strip()) == (2, "microcred: no user nobody@arizona.edu")


def test_removing_a_role_takes_exactly_that_role(
        cs: None, capsys: pytest.CaptureFixture[str], client: TestClient) -> None:
    token = add_lead(capsys)[1][-1]
    code, out, _ = run(capsys, "users", "remove-role", "lead@arizona.edu", "department_lead",
                       "--department", "CS")
    assert (code, out.strip()) == (0, "user lead@arizona.edu: no longer department_lead in CS")
    roles = client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["roles"]
    assert roles == [{"role": "reviewer", "department": None}]
    code, _, err = run(capsys, "users", "remove-role", "lead@arizona.edu", "department_lead",
                       "--department", "CS")
    assert (code, err.strip()) == (
        2, "microcred: lead@arizona.edu does not hold the department_lead role in CS")
    code, _, err = run(capsys, "users", "remove-role", "lead@arizona.edu", "submitter")
    assert (code, err.strip()) == (2, "microcred: the submitter role needs --department")
