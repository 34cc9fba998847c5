"""The `microcred` command line against a real database."""

import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from tests.api.conftest import run


def test_users_add_prints_the_user_and_a_working_token_last(
    cli_database: str, capsys: pytest.CaptureFixture[str], client: object
) -> None:
    assert run(capsys, "db", "upgrade")[0] == 0
    code, out, _ = run(capsys, "departments", "add", "CS", "--name", "Computer Science")
    assert (code, out.strip()) == (0, "department CS: Computer Science")
    code, out, _ = run(capsys, "users", "add", "Lead@Arizona.edu", "--name", "Lee Lead",
                       "--role", "department_lead", "--role", "reviewer", "--department", "CS")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "user lead@arizona.edu (Lee Lead): department_lead, reviewer in CS"
    token = lines[-1]
    assert re.fullmatch(r"mc_[A-Za-z0-9_-]{43}", token)
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})  # type: ignore[attr-defined]
    assert me.json()["roles"] == [{"role": "reviewer", "department": None},
                                  {"role": "department_lead", "department": "CS"}]


def test_department_role_without_a_department_is_refused(
    cli_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "users", "add", "x@arizona.edu", "--name", "X", "--role",
                       "submitter")
    assert code == 2
    assert "need --department" in err
    code, _, err = run(capsys, "users", "add", "x@arizona.edu", "--name", "X", "--role",
                       "submitter", "--department", "NOPE")
    assert (code, "unknown department NOPE" in err) == (2, True)


def test_audit_verify_exits_1_naming_the_first_bad_entry(
    cli_database: str, capsys: pytest.CaptureFixture[str], engine: Engine
) -> None:
    run(capsys, "departments", "add", "CS", "--name", "Computer Science")
    run(capsys, "users", "add", "a@arizona.edu", "--name", "A", "--role", "submitter",
        "--department", "CS")
    from sqlmodel import select

    from api.demo import sample_proposal
    from plumbing.database import write_session
    from workflow import service
    from workflow.accounts.models import User
    from workflow.audit import Channel

    with write_session(engine) as session:
        owner = session.exec(select(User)).one()
        for title in ("First", "Second"):
            service.create_proposal(session, sample_proposal(title, "CS"), owner, Channel.API)
    code, out, _ = run(capsys, "audit", "verify")
    assert (code, out.strip()) == (0, "audit chain intact: 2 entries")

    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_entry_no_update"))
        else:
            conn.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_change"))
        conn.execute(text("UPDATE audit_entry SET action = 'withdraw' WHERE seq = 2"))
        if engine.dialect.name != "sqlite":
            conn.execute(text("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_no_change"))
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 1
    assert "entry 2" in out
    assert "do not match its hash" in out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_serve_demo_starts_seeds_and_prints_working_tokens(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "MICROCRED_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db"}
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--demo", "--port", str(port)],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(Path(__file__).parents[2])},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert server.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            lines.append(line)
            if "Uvicorn running" in line or not line:
                break
        output = "".join(lines)
        lead_token = re.search(r"bob@arizona\.edu\s+(mc_\S+)", output)
        assert lead_token, output
        with httpx.Client(base_url=f"http://127.0.0.1:{port}",
                          headers={"Authorization": f"Bearer {lead_token.group(1)}"}) as http:
            states = {p["state"] for p in http.get("/api/proposals").json()["items"]}
            sign_in = http.get("/sign-in").text
            catalog = http.get("/api/credentials").json()["items"]
            shown = http.get(f"/credentials/{catalog[0]['id']}") if catalog else None
        assert {"department_review", "rubric_review", "returned", "withdrawn",
                "published"} <= states
        # One credential went through every stage; its link points where the server listens.
        assert [c["title"] for c in catalog] == ["Data Analytics Foundations"]
        assert catalog[0]["url"].startswith(f"http://127.0.0.1:{port}/credentials/")
        assert shown is not None and shown.status_code == 200
        # The web pages offer one-click sign-in as each demo user, in demo mode only.
        assert "Demo: sign in as" in sign_in and "bob@arizona.edu" in sign_in
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_believes_the_sign_on_header_from_the_local_proxy_whatever_it_forwards(
    tmp_path: Path
) -> None:
    """Behind nginx on 127.0.0.1 every request carries the user's address in X-Forwarded-For;
    the sign-on header counts because the connection comes from the proxy, and only then."""
    port = free_port()
    env = {**os.environ, "MICROCRED_DATABASE_URL": f"sqlite:///{tmp_path}/sso.db",
           "MICROCRED_TRUSTED_PROXIES": "127.0.0.1",
           "MICROCRED_TRUSTED_USER_HEADER": "X-Remote-User",
           "MICROCRED_TRUSTED_PROXY_SECRET": "proxy-secret-of-this-test-0123456789",
           "PYTHONPATH": str(Path(__file__).parents[2])}
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--demo", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if "Uvicorn running" in line or not line:
                break
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            through_proxy = http.get("/overview", headers={
                "X-Remote-User": "badge@arizona.edu", "X-Forwarded-For": "203.0.113.9",
                "X-Forwarded-Proto": "https",
                "X-Microcred-Proxy-Secret": "proxy-secret-of-this-test-0123456789"})
            without_header = http.get("/overview", headers={"X-Forwarded-For": "203.0.113.9"})
        assert through_proxy.status_code == 200 and "Carol Chen" in through_proxy.text
        assert without_header.status_code == 303
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_on_a_unix_socket_only_its_user_and_group_may_connect_to(tmp_path: Path) -> None:
    path = tmp_path / "web.sock"
    env = {**os.environ, "MICROCRED_DATABASE_URL": f"sqlite:///{tmp_path}/uds.db",
           "PYTHONPATH": str(Path(__file__).parents[2])}
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--demo", "--uds", str(path)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        output = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            output.append(server.stdout.readline())
            if "Uvicorn running" in output[-1] or not output[-1]:
                break
        assert f"microcred on the Unix socket {path}" in "".join(output)
        assert stat.S_IMODE(path.stat().st_mode) == 0o660
        with httpx.Client(base_url="http://microcred",
                          transport=httpx.HTTPTransport(uds=str(path))) as http:
            assert http.get("/api/health").json() == {"status": "ok"}
    finally:
        server.terminate()
        server.wait(timeout=10)
