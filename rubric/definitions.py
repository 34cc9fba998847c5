"""Rubrics as versioned data: YAML or JSON files validated into frozen models.

A rubric is identified by its key and version. A version, once used, never
changes: a changed rubric is a new file with the next version number. Every
problem is reported as a `RubricError` whose message starts with the file (or
other source) and names what is wrong, so a malformed file can stop start-up
and a malformed `POST /api/rubrics` body can become a 422.
"""

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rubric.scoring import AGGREGATIONS, MODULES, RULE_PARAMETERS

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
RUBRIC_FILE_SUFFIXES = (".yaml", ".yml", ".json")


class RubricError(ValueError):
    """A rubric that cannot be used; the message names the source and the problem."""


class UnknownRubric(LookupError):
    """No rubric with that key (and version) is loaded."""


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Level(Frozen):
    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    points: float = Field(ge=0, allow_inf_nan=False)


class Criterion(Frozen):
    key: str = Field(pattern=KEY_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    weight: float = Field(gt=0, allow_inf_nan=False)
    levels: dict[str, str] = Field(description="What each level looks like, by level key")


class ScoringRule(Frozen):
    """A scoring module named by the file, with its parameters (unused ones stay empty)."""

    module: str
    threshold: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    level: str | None = None
    rules: tuple["ScoringRule", ...] = ()


class Rubric(Frozen):
    """One version of a rubric: levels, weighted criteria described per level, the pass rule."""

    key: str = Field(pattern=KEY_PATTERN)
    version: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    levels: tuple[Level, ...] = Field(min_length=2)
    criteria: tuple[Criterion, ...] = Field(min_length=1)
    scoring: ScoringRule
    aggregation: str = "median"
    min_reviews: int = Field(default=2, ge=1, le=20)
    source: str = Field(default="", exclude=True)

    @model_validator(mode="after")
    def consistent(self) -> "Rubric":
        problems = [
            *_level_problems(self.levels),
            *_duplicates("criterion", [c.key for c in self.criteria]),
            *(problem for criterion in self.criteria
              for problem in _description_problems(criterion, self.levels)),
            *_rule_problems(self.scoring, "scoring", [level.key for level in self.levels]),
        ]
        if self.aggregation not in AGGREGATIONS:
            problems.append(f"aggregation: unknown aggregation {self.aggregation!r}; use one of "
                            f"{', '.join(sorted(AGGREGATIONS))}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def level(self, key: str) -> Level:
        """The level with this key; KeyError names the rubric's levels otherwise."""
        for level in self.levels:
            if level.key == key:
                return level
        raise KeyError(f"unknown level {key!r}; levels are {', '.join(self.level_keys)}")

    def criterion(self, key: str) -> Criterion:
        """The criterion with this key; KeyError otherwise."""
        for criterion in self.criteria:
            if criterion.key == key:
                return criterion
        raise KeyError(f"unknown criterion {key!r}")

    @property
    def level_keys(self) -> tuple[str, ...]:
        return tuple(level.key for level in self.levels)

    @property
    def criterion_keys(self) -> tuple[str, ...]:
        return tuple(criterion.key for criterion in self.criteria)

    @property
    def max_points(self) -> float:
        """The top level's points: what 100% of a criterion is worth."""
        return max(level.points for level in self.levels)


def _duplicates(what: str, keys: list[str]) -> list[str]:
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    return [f"duplicate {what} key(s): {', '.join(duplicates)}"] if duplicates else []


def _level_problems(levels: tuple[Level, ...]) -> list[str]:
    problems = _duplicates("level", [level.key for level in levels])
    by_points: dict[float, list[str]] = {}
    for level in levels:
        by_points.setdefault(level.points, []).append(level.key)
    # An aggregate is named by the level it reaches, so two levels worth the same are ambiguous.
    problems += [f"levels {' and '.join(keys)} are both worth {points:g} points"
                 for points, keys in by_points.items() if len(keys) > 1]
    if max(by_points) <= 0:
        problems.append("the highest level must be worth more than 0 points")
    return problems


def _description_problems(criterion: Criterion, levels: tuple[Level, ...]) -> list[str]:
    level_keys = [level.key for level in levels]
    missing = [k for k in level_keys if not criterion.levels.get(k, "").strip()]
    unknown = [k for k in criterion.levels if k not in level_keys]
    problems = []
    if missing:
        problems.append(f"criterion {criterion.key} has no description for level(s) "
                        f"{', '.join(missing)}")
    if unknown:
        problems.append(f"criterion {criterion.key} describes unknown level(s) "
                        f"{', '.join(unknown)}")
    return problems


def _rule_problems(rule: ScoringRule, where: str, level_keys: list[str]) -> list[str]:
    module = MODULES.get(rule.module)
    if module is None:
        return [f"{where}: unknown scoring module {rule.module!r}; use one of "
                f"{', '.join(sorted(MODULES))}"]
    given = {name for name in RULE_PARAMETERS if getattr(rule, name) not in (None, ())}
    problems = [f"{where}: scoring module {rule.module} needs {RULE_PARAMETERS[name]}"
                for name in sorted(module.parameters - given)]
    problems += [f"{where}: scoring module {rule.module} takes no {name}"
                 for name in sorted(given - module.parameters)]
    if rule.level is not None and rule.level not in level_keys:
        problems.append(f"{where}: scoring module {rule.module} needs one of the rubric's "
                        f"levels ({', '.join(level_keys)}), not {rule.level!r}")
    for index, inner in enumerate(rule.rules):
        problems += _rule_problems(inner, f"{where}.rules[{index}]", level_keys)
    return problems


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def parse_rubric(data: Any, source: str) -> Rubric:
    """Validate a rubric given as data; RubricError names the source and every problem."""
    if not isinstance(data, dict):
        raise RubricError(f"{source}: a rubric must be a mapping of fields")
    try:
        return Rubric.model_validate({**data, "source": source})
    except ValidationError as error:
        raise RubricError(f"{source}: {_describe(error)}") from error


class _StrictLoader(yaml.SafeLoader):
    """Refuse a key given twice in one mapping: plain YAML keeps the last one silently."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"{key!r} is given twice in one mapping", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                              _mapping_without_duplicates)


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise ValueError(f"{', '.join(map(repr, twice))} given twice in one object")
    return dict(pairs)


def load_rubric_file(path: Path) -> Rubric:
    """Read and validate one rubric file (.json as JSON, anything else as YAML)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RubricError(f"{path}: cannot be read ({error})") from error
    if path.suffix == ".json":
        try:
            data = json.loads(text, object_pairs_hook=_object_without_duplicates)
        except ValueError as error:
            raise RubricError(f"{path}: cannot be read as JSON ({error})") from error
    else:
        try:
            data = yaml.load(text, _StrictLoader)  # a SafeLoader: builds no Python objects
        except yaml.YAMLError as error:
            raise RubricError(f"{path}: cannot be read as YAML ({error})") from error
    return parse_rubric(data, str(path))


@dataclass(frozen=True)
class RubricSet:
    """Loaded rubrics by key and version; build with `RubricSet.of` or `load_rubrics`."""

    by_version: Mapping[tuple[str, int], Rubric] = field(default_factory=dict)

    @classmethod
    def of(cls, rubrics: Iterable[Rubric]) -> "RubricSet":
        """Collect rubrics, refusing two with the same key and version (naming both sources)."""
        collected: dict[tuple[str, int], Rubric] = {}
        for rubric in rubrics:
            earlier = collected.get((rubric.key, rubric.version))
            if earlier is not None:
                raise RubricError(
                    f"{rubric.source}: rubric {rubric.key} version {rubric.version} is already "
                    f"defined by {earlier.source}; give a changed rubric the next version number")
            collected[(rubric.key, rubric.version)] = rubric
        return cls(dict(sorted(collected.items())))

    def get(self, key: str, version: int | None = None) -> Rubric:
        """The rubric with this key: the given version, or the latest one."""
        if version is not None:
            try:
                return self.by_version[(key, version)]
            except KeyError:
                raise UnknownRubric(f"no rubric {key} version {version}") from None
        versions = [rubric for (k, _), rubric in self.by_version.items() if k == key]
        if not versions:
            raise UnknownRubric(f"no rubric {key}")
        return max(versions, key=lambda rubric: rubric.version)

    def latest(self) -> tuple[Rubric, ...]:
        """The latest version of every key, by key."""
        return tuple(self.get(key) for key in self.keys())

    def keys(self) -> tuple[str, ...]:
        return tuple(sorted({key for key, _ in self.by_version}))

    def __iter__(self) -> Iterator[Rubric]:
        """Every version of every rubric, by key then version."""
        return iter(self.by_version.values())

    def __len__(self) -> int:
        return len(self.by_version)

    def __contains__(self, key_version: object) -> bool:
        return key_version in self.by_version


def rubric_files(*directories: Path) -> list[Path]:
    """The rubric files in these folders (.yaml, .yml, .json), folder by folder, by name."""
    return [path for directory in directories for path in sorted(Path(directory).iterdir())
            if path.is_file() and path.suffix in RUBRIC_FILE_SUFFIXES]


def load_rubrics(*directories: Path) -> RubricSet:
    """Load and validate every rubric file in these folders; RubricError on the first bad one."""
    for directory in directories:
        if not Path(directory).is_dir():
            raise RubricError(f"{directory}: not a folder of rubric files")
    return RubricSet.of(load_rubric_file(path) for path in rubric_files(*directories))
