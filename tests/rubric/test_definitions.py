"""Rubric files: the default loads, malformed ones are refused with the problem named."""

from pathlib import Path

import pytest
import yaml

from rubric.definitions import RubricError, load_rubric_file

DEFAULT_FILE = Path(__file__).parents[2] / "rubric/definitions/microcredential-v1.yaml"


def test_the_default_rubric_is_microcredential_version_1_with_eight_criteria() -> None:
    rubric = load_rubric_file(DEFAULT_FILE)
    assert (rubric.key, rubric.version, rubric.min_reviews) == ("microcredential", 1, 2)
    assert [(level.key, level.points) for level in rubric.levels] == [
        ("exemplary", 3), ("accomplished", 2), ("developing", 1), ("not_evident", 0)]
    assert len(rubric.criteria) == 8
    assert all(len(c.levels[level]) > 20 for c in rubric.criteria
               for level in ("exemplary", "accomplished", "developing"))


def broken(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(DEFAULT_FILE.read_text())
    data.update(changes)
    path = tmp_path / "office-v2.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def criteria_with(change: dict[str, object]) -> list[dict[str, object]]:
    data = yaml.safe_load(DEFAULT_FILE.read_text())
    data["criteria"][0].update(change)
    return list(data["criteria"])


@pytest.mark.parametrize(("changes", "problem"), [
    ({"levels": []}, "levels"),
    ({"criteria": criteria_with({"weight": 0})}, "weight: Input should be greater than 0"),
    ({"criteria": criteria_with({"weight": -2})}, "greater than 0"),
    ({"scoring": {"module": "vibes"}}, "unknown scoring module 'vibes'"),
    ({"scoring": {"module": "weighted_percent"}}, "weighted_percent needs a threshold"),
    ({"scoring": {"module": "minimum_level", "level": "legendary"}},
     "needs one of the rubric's levels"),
    ({"aggregation": "mode"}, "unknown aggregation 'mode'"),
    ({"criteria": criteria_with({"levels": {"exemplary": "x"}})},
     "has no description for level(s) accomplished, developing, not_evident"),
    ({"levels": [{"key": "good", "name": "Good", "points": 1},
                 {"key": "good", "name": "Good again", "points": 2}]}, "duplicate level key"),
    ({"version": 0}, "version"),
])
def test_malformed_rubric_files_are_refused_naming_file_and_problem(
    tmp_path: Path, changes: dict[str, object], problem: str
) -> None:
    path = broken(tmp_path, **changes)
    with pytest.raises(RubricError) as refused:
        load_rubric_file(path)
    assert str(path) in str(refused.value)
    assert problem in str(refused.value)


def test_a_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("key: [unclosed")
    with pytest.raises(RubricError, match="cannot be read as YAML"):
        load_rubric_file(path)
