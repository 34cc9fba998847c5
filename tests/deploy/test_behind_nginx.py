"""The service as deploy/ runs it: the Procfile's two web processes on Unix sockets and a worker,
behind deploy/nginx.conf with the proxy secret, on a PostgreSQL of the test's own."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col, select

from api.demo import sample_proposal
from notifications.models import OutboxMessage
from plumbing.database import build_engine
from tests.conftest import IN_CI, free_port
from tests.scale.conftest import Cluster, Deployment, client_for, prepare, throwaway_postgres

__all__ = ["throwaway_postgres"]  # the fixture, used by name below

ROOT = Path(__file__).resolve().parents[2]
PROXY_SECRET = "proxy-secret-of-the-nginx-test-0123456789"
METRICS_TOKEN = "metrics-token-of-the-nginx-test-0123456789"
DATABASE_PASSWORD = "database-password-of-the-nginx-test"
NOGROUP = 65534  # nginx's workers run as nobody:nogroup here, as www-data would in deploy/


@dataclass
class Proxy:
    https: str
    http: str
    run: Path

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.https, verify=False, timeout=30, headers=headers)


def need_nginx() -> str:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None or shutil.which("openssl") is None or os.geteuid() != 0:
        if IN_CI:
            pytest.fail("CI=true but nginx, openssl or root is missing (.ci/run installs them)")
        pytest.skip("needs nginx, openssl and root; under CI this fails")
    return nginx


def site_config(run: Path, http_port: int, https_port: int) -> str:
    """deploy/nginx.conf with this test's paths, ports and secret. Single sign-on is simulated:
    the user an SSO module would leave in $remote_user comes from the X-Test-User header."""
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    for old, new in {
        "/run/microcred/web-1.sock": f"{run}/web1.sock",
        "/run/microcred/web-2.sock": f"{run}/web2.sock",
        "/etc/ssl/certs/microcred.pem": f"{run}/cert.pem",
        "/etc/ssl/private/microcred.key": f"{run}/key.pem",
        "/var/log/nginx/": f"{run}/",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "change-me-to-a-third-long-random-value": PROXY_SECRET,
        "proxy_set_header X-Remote-User $remote_user;":
            "proxy_set_header X-Remote-User $http_x_test_user;",
    }.items():
        assert old in site, old
        site = site.replace(old, new)
    return site


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """The sockets' folder, as /run/microcred: 0750, group nginx's (not pytest's 0700 tmp)."""
    run = Path(tempfile.mkdtemp(prefix="microcred-run."))
    os.chown(run, 0, NOGROUP)
    run.chmod(0o750)
    (run / "metrics").mkdir()
    yield run
    shutil.rmtree(run, ignore_errors=True)


@pytest.fixture
def proxy(run_dir: Path) -> Iterator[Proxy]:
    nginx = need_nginx()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(run_dir / "key.pem"),
                    "-out", str(run_dir / "cert.pem")], check=True, capture_output=True)
    http_port, https_port = free_port(), free_port()
    (run_dir / "site.conf").write_text(site_config(run_dir, http_port, https_port))
    (run_dir / "nginx.conf").write_text(
        f"user nobody nogroup;\nworker_processes 1;\npid {run_dir}/nginx.pid;\n"
        f"error_log {run_dir}/nginx-error.log;\nevents {{}}\n"
        f"http {{ include {run_dir}/site.conf; }}\n")
    checked = subprocess.run([nginx, "-t", "-p", str(run_dir), "-c", str(run_dir / "nginx.conf")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    server = subprocess.Popen([nginx, "-p", str(run_dir), "-c", str(run_dir / "nginx.conf"),
                               "-g", "daemon off;"], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", https_port)) == 0:
                break
        time.sleep(0.05)
    yield Proxy(f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}", run_dir)
    server.send_signal(signal.SIGQUIT)
    server.wait(timeout=10)


def metric(body: str, name: str, **labels: str) -> float:
    for line in body.splitlines():
        found = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if found and dict(re.findall(r'(\w+)="([^"]*)"', found.group(1) or "")) == labels:
            return float(found.group(2))
    raise AssertionError(f"{name}{labels} not in\n{body}")


def wait_for(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_the_service_behind_the_example_proxy_signs_in_only_through_it_and_reports_its_health(
        throwaway_postgres: Cluster, proxy: Proxy, run_dir: Path) -> None:
    url = throwaway_postgres.url.replace("postgres@", f"postgres:{DATABASE_PASSWORD}@")
    engine = build_engine(url, pool_size=2)
    cast = prepare(engine, owners=1)
    deployment = Deployment(url, run_dir, extra_env={
        "MICROCRED_TRUSTED_USER_HEADER": "X-Remote-User",
        "MICROCRED_TRUSTED_PROXY_SECRET": PROXY_SECRET,
        "MICROCRED_METRICS_TOKEN": METRICS_TOKEN,
        "MICROCRED_BASE_URL": "https://microcred.example.edu",
        "MICROCRED_LOG_FORMAT": "json",
        # A mail server that refuses every connection: the outbox backs up, as it would.
        "MICROCRED_SMTP_HOST": "127.0.0.1", "MICROCRED_SMTP_PORT": str(free_port()),
        "MICROCRED_EMAIL_BACKOFF_SECONDS": "600",
        "PROMETHEUS_MULTIPROC_DIR": str(run_dir / "metrics"),
    })
    try:
        webs = [deployment.add("web"), deployment.add("web")]
        deployment.add("worker")
        for web in webs:
            web.wait_ready()

        # Straight to a web process, past nginx: a forged header signs nobody in.
        for sent in ({}, {"X-Microcred-Proxy-Secret": "a guess"}):
            with client_for(webs[0].url) as direct:
                forged = direct.get("/overview", follow_redirects=False, headers={
                    "X-Remote-User": "badge@arizona.edu", **sent})
            assert forged.status_code == 303 and forged.headers["location"].startswith(
                "/sign-in")
        # Another user of the host cannot even connect: the sockets' folder is closed to it.
        refused = subprocess.run(
            ["python3", "-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); "
             f"s.connect({str(webs[0].socket)!r})"], user=12345, group=12345, extra_groups=[],
            capture_output=True, text=True)
        assert refused.returncode != 0 and "PermissionError" in refused.stderr

        # Through nginx: the single sign-on user is believed; a client's own header is not.
        with proxy.client(**{"X-Test-User": "badge@arizona.edu"}) as signed_in:
            page = signed_in.get("/overview", follow_redirects=False)
        assert page.status_code == 200
        assert page.headers["Strict-Transport-Security"] == "max-age=63072000"
        assert re.fullmatch(r"[0-9a-f]{32}", page.headers["X-Request-ID"])
        with proxy.client(**{"X-Remote-User": "badge@arizona.edu",
                             "X-Microcred-Proxy-Secret": PROXY_SECRET}) as forger:
            assert forger.get("/overview", follow_redirects=False).status_code == 303
        redirect = httpx.get(f"{proxy.http}/proposals?x=1", follow_redirects=False)
        assert redirect.status_code == 301
        assert redirect.headers["location"] == "https://127.0.0.1/proposals?x=1"

        # Work that leaves email waiting, and an action link opened through the proxy.
        with proxy.client() as api:
            created = api.post("/api/proposals", headers=cast.owners[0],
                               json=sample_proposal("Proxy Credential", "CS").model_dump(
                                   mode="json"))
            assert created.status_code == 201
            submitted = api.post(f"/api/proposals/{created.json()['id']}/submit",
                                 headers=cast.owners[0], json={})
            assert submitted.status_code == 200
        wait_for(lambda: action_tokens(engine))
        token = action_tokens(engine)[0]
        with proxy.client() as browser:
            assert browser.get(f"/actions/{token}?do=approve").status_code == 200

        # /metrics through nginx, with its token: the backlog, and every process's counts.
        with proxy.client(Authorization=f"Bearer {METRICS_TOKEN}") as monitor:
            assert httpx.get(f"{proxy.https}/metrics", verify=False).status_code == 401

            def backed_up() -> bool:
                body = monitor.get("/metrics").text
                return metric(body, "microcred_outbox_messages", status="pending") >= 1
            wait_for(backed_up)
            body = monitor.get("/metrics").text
        assert metric(body, "microcred_outbox_oldest_pending_age_seconds") > 0
        assert metric(body, "microcred_database_up") == 1
        assert metric(body, "microcred_http_requests_total", method="POST",
                      route="/api/proposals", status="201") == 1
        assert metric(body, "microcred_worker_runs_total", job="reminders", outcome="ok") >= 1
        assert token not in body

        # Readiness follows PostgreSQL; liveness does not.
        with proxy.client() as balancer:
            assert balancer.get("/api/ready").json() == {"status": "ready"}
            throwaway_postgres.ctl("-m", "fast", "stop")
            try:
                down = balancer.get("/api/ready")
                assert down.status_code == 503, down.text
                assert down.json()["detail"].startswith("the database is unavailable")
                assert balancer.get("/api/health").status_code == 200
            finally:
                throwaway_postgres.ctl("-l", str(throwaway_postgres.data.parent / "log"), "-w",
                                       "start")
            wait_for(lambda: balancer.get("/api/ready").status_code == 200)
    finally:
        deployment.stop()
        engine.dispose()

    # No log line holds a token, a secret or the password: the processes' and nginx's.
    logs = {path.name: path.read_text(errors="replace") for path in run_dir.glob("*.log")}
    assert {"web1.log", "web2.log", "worker1.log", "microcred.access.log"} <= logs.keys()
    secrets = [token, PROXY_SECRET, METRICS_TOKEN, DATABASE_PASSWORD,
               *[h["Authorization"].split()[1] for h in (*cast.owners, cast.lead)]]
    for name, text_ in logs.items():
        for secret in secrets:
            assert secret not in text_, (name, secret[:8])
    assert "/actions/<token>?do=approve" in logs["microcred.access.log"]
    requests = [json.loads(line) for line in logs["web1.log"].splitlines() + logs[
        "web2.log"].splitlines() if line.startswith("{")]
    lines = [r for r in requests if r.get("logger") == "microcred.request"]
    assert any(r["path"].startswith("/actions/<token>") for r in lines)
    assert any(r["actor"] == "badge@arizona.edu" and r["path"] == "/overview" for r in lines)
    assert {"time", "level", "request_id", "actor", "status"} <= lines[0].keys()
    assert ":***@" in logs["worker1.log"]  # the start-up line names the database, masked


def action_tokens(engine: object) -> list[str]:
    with Session(engine) as session:  # type: ignore[call-overload]
        bodies = session.exec(select(OutboxMessage.body_text).where(
            col(OutboxMessage.body_text).contains("/actions/"))).all()
    return [t for b in bodies for t in re.findall(r"/actions/([a-z2-7]{32})", b)]
