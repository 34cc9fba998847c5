"""Rubric files: the default loads, malformed ones are refused naming the file and the problem."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from rubric.definitions import (
    RubricError,
    RubricSet,
    UnknownRubric,
    load_rubric_file,
    load_rubrics,
    parse_rubric,
)

DEFINITIONS = Path(__file__).parents[2] / "rubric/definitions"
DEFAULT_FILE = DEFINITIONS / "microcredential-v1.yaml"


def default_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_FILE.read_text())
    return data


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data) if path.suffix == ".json" else yaml.safe_dump(data))
    return path


# --- the default rubric ---------------------------------------------------------


def test_the_default_rubric_is_microcredential_version_1_with_eight_criteria() -> None:
    rubric = load_rubric_file(DEFAULT_FILE)
    assert (rubric.key, rubric.version, rubric.min_reviews) == ("microcredential", 1, 2)
    assert [(level.key, level.points) for level in rubric.levels] == [
        ("exemplary", 3), ("accomplished", 2), ("developing", 1), ("not_evident", 0)]
    assert rubric.criterion_keys == (
        "workforce_need", "learning_outcomes", "assessment_evidence", "requirements_workload",
        "stackability_pathway", "distinctness", "implementation_tracking", "badge_metadata")


def test_the_default_rubric_passes_at_75_percent_with_nothing_below_developing() -> None:
    rubric = load_rubric_file(DEFAULT_FILE)
    assert rubric.aggregation == "median"
    assert rubric.scoring.module == "all_of"
    assert [(rule.module, rule.threshold, rule.level) for rule in rubric.scoring.rules] == [
        ("weighted_percent", 75, None), ("minimum_level", None, "developing")]


def test_every_default_criterion_describes_every_level_in_words_a_reviewer_can_apply() -> None:
    rubric = load_rubric_file(DEFAULT_FILE)
    for criterion in rubric.criteria:
        assert criterion.description.strip()
        descriptions = [criterion.levels[key].strip() for key in rubric.level_keys]
        assert all(len(text) >= 30 for text in descriptions), criterion.key
        assert len(set(descriptions)) == len(descriptions), criterion.key


def test_the_shipped_definitions_folder_loads_with_microcredential_as_latest() -> None:
    rubrics = load_rubrics(DEFINITIONS)
    assert rubrics.get("microcredential").version == 1


# --- malformed files ------------------------------------------------------------


def changed(**changes: Any) -> dict[str, Any]:
    data = default_data()
    data.update(changes)
    return data


def without(field: str) -> dict[str, Any]:
    data = default_data()
    del data[field]
    return data


def first_criterion(**change: Any) -> dict[str, Any]:
    data = default_data()
    data["criteria"][0].update(change)
    return data


def first_criterion_without(field: str) -> dict[str, Any]:
    data = default_data()
    del data["criteria"][0][field]
    return data


def second_criterion_key(key: str) -> dict[str, Any]:
    data = default_data()
    data["criteria"][1]["key"] = key
    return data


FOUR_LEVEL_TEXTS = dict.fromkeys(("exemplary", "accomplished", "developing", "not_evident"),
                                 "described")
WEIGHTED = {"module": "weighted_percent", "threshold": 75}


@pytest.mark.parametrize(("data", "problem"), [
    (without("levels"), "levels: Field required"),
    (changed(levels=[]), "levels: Tuple should have at least 2 items"),
    (changed(levels=[{"key": "good", "name": "Good", "points": 1},
                     {"key": "good", "name": "Good again", "points": 2}]),
     "duplicate level key(s): good"),
    (changed(levels=[{"key": "good", "name": "Good", "points": 1},
                     {"key": "fine", "name": "Fine", "points": 1}]),
     "levels good and fine are both worth 1 points"),
    (changed(levels=[{"key": "good", "name": "Good", "points": 0},
                     {"key": "bad", "name": "Bad", "points": -1}]),
     "levels.1.points: Input should be greater than or equal to 0"),
    (without("criteria"), "criteria: Field required"),
    (changed(criteria=[]), "criteria: Tuple should have at least 1 item"),
    (first_criterion(weight=0), "criteria.0.weight: Input should be greater than 0"),
    (first_criterion(weight=-2), "criteria.0.weight: Input should be greater than 0"),
    (first_criterion(weight=float("inf")), "criteria.0.weight: Input should be a finite number"),
    (first_criterion_without("weight"), "criteria.0.weight: Field required"),
    (second_criterion_key("workforce_need"), "duplicate criterion key(s): workforce_need"),
    (first_criterion(levels={"exemplary": "x"}),
     "criterion workforce_need has no description for level(s) accomplished, developing, "
     "not_evident"),
    (first_criterion(levels={**FOUR_LEVEL_TEXTS, "developing": "  "}),
     "criterion workforce_need has no description for level(s) developing"),
    (first_criterion(levels={**FOUR_LEVEL_TEXTS, "legendary": "x"}),
     "criterion workforce_need describes unknown level(s) legendary"),
    (changed(scoring={"module": "vibes"}),
     "scoring: unknown scoring module 'vibes'; use one of all_of, minimum_level, "
     "weighted_percent"),
    (changed(scoring={"module": "all_of", "rules": [WEIGHTED, {"module": "vibes"}]}),
     "scoring.rules[1]: unknown scoring module 'vibes'"),
    (changed(scoring={"module": "weighted_percent"}),
     "scoring: scoring module weighted_percent needs a threshold"),
    (changed(scoring={"module": "weighted_percent", "threshold": 120}),
     "scoring.threshold: Input should be less than or equal to 100"),
    (changed(scoring={**WEIGHTED, "level": "developing"}),
     "scoring: scoring module weighted_percent takes no level"),
    (changed(scoring={"module": "minimum_level", "level": "legendary"}),
     "scoring: scoring module minimum_level needs one of the rubric's levels (exemplary, "
     "accomplished, developing, not_evident), not 'legendary'"),
    (changed(scoring={"module": "all_of", "rules": []}),
     "scoring: scoring module all_of needs a list of rules"),
    (changed(scoring={"module": "all_of", "rules": [
        WEIGHTED, {"module": "minimum_level", "level": "legendary"}]}),
     "scoring.rules[1]: scoring module minimum_level needs one of the rubric's levels"),
    (changed(aggregation="mode"), "aggregation: unknown aggregation 'mode'; use one of mean, "
                                  "median, min"),
    (changed(min_reviews=0), "min_reviews: Input should be greater than or equal to 1"),
    (changed(version=0), "version: Input should be greater than or equal to 1"),
    (changed(version="first"), "version: Input should be a valid integer"),
    (changed(key="Micro Credential"), "key: String should match pattern"),
    (changed(treshold=75), "treshold: Extra inputs are not permitted"),
])
def test_malformed_rubric_files_are_refused_naming_file_and_problem(
    tmp_path: Path, data: dict[str, Any], problem: str
) -> None:
    path = write(tmp_path / "office-v2.yaml", data)
    with pytest.raises(RubricError) as refused:
        load_rubric_file(path)
    assert str(refused.value).startswith(f"{path}: ")
    assert problem in str(refused.value)


def test_every_consistency_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    data = changed(aggregation="mode", scoring={"module": "vibes"})
    path = write(tmp_path / "office.yaml", data)
    with pytest.raises(RubricError) as refused:
        load_rubric_file(path)
    assert "unknown scoring module 'vibes'" in str(refused.value)
    assert "unknown aggregation 'mode'" in str(refused.value)


def test_a_key_written_twice_in_a_yaml_mapping_is_refused_with_its_line(tmp_path: Path) -> None:
    lines = DEFAULT_FILE.read_text().splitlines()
    at = lines.index("min_reviews: 2") + 1
    path = tmp_path / "office.yaml"
    path.write_text("\n".join([*lines[:at], "min_reviews: 1", *lines[at:]]))
    with pytest.raises(RubricError) as refused:
        load_rubric_file(path)
    assert str(path) in str(refused.value)
    assert "'min_reviews' is given twice in one mapping" in str(refused.value)
    assert f"line {at + 1}," in str(refused.value)


def test_a_key_written_twice_in_a_json_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "office.json"
    path.write_text('{"key": "office", "key": "office2"}')
    with pytest.raises(RubricError, match="'key' given twice in one object"):
        load_rubric_file(path)


@pytest.mark.parametrize(("name", "text", "problem"), [
    ("bad.yaml", "key: [unclosed", "cannot be read as YAML"),
    ("bad.json", '{"key": ', "cannot be read as JSON"),
    ("empty.yaml", "", "a rubric must be a mapping of fields"),
    ("list.yaml", "- key: office\n", "a rubric must be a mapping of fields"),
])
def test_a_file_that_is_not_a_rubric_mapping_is_refused(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(RubricError) as refused:
        load_rubric_file(path)
    assert str(refused.value).startswith(f"{path}: {problem}")


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="nowhere.yaml: cannot be read"):
        load_rubric_file(tmp_path / "nowhere.yaml")


def test_a_rubric_file_may_be_json(tmp_path: Path) -> None:
    path = write(tmp_path / "office.json", changed(key="office"))
    assert load_rubric_file(path).key == "office"


# --- data from the API ------------------------------------------------------------


def test_parse_rubric_names_its_source_in_the_refusal() -> None:
    with pytest.raises(RubricError) as refused:
        parse_rubric(changed(levels=[]), "request body")
    assert str(refused.value).startswith("request body: levels: ")


def test_parse_rubric_ignores_a_source_given_in_the_data() -> None:
    assert parse_rubric(changed(source="elsewhere"), "request body").source == "request body"


def test_a_rubric_stored_as_json_reads_back_equal() -> None:
    rubric = load_rubric_file(DEFAULT_FILE)
    stored = json.loads(json.dumps(rubric.model_dump(mode="json")))
    assert "source" not in stored
    assert parse_rubric(stored, rubric.source) == rubric


def test_a_rubric_cannot_be_changed_once_loaded() -> None:
    rubric = load_rubric_file(DEFAULT_FILE)
    with pytest.raises(ValidationError):
        rubric.min_reviews = 1


def test_rubric_lookups_by_key_refuse_unknown_keys() -> None:
    rubric = load_rubric_file(DEFAULT_FILE)
    assert rubric.level("developing").name == "Developing"
    assert rubric.criterion("distinctness").title == "Distinctness from existing credentials"
    with pytest.raises(KeyError, match="unknown level 'legendary'"):
        rubric.level("legendary")
    with pytest.raises(KeyError, match="unknown criterion 'charm'"):
        rubric.criterion("charm")


# --- a folder of rubrics ----------------------------------------------------------


def version(key: str, number: int) -> dict[str, Any]:
    return changed(key=key, version=number, title=f"{key} v{number}")


def test_load_rubrics_finds_each_version_and_the_latest_per_key(tmp_path: Path) -> None:
    write(tmp_path / "office-v1.yaml", version("office", 1))
    write(tmp_path / "office-v3.yml", version("office", 3))
    write(tmp_path / "office-v2.json", version("office", 2))
    write(tmp_path / "extension-v1.yaml", version("extension", 1))
    (tmp_path / "README.txt").write_text("not a rubric")
    rubrics = load_rubrics(tmp_path)
    assert len(rubrics) == 4
    assert rubrics.keys() == ("extension", "office")
    assert rubrics.get("office").title == "office v3"
    assert rubrics.get("office", 2).title == "office v2"
    assert ("office", 2) in rubrics
    assert [(r.key, r.version) for r in rubrics.latest()] == [("extension", 1), ("office", 3)]
    assert [(r.key, r.version) for r in rubrics] == [
        ("extension", 1), ("office", 1), ("office", 2), ("office", 3)]


def test_load_rubrics_reads_several_folders(tmp_path: Path) -> None:
    write(tmp_path / "office-v2.yaml", version("microcredential", 2))
    rubrics = load_rubrics(DEFINITIONS, tmp_path)
    assert [r.version for r in rubrics] == [1, 2]
    assert rubrics.get("microcredential").source == str(tmp_path / "office-v2.yaml")


@pytest.mark.parametrize(("key", "number", "problem"), [
    ("office", 4, "no rubric office version 4"),
    ("nothing", None, "no rubric nothing"),
    ("nothing", 1, "no rubric nothing version 1"),
])
def test_looking_up_a_rubric_that_is_not_loaded_is_refused(
    key: str, number: int | None, problem: str
) -> None:
    rubrics = RubricSet.of([parse_rubric(version("office", 1), "test")])
    with pytest.raises(UnknownRubric, match=problem):
        rubrics.get(key, number)


def test_two_files_with_the_same_key_and_version_are_refused_naming_both(
    tmp_path: Path
) -> None:
    first = write(tmp_path / "a.yaml", version("office", 1))
    second = write(tmp_path / "b.yaml", changed(key="office", version=1, title="edited"))
    with pytest.raises(RubricError) as refused:
        load_rubrics(tmp_path)
    assert str(refused.value) == (
        f"{second}: rubric office version 1 is already defined by {first}; give a changed "
        f"rubric the next version number")


def test_a_malformed_file_in_a_folder_stops_the_whole_load(tmp_path: Path) -> None:
    write(tmp_path / "good.yaml", version("office", 1))
    bad = write(tmp_path / "bad.yaml", changed(key="office", version=2, levels=[]))
    with pytest.raises(RubricError) as refused:
        load_rubrics(tmp_path)
    assert str(refused.value).startswith(f"{bad}: levels")


def test_a_rubric_folder_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="not a folder of rubric files"):
        load_rubrics(tmp_path / "missing")


def test_an_empty_folder_gives_an_empty_set(tmp_path: Path) -> None:
    rubrics = load_rubrics(tmp_path)
    assert (len(rubrics), rubrics.keys()) == (0, ())
