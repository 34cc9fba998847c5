"""deploy/ and the documents that describe it say the same thing, and parse where they must."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from dotenv import dotenv_values

from plumbing.settings import Settings
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCUMENTS = [ROOT / "README.md", ROOT / "docs" / "deployment.md"]
VENV_BIN = "/opt/microcred/.venv/bin/"


def unit_option(unit: Path, key: str) -> list[str]:
    """Every value of `key` in a unit file, continuation lines joined."""
    text = re.sub(r"\\\n\s*", "", unit.read_text())
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


def procfile() -> dict[str, str]:
    lines = (DEPLOY / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line and not line.startswith("#"))


def test_the_documents_start_the_web_processes_exactly_as_deploy_does() -> None:
    processes = procfile()
    unit = unit_option(DEPLOY / "systemd" / "microcred-web@.service", "ExecStart")[0]
    assert unit.removeprefix(VENV_BIN).replace("%i", "1") == processes["web1"]
    assert processes["web2"] == processes["web1"].replace("web-1.sock", "web-2.sock")
    assert unit_option(DEPLOY / "systemd" / "microcred-worker@.service", "ExecStart") == [
        VENV_BIN + processes["worker"]]
    for document in DOCUMENTS:
        shown = [line.strip() for line in document.read_text().splitlines()
                 if line.strip().startswith("uvicorn ")]
        assert shown == [processes["web1"]], document


def test_nothing_tells_uvicorn_to_believe_forwarded_headers() -> None:
    """The app reads X-Forwarded-* itself, from the proxy only: uvicorn's own handling would
    lose the proxy's address and break single sign-on."""
    for path in [*DOCUMENTS, *DEPLOY.rglob("*")]:
        if path.is_file():
            assert not re.search(r"(?<!no-)--proxy-headers", path.read_text()), path


def test_the_upstreams_are_the_sockets_the_web_processes_listen_on() -> None:
    sockets = set(re.findall(r"server unix:(\S+)", (DEPLOY / "nginx.conf").read_text()))
    listened = {re.search(r"--uds (\S+)", c).group(1)  # type: ignore[union-attr]
                for name, c in procfile().items() if name.startswith("web")}
    assert sockets == listened


def test_migrations_run_before_every_start_without_remain_after_exit() -> None:
    systemd = DEPLOY / "systemd"
    migrate = systemd / "microcred-migrate.service"
    assert unit_option(migrate, "ExecStart") == [VENV_BIN + "microcred db upgrade"]
    assert unit_option(migrate, "Type") == ["oneshot"]
    assert not unit_option(migrate, "RemainAfterExit")
    for name in ("microcred-web@.service", "microcred-worker@.service"):
        unit = systemd / name
        assert "microcred-migrate.service" in unit_option(unit, "Wants")[0]
        assert "microcred-migrate.service" in unit_option(unit, "After")[0]
        # Requires= would restart every process whenever the migrations are restarted.
        assert not unit_option(unit, "Requires")
        assert unit_option(unit, "ExecStartPre") == [VENV_BIN + "microcred db current"]
        assert unit_option(unit, "RuntimeDirectoryMode") == ["0750"]


def test_the_units_are_valid_systemd_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if IN_CI:
            pytest.fail("CI=true but systemd-analyze is missing (.ci/run installs systemd)")
        pytest.skip("systemd-analyze is not installed; under CI this fails")
    bin_dir = Path(shutil.which("microcred") or ROOT / ".venv/bin/microcred").parent
    names = []
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text().replace(VENV_BIN, f"{bin_dir}/").replace(
            "/etc/microcred/microcred.env", str(DEPLOY / "microcred.env"))
        name = unit.name.replace("@.", "@1.")
        (tmp_path / name).write_text(text)
        names.append(str(tmp_path / name))
    checked = subprocess.run([analyze, "verify", *names], capture_output=True, text=True,
                             env={"SYSTEMD_UNIT_PATH": f"{tmp_path}:", "PATH": "/usr/bin:/bin"})
    assert (checked.returncode, checked.stderr) == (0, "")


ENV_FILE = DEPLOY / "microcred.env"
# A value both sh and systemd read the same way: bare without anything a shell treats
# specially, or in double quotes without $ ` \ or ".
BARE = re.compile(r"[A-Za-z0-9_@%+=:,./-]*")
QUOTED = re.compile(r"\"[^\"$`\\\\]*\"")


def test_the_env_file_reads_the_same_in_sh_systemd_and_dotenv() -> None:
    systemd_values = {}
    for line in ENV_FILE.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), line
        assert BARE.fullmatch(value) or QUOTED.fullmatch(value), line
        systemd_values[name] = value[1:-1] if value.startswith('"') else value
    shell = subprocess.run(
        ["sh", "-c", f'set -a; . "{ENV_FILE}"; env -0'], capture_output=True, check=True,
        env={"PATH": "/usr/bin:/bin"}).stdout.decode()
    from_shell = dict(e.split("=", 1) for e in shell.split("\0") if e)
    assert {k: from_shell[k] for k in systemd_values} == systemd_values
    assert dotenv_values(ENV_FILE) == systemd_values
    assert systemd_values["MICROCRED_MAIL_FROM"] == "Micro-credentials <microcred@example.edu>"


def test_the_env_file_names_what_a_deployment_must_decide_and_loads() -> None:
    named = set(re.findall(r"^#?(MICROCRED_[A-Z_]+)=", ENV_FILE.read_text(), re.M))
    assert {"MICROCRED_BADGE_OFFICE_EMAIL", "MICROCRED_ISSUER_NAME", "MICROCRED_ISSUER_URL",
            "MICROCRED_TRUSTED_USER_HEADER", "MICROCRED_TRUSTED_PROXY_SECRET",
            "MICROCRED_TIME_ZONE", "MICROCRED_SECRET_KEY", "MICROCRED_DATABASE_URL",
            "MICROCRED_BASE_URL", "MICROCRED_SMTP_HOST", "MICROCRED_MAIL_FROM",
            "MICROCRED_REPLY_DOMAIN", "MICROCRED_METRICS_TOKEN"} <= named
    settings = Settings(_env_file=ENV_FILE)  # type: ignore[call-arg]
    assert settings.issuer_name == "Example University"


def test_one_table_in_the_readme_holds_every_setting() -> None:
    """Rows name settings in full, or after a full name by the end that differs
    (`MICROCRED_SMTP_USERNAME`, `_PASSWORD`)."""
    readme = (ROOT / "README.md").read_text()
    settings = {f"MICROCRED_{name.upper()}" for name in Settings.model_fields}
    known = settings | {"PROMETHEUS_MULTIPROC_DIR"}
    listed = set()
    for row in re.findall(r"^\| (`(?:MICROCRED|PROMETHEUS)_[A-Z_]+`(?:, `[A-Z_]+`)*) \|", readme,
                          re.M):
        first, *rest = re.findall(r"`([A-Z_]+)`", row)
        listed.add(first)
        for name in rest:
            ends = [k for k in known if k == name or k.endswith(name)]
            assert ends, f"{name} in the README names no setting"
            listed.add(max(ends, key=lambda k: len(os.path.commonprefix([k, first]))))
    assert listed == known
