"""No built-in signing key: the services refuse to start without a real one, and the demo keeps
one of its own beside its database."""

import hashlib
import hmac
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
GOOD_KEY = "Zq0uN3l8mW1b7tV4cX9yA2sD5fG6hJ8kL0pO3iU7yT1r"


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICROCRED_")}
    env.update({"MICROCRED_DATABASE_URL": f"sqlite:///{tmp_path}/microcred.db",
                "PYTHONPATH": str(REPO), **extra})
    return env


def refused_start(tmp_path: Path, *argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run a command that must stop at once; one that starts serving is killed by the timeout."""
    return subprocess.run([sys.executable, "-m", "api.cli", *argv], cwd=tmp_path,
                          env=environment(tmp_path, **extra), capture_output=True, text=True,
                          timeout=30)


COMMANDS = [["serve", "--port", "0"], ["worker"], ["inbound-smtp", "--port", "0"]]


@pytest.mark.parametrize("argv", COMMANDS, ids=["serve", "worker", "inbound-smtp"])
@pytest.mark.parametrize("key", [None, "", "short-key", "change-me-to-a-long-random-value",
                                 "dev-insecure-change-me" * 2],
                         ids=["unset", "empty", "short", "placeholder", "repeated"])
def test_services_refuse_to_start_without_a_real_secret_key(
    tmp_path: Path, argv: list[str], key: str | None
) -> None:
    extra = {} if key is None else {"MICROCRED_SECRET_KEY": key}
    done = refused_start(tmp_path, *argv, **extra)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "MICROCRED_SECRET_KEY" in lines[0]
    assert 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"' in lines[0]


def test_the_uvicorn_factory_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--port", "0"],
        cwd=tmp_path, env=environment(tmp_path), capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "MICROCRED_SECRET_KEY" in done.stderr


@contextmanager
def demo(tmp_path: Path, **extra: str) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--demo", "--port", str(port)],
        cwd=tmp_path, env=environment(tmp_path, **extra), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            lines.append(line)
            if "Uvicorn running" in line or not line:
                break
        assert server.poll() is None, "".join(lines)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def signed_in_cookie(base: str, email: str) -> str:
    with httpx.Client(base_url=base) as http:
        page = http.get("/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text
        done = http.post("/sign-in/demo", data={"email": email, "csrf_token": token.group(1)})
        assert done.status_code == 303
        return done.cookies["microcred_session"]


def forged_cookie(key: str, user_id: int, generation: int | None = 0) -> str:
    """A session cookie signed with `key`: "<id>.<generation>.<issued>.<HMAC>" (or, with no
    generation, the earlier "<id>.<issued>.<HMAC>")."""
    parts = [str(user_id)] + ([str(generation)] if generation is not None else [])
    payload = ".".join([*parts, str(int(time.time()))])
    signature = hmac.new(key.encode(), f"session:{payload}".encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{signature}"


def test_serve_demo_keeps_its_own_key_beside_the_database_and_old_constant_opens_nothing(
    tmp_path: Path
) -> None:
    with demo(tmp_path) as base:
        cookie = signed_in_cookie(base, "adam@arizona.edu")
        # A cookie signed with the key that used to be built in is nobody's session.
        for generation in (0, None):
            with httpx.Client(base_url=base, cookies={"microcred_session": forged_cookie(
                    "dev-insecure-change-me", 8, generation)}) as http:
                forged = http.get("/admin")
                assert forged.status_code == 303
                assert forged.headers["location"].startswith("/sign-in")
    key_file = tmp_path / "microcred.db.secret-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) >= 43
    # The same key after a restart: a session from the first run still opens the admin pages.
    with demo(tmp_path) as base, httpx.Client(
            base_url=base, cookies={"microcred_session": cookie}) as http:
        assert http.get("/admin").status_code == 200


def test_serve_demo_with_a_key_set_uses_it_and_writes_no_key_file(tmp_path: Path) -> None:
    with demo(tmp_path, MICROCRED_SECRET_KEY=GOOD_KEY) as base, httpx.Client(
            base_url=base, cookies={"microcred_session": forged_cookie(GOOD_KEY, 8)}) as http:
        assert http.get("/admin").status_code == 200
    assert not (tmp_path / "microcred.db.secret-key").exists()
