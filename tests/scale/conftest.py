"""Real processes for the scale and fault tests: the deploy/Procfile's web processes and
workers as subprocesses, their own databases, a client that drives whole lifecycles."""

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from api.demo import sample_proposal
from notifications.expand import expand_pending
from notifications.models import OutboxMessage
from plumbing.database import build_engine
from plumbing.migrate import upgrade
from plumbing.settings import Settings
from tests.conftest import IN_CI, SMTPServer, free_port, need_postgres
from workflow.accounts.models import DepartmentCreate, Role
from workflow.accounts.service import add_department, add_user, issue_token
from workflow.audit import AuditEntry
from workflow.events import OutboxEvent, for_transition
from workflow.machine import TRIGGERS, State
from workflow.proposals.models import Proposal
from workflow.reviews.rubrics import install_rubrics

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


SOCKET = "/run/microcred/web-1.sock"


def procfile() -> dict[str, str]:
    """The process types of deploy/Procfile, as commands; `web` is web1's, whose socket each
    test web process replaces with its own."""
    commands = {}
    for line in (REPO / "deploy" / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            commands[name.strip()] = command.strip()
    commands["web"] = commands["web1"]
    return commands


def client_for(endpoint: str, timeout: float = 30) -> httpx.Client:
    """A client of a web process: `unix:<path>` for one on a Unix socket, else a base URL."""
    if endpoint.startswith("unix:"):
        return httpx.Client(base_url="http://microcred", timeout=timeout,
                            transport=httpx.HTTPTransport(uds=endpoint.removeprefix("unix:")))
    return httpx.Client(base_url=endpoint, timeout=timeout)


@dataclass
class Process:
    """One Procfile process, which a test can kill and start again."""

    name: str
    command: str
    env: dict[str, str]
    log: Path
    socket: Path | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = shlex.split(self.command.replace(SOCKET, str(self.socket)))
        argv[0] = str(BIN / argv[0])
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(argv, cwd=REPO, env=self.env, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def url(self) -> str:
        """Where the Driver reaches it: its Unix socket."""
        return f"unix:{self.socket}"

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen is not None and self.popen.poll() is None, self.log.read_text()
            try:
                with client_for(self.url, timeout=1) as http:
                    if http.get("/api/health").status_code == 200:
                        return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start: {self.log.read_text()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(sig)
            self.popen.wait(timeout=30)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


@dataclass
class Deployment:
    """N web processes and M workers from deploy/Procfile, sharing one database."""

    database_url: str
    tmp: Path
    smtp_port: int | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MICROCRED_")}
        env.update({
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "MICROCRED_DATABASE_URL": self.database_url,
            "MICROCRED_SECRET_KEY": "kP3vR8tW1zX6cB9nM2qL5sD7fG0hJ4yU8iO1aE6rT3w",
            "MICROCRED_DATABASE_POOL_SIZE": "8",
            "MICROCRED_EMAIL_POLL_SECONDS": "0.2",
            "MICROCRED_EMAIL_BATCH_SIZE": "50",
            "MICROCRED_EMAIL_BACKOFF_SECONDS": "0.5",
            "MICROCRED_EMAIL_BACKOFF_MAX_SECONDS": "4",
            "MICROCRED_EMAIL_MAX_ATTEMPTS": "100",
            "MICROCRED_EMAIL_LEASE_SECONDS": "30",
            "MICROCRED_SMTP_TIMEOUT_SECONDS": "5",
            **self.extra_env,
        })
        if self.smtp_port:
            env.update({"MICROCRED_SMTP_HOST": "127.0.0.1",
                        "MICROCRED_SMTP_PORT": str(self.smtp_port)})
        return env

    def add(self, kind: str) -> Process:
        number = sum(p.name.startswith(kind) for p in self.processes) + 1
        process = Process(f"{kind}{number}", procfile()[kind], self.env(),
                          self.tmp / f"{kind}{number}.log",
                          socket=self.tmp / f"{kind}{number}.sock" if kind == "web" else None)
        self.processes.append(process)
        process.start()
        return process

    @property
    def webs(self) -> list[Process]:
        return [p for p in self.processes if p.name.startswith("web")]

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


@pytest.fixture
def own_postgres() -> Iterator[str]:
    """A fresh database of its own on the test PostgreSQL server, migrated; its URL."""
    url = make_url(need_postgres())
    name = f"microcred_scale_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    own = url.set(database=name).render_as_string(hide_password=False)
    yield own
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer(free_port())
    server.start()
    yield server
    server.stop()


# --- the people and the client -------------------------------------------------------------


@dataclass
class Cast:
    owners: list[dict[str, str]]
    lead: dict[str, str]
    coordinator: dict[str, str]
    reviewer: dict[str, str]
    reviewer_email: str
    scores: dict[str, str]


def prepare(engine: Engine, owners: int = 8) -> Cast:
    """Migrate, then add a department, its submitters and lead, the coordinator, a reviewer."""
    upgrade(engine)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    def token(session: Session, email: str, roles: list[Role], dept: str | None) -> dict[str, str]:
        user = add_user(session, email, email.split("@")[0].title(), roles, dept)
        return {"Authorization": f"Bearer {issue_token(session, user)}"}

    with Session(engine, expire_on_commit=False) as session:
        install_rubrics(session, settings)
        session.commit()
        add_department(session, DepartmentCreate(code="CS", name="Computer Science"))
        cast = Cast(
            owners=[token(session, f"owner{i}@arizona.edu", [Role.SUBMITTER], "CS")
                    for i in range(owners)],
            lead=token(session, "lead@arizona.edu", [Role.DEPARTMENT_LEAD], "CS"),
            coordinator=token(session, "badge@arizona.edu", [Role.COORDINATOR], None),
            reviewer=token(session, "reviewer@arizona.edu", [Role.REVIEWER], None),
            reviewer_email="reviewer@arizona.edu", scores={},
        )
    from workflow.reviews.rubrics import rubric_version
    with Session(engine) as session:
        rubric = rubric_version(session, "microcredential")
        cast.scores = {c.key: "exemplary" for c in rubric.criteria}
    return cast


TERMINAL = {"withdrawn", "rejected"}


@dataclass
class Lifecycle:
    """One proposal driven to its end by one client; it records the answers it got."""

    number: int
    cast: Cast
    accepted: list[tuple[str, int, str]] = field(default_factory=list)  # trigger, version, state
    statuses: list[int] = field(default_factory=list)
    unclear: int = 0  # requests whose answer never came (connection lost)
    lost: list[str] = field(default_factory=list)  # what each of those met, for the report
    retry_after: list[str | None] = field(default_factory=list)  # of each 503
    proposal_id: int | None = None
    state: str | None = None
    version: int = 0
    returned: bool = False
    reviewed: bool = False

    @property
    def variant(self) -> int:
        return self.number % 4

    @property
    def owner(self) -> dict[str, str]:
        return self.cast.owners[self.number % len(self.cast.owners)]

    def done(self) -> bool:
        if self.state in TERMINAL:
            return True
        return self.variant == 0 and self.state == "design_review" and self.returned

    def next_step(self) -> tuple[dict[str, str], str, str | None]:
        """Who fires what next, for this lifecycle's path."""
        c, v, s = self.cast, self.variant, self.state
        if s == "draft":
            return self.owner, "submit", None
        if s == "returned":
            return self.owner, "resubmit", None
        if s == "department_review":
            if v == 1 and not self.returned:
                return c.lead, "return", "Please name the employer partners."
            if v == 2:
                return c.lead, "reject", "Outside this department's scope."
            return c.lead, "approve", None
        if s == "rubric_review":
            if v == 0:
                return c.coordinator, "approve", None
            return self.owner, "withdraw", None
        if s == "design_review":
            return c.coordinator, "return", "The badge image needs alt text."
        raise AssertionError(f"no step from {s}")


class Driver:
    """Runs lifecycles against a set of web processes, retrying as a careful client does."""

    def __init__(self, urls: list[str], *, deadline: float = 120) -> None:
        self.urls = urls
        self.deadline = time.monotonic() + deadline
        self.local = threading.local()

    def http(self, number: int) -> httpx.Client:
        clients: dict[str, httpx.Client] = self.local.__dict__.setdefault("clients", {})
        url = self.urls[number % len(self.urls)]
        if url not in clients:
            clients[url] = client_for(url)
        return clients[url]

    def request(self, life: Lifecycle, method: str, path: str, headers: dict[str, str],
                json: object = None) -> httpx.Response | None:
        try:
            response = self.http(life.number).request(method, path, headers=headers, json=json)
        except httpx.TransportError as error:
            life.unclear += 1
            life.lost.append(f"{method} {path}: {error!r}")
            time.sleep(0.2)
            return None
        life.statuses.append(response.status_code)
        if response.status_code == 503:
            life.retry_after.append(response.headers.get("Retry-After"))
            time.sleep(0.2)
        return response

    def reload(self, life: Lifecycle) -> None:
        r = None
        while time.monotonic() < self.deadline:
            r = self.request(life, "GET", f"/api/proposals/{life.proposal_id}", life.owner)
            if r is not None and r.status_code == 200:
                body = r.json()
                life.state, life.version = body["state"], body["version"]
                life.returned = life.returned or life.state == "returned"
                return
        last = f"{r.status_code} {r.text}" if r is not None else "no answer"
        raise AssertionError(f"proposal {life.proposal_id} unreadable at the deadline: {last}")

    def create(self, life: Lifecycle) -> None:
        data = sample_proposal(f"Scale credential {life.number}", "CS").model_dump(mode="json")
        while life.proposal_id is None and time.monotonic() < self.deadline:
            r = self.request(life, "POST", "/api/proposals", life.owner, json=data)
            if r is not None and r.status_code == 201:
                body = r.json()
                life.proposal_id, life.state, life.version = body["id"], body["state"], \
                    body["version"]
            elif r is not None and r.status_code not in (503, 502):
                raise AssertionError(f"create answered {r.status_code}: {r.text}")
        # A create whose answer was lost may leave a draft nobody drives; the checks allow it.

    def review(self, life: Lifecycle) -> bool:
        c, pid = life.cast, life.proposal_id
        r = self.request(life, "POST", f"/api/proposals/{pid}/reviewers", c.coordinator,
                         json={"reviewers": [c.reviewer_email]})
        if r is None or r.status_code != 200:
            return False
        for who in (c.reviewer, c.coordinator):
            r = self.request(life, "PUT", f"/api/proposals/{pid}/reviews/mine", who,
                             json={"scores": c.scores, "comments": {}})
            if r is None or r.status_code != 200:
                return False
        return True

    def fire(self, life: Lifecycle, who: dict[str, str], trigger: str, comment: str | None
             ) -> httpx.Response | None:
        body: dict[str, object] = {"version": life.version}
        if comment:
            body["comment"] = comment
        return self.request(life, "POST", f"/api/proposals/{life.proposal_id}/{trigger}", who,
                            json=body)

    def run(self, life: Lifecycle) -> Lifecycle:
        self.create(life)
        while life.proposal_id is not None and not life.done():
            if time.monotonic() > self.deadline:
                raise AssertionError(f"lifecycle {life.number} unfinished at the deadline")
            if life.state == "rubric_review" and life.variant == 0 and not life.reviewed:
                life.reviewed = self.review(life)
                if not life.reviewed:
                    self.reload(life)
                continue
            who, trigger, comment = life.next_step()
            if life.variant == 3 and trigger == "approve":
                # A double click: the same approval twice at once, with the same version.
                with ThreadPoolExecutor(2) as pair:
                    twice = [pair.submit(self.fire, life, who, trigger, comment)
                             for _ in range(2)]
                    answers = [f.result() for f in twice]
            else:
                answers = [self.fire(life, who, trigger, comment)]
            wins = [a for a in answers if a is not None and a.status_code == 200]
            for win in wins:
                body = win.json()
                life.accepted.append((trigger, body["version"], body["state"]))
            if len(wins) == 1 and len(answers) == 1 or (wins and all(
                    a is not None and a.status_code in (200, 409) for a in answers)):
                body = wins[-1].json()
                life.state, life.version = body["state"], body["version"]
                life.returned = life.returned or life.state == "returned"
            else:
                self.reload(life)
        return life


def run_lifecycles(urls: list[str], cast: Cast, count: int, clients: int,
                   deadline: float = 120, lives: list[Lifecycle] | None = None
                   ) -> list[Lifecycle]:
    """Drive `count` lifecycles; given `lives` (empty), it is filled first, so another thread
    can watch the load's progress."""
    driver = Driver(urls, deadline=deadline)
    if lives is None:
        lives = []
    lives.extend(Lifecycle(n, cast) for n in range(count))
    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(driver.run, lives))


# --- what the database says ----------------------------------------------------------------


def transitions_in_audit(engine: Engine) -> dict[int, list[tuple[str, int, str, str]]]:
    """Per proposal, its accepted transitions in chain order: trigger, version, from, to."""
    trail: dict[int, list[tuple[str, int, str, str]]] = {}
    with Session(engine) as session:
        for e in session.exec(select(AuditEntry).where(
                col(AuditEntry.action).in_(list(TRIGGERS)), AuditEntry.outcome == "accepted")
                .order_by(col(AuditEntry.seq))):
            trail.setdefault(e.proposal_id or 0, []).append(
                (e.action, e.version or 0, e.from_state or "", e.to_state or ""))
    return trail


def assert_states_match_audit(engine: Engine) -> None:
    """Every proposal's state and version are those its audit trail leads to, link by link."""
    trail = transitions_in_audit(engine)
    # What a worker does next: the events written with the transitions become their emails.
    expand_pending(engine, Settings(_env_file=None))  # type: ignore[call-arg]
    with Session(engine) as session:
        proposals = session.exec(select(Proposal)).all()
        for p in proposals:
            steps = trail.get(p.id or 0, [])
            state = "draft"
            for _trigger, _version, source, dest in steps:
                assert source == state, f"proposal {p.id}: {steps}"
                state = dest
            assert p.state == state, f"proposal {p.id} is {p.state}, its trail says {state}"
            # Transitions only here (nobody edits), so each one is one version.
            assert p.version == 1 + len(steps), f"proposal {p.id}: v{p.version}, {steps}"
            # Each transition's event was written with it, and became its emails: no email
            # without its transition, no transition without its emails.
            outbox_events = set(session.exec(select(OutboxMessage.event).where(
                OutboxMessage.proposal_id == p.id)).all()) - {"reviewer_assigned"}
            events = {for_transition(t, State(f), State(to)) for t, _v, f, to in steps} - {None}
            assert outbox_events == {e.value for e in events if e}, f"proposal {p.id}"


def wait_for_outbox(engine: Engine, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(engine) as session:
            waiting = session.exec(select(OutboxMessage.id).where(
                OutboxMessage.status != "sent").limit(1)).first()
            unexpanded = session.exec(select(OutboxEvent.id).limit(1)).first()
        if waiting is None and unexpanded is None:
            return
        time.sleep(0.3)
    raise AssertionError("the outbox was not drained in time")


def assert_each_message_received_once(engine: Engine, smtp: SMTPServer) -> int:
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage.message_id, OutboxMessage.recipient)).all()
    received = [(str(m.message["Message-ID"]), m.recipients[0]) for m in smtp.received]
    assert len(received) == len(set(received)), "a message was delivered twice"
    assert sorted(received) == sorted(rows)
    return len(rows)


def sqlite_file_engine(path: Path) -> Engine:
    return build_engine(f"sqlite:///{path}")


def need_root(what: str) -> None:
    if os.geteuid() != 0 or not Path("/usr/lib/postgresql").exists() and what == "postgres":
        if IN_CI:
            pytest.fail(f"CI=true but {what} is not available here")
        pytest.skip(f"needs root for {what}; under CI this fails")


@dataclass
class Cluster:
    """A throwaway PostgreSQL cluster of the test's own, which it may restart."""

    bin: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str) -> None:
        command = " ".join([str(self.bin / "pg_ctl"), "-D", str(self.data), *args])
        subprocess.run(["su", "postgres", "-c", command], check=True, capture_output=True)


@pytest.fixture
def throwaway_postgres() -> Iterator[Cluster]:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if os.geteuid() != 0 or not versions or not shutil.which("su"):
        if IN_CI:
            pytest.fail("CI=true but a throwaway PostgreSQL cluster cannot be started here")
        pytest.skip("needs root and PostgreSQL's binaries; under CI this fails")
    # Not under pytest's tmp_path: the postgres user cannot enter root's private folder.
    home = Path(tempfile.mkdtemp(prefix="microcred-test-pg."))
    shutil.chown(home, "postgres")
    cluster = Cluster(versions[-1].parent, home / "data", free_port())
    subprocess.run(["su", "postgres", "-c", f"{cluster.bin / 'initdb'} -D {cluster.data} "
                    "--auth=trust -U postgres"], check=True, capture_output=True)
    with (cluster.data / "postgresql.conf").open("a") as conf:
        # In the file, not on pg_ctl's command line, so a restart keeps them.
        conf.write(f"port = {cluster.port}\nunix_socket_directories = '{home}'\n"
                   "listen_addresses = '127.0.0.1'\nfsync = off\nmax_connections = 100\n")
    cluster.ctl("-l", str(home / "log"), "-w", "start")
    try:
        yield cluster
    finally:
        cluster.ctl("-m", "immediate", "stop")
        shutil.rmtree(home, ignore_errors=True)
