"""Rubrics as versioned data: YAML files validated into frozen models."""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class RubricError(ValueError):
    """A rubric that cannot be used; the message names the source and the problem."""


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Level(Frozen):
    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    points: float = Field(ge=0)


class Criterion(Frozen):
    key: str = Field(pattern=KEY_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    weight: float = Field(gt=0)
    levels: dict[str, str] = Field(description="What each level looks like, by level key")


class ScoringRule(Frozen):
    module: str
    threshold: float | None = Field(default=None, ge=0, le=100)
    level: str | None = None
    rules: tuple["ScoringRule", ...] = ()


class Rubric(Frozen):
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
        from rubric.scoring import AGGREGATIONS, MODULES

        level_keys = [level.key for level in self.levels]
        _unique("level", level_keys)
        _unique("criterion", [c.key for c in self.criteria])
        for criterion in self.criteria:
            missing = [k for k in level_keys if k not in criterion.levels]
            unknown = [k for k in criterion.levels if k not in level_keys]
            if missing:
                raise ValueError(f"criterion {criterion.key} has no description for level(s) "
                                 f"{', '.join(missing)}")
            if unknown:
                raise ValueError(f"criterion {criterion.key} describes unknown level(s) "
                                 f"{', '.join(unknown)}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {self.aggregation!r}; use one of "
                             f"{', '.join(sorted(AGGREGATIONS))}")
        _check_rule(self.scoring, set(level_keys), MODULES)
        return self

    def level(self, key: str) -> Level:
        return next(level for level in self.levels if level.key == key)

    @property
    def max_points(self) -> float:
        return max(level.points for level in self.levels)


def _unique(what: str, keys: list[str]) -> None:
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"duplicate {what} key(s): {', '.join(duplicates)}")


def _check_rule(rule: ScoringRule, levels: set[str], modules: Iterable[str]) -> None:
    modules = set(modules)
    if rule.module not in modules:
        raise ValueError(f"unknown scoring module {rule.module!r}; use one of "
                         f"{', '.join(sorted(modules))}")
    if rule.module == "weighted_percent" and rule.threshold is None:
        raise ValueError("scoring module weighted_percent needs a threshold")
    if rule.module == "minimum_level" and rule.level not in levels:
        raise ValueError(f"scoring module minimum_level needs one of the rubric's levels, "
                         f"not {rule.level!r}")
    if rule.module == "all_of":
        if not rule.rules:
            raise ValueError("scoring module all_of needs a list of rules")
        for inner in rule.rules:
            _check_rule(inner, levels, modules)


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


def load_rubric_file(path: Path) -> Rubric:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RubricError(f"{path}: cannot be read as YAML ({error})") from error
    return parse_rubric(data, str(path))
