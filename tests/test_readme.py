"""The README stays true: its diagram and its test command."""

import re
from pathlib import Path

from tests.api.conftest import run
from workflow.machine import TRANSITIONS, State, mermaid

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


def life_diagram() -> str:
    block = re.search(r"<!-- life:start -->\n```mermaid\n(.*?)```\n<!-- life:end -->", README,
                      re.S)
    assert block is not None, "the README has its diagram of the whole life"
    return block.group(1)


def test_the_whole_life_diagram_is_short_and_names_every_stage_in_order() -> None:
    diagram = life_diagram()
    lines = diagram.splitlines()
    assert lines[0] == "flowchart LR" and len(lines) <= 12
    labels = " ".join(re.findall(r'\["([^"]+)"\]', diagram)).lower()
    stages = ["proposal", "meeting", "publication", "awarding", "verification", "review",
              "retirement"]
    places = [labels.find(stage) for stage in stages]
    assert -1 not in places and places == sorted(places), dict(zip(stages, places, strict=True))


def test_the_whole_life_diagram_moves_proposals_only_as_the_state_machine_does() -> None:
    """An arrow between two states names the triggers that take a proposal from one to the
    other in the machine's table, in order; the other steps are things the service does."""
    diagram = life_diagram()
    states = {state.value for state in State}
    edges = re.findall(r"^\s*(\w+)(?:\[[^\]]*\])? -->\|([^|]+)\| (\w+)", diagram, re.M)
    assert len(edges) >= 7
    checked = 0
    for source, label, target in edges:
        if source not in states or target not in states:
            continue
        state = State(source)
        for trigger in (word.strip() for word in label.split(",")):
            steps = [t for t in TRANSITIONS if t.trigger == trigger and state in t.source]
            assert steps, f"{trigger} cannot be fired in {state}"
            state = steps[0].dest
        assert state is State(target), f"{label} leads from {source} to {state}, not {target}"
        checked += 1
    assert checked >= 3
    # Retirement is the machine's: published --retire--> retired.
    assert any(t.trigger == "retire" and State.PUBLISHED in t.source
               and t.dest is State.RETIRED for t in TRANSITIONS)
