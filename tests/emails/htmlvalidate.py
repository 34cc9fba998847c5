"""html-validate (npm, pinned in this directory's package-lock.json) on rendered email HTML.

`npm ci --prefix tests/emails` installs it (.ci/run does). Without node or the install the
tests that need it skip here and fail under CI=true, as the other tests do.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI

HERE = Path(__file__).resolve().parent
BINARY = HERE / "node_modules" / ".bin" / "html-validate"
CONFIG = HERE / ".htmlvalidate.json"


def need_html_validate() -> Path:
    if shutil.which("node") and BINARY.exists():
        return BINARY
    reason = "html-validate is not installed (npm ci --prefix tests/emails)"
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(f"{reason}; under CI this fails")


def lint(files: dict[str, str], workdir: Path) -> dict[str, list[str]]:
    """Lint each named HTML document in one run; answer the problems by name."""
    binary = need_html_validate()
    paths = []
    for name, html in files.items():
        path = workdir / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        paths.append(str(path))
    done = subprocess.run([str(binary), "--config", str(CONFIG), "--formatter", "json", *paths],
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise RuntimeError(f"html-validate failed: {done.stderr}")
    return {Path(result["filePath"]).stem: [
        f'{m["line"]}:{m["column"]} {m["ruleId"]}: {m["message"]}' for m in result["messages"]]
        for result in json.loads(done.stdout) if result["messages"]}
