"""The README stays true: its diagram and its test command."""

import re
from pathlib import Path

from tests.api.conftest import run
from workflow.machine import mermaid

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_diagram_is_the_one_microcred_diagram_prints(capsys) -> None:  # type: ignore[no-untyped-def]
    code, printed, _ = run(capsys, "diagram")
    assert code == 0
    block = re.search(r"<!-- diagram:start -->\n```mermaid\n(.*?)```\n<!-- diagram:end -->",
                      README, re.S)
    assert block is not None
    assert block.group(1) == printed == mermaid()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    commands = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    test_command = commands[1]
    assert "pytest" in test_command
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_the_readme_stays_under_25_kb() -> None:
    assert len(README.encode()) < 25_000
