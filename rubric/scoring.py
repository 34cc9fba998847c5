"""Scoring a rubric: pure functions from reviews to a result a submitter can read."""

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rubric.definitions import Rubric, ScoringRule

MAX_COMMENT = 5000


class ReviewError(ValueError):
    """A review that does not fit the rubric."""


@dataclass(frozen=True)
class Review:
    reviewer: str
    scores: Mapping[str, str]
    comments: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_pairs(cls, reviewer: str, pairs: Iterable[tuple[str, str]]) -> "Review":
        """Build from (criterion, level) pairs, refusing a criterion scored twice."""
        scores: dict[str, str] = {}
        for criterion, level in pairs:
            if criterion in scores:
                raise ReviewError(f"criterion {criterion} is scored twice")
            scores[criterion] = level
        return cls(reviewer, scores)


@dataclass(frozen=True)
class CriterionResult:
    key: str
    title: str
    points: float
    level_name: str


@dataclass(frozen=True)
class Result:
    passed: bool
    score: float
    reviews: int
    min_reviews: int
    enough_reviews: bool
    criteria: tuple[CriterionResult, ...]
    reasons: tuple[str, ...]


def validate_review(rubric: Rubric, scores: Mapping[str, str],
                    comments: Mapping[str, str] | None = None) -> None:
    """Refuse a review that misses a criterion, names unknown ones, or an unknown level."""
    criteria = {c.key for c in rubric.criteria}
    levels = {level.key for level in rubric.levels}
    missing = sorted(criteria - set(scores))
    unknown = sorted(set(scores) - criteria)
    bad_levels = sorted(f"{k}={v}" for k, v in scores.items() if k in criteria and v not in levels)
    problems = []
    if missing:
        problems.append(f"score every criterion; missing: {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown criteria: {', '.join(unknown)}")
    if bad_levels:
        problems.append(f"unknown levels: {', '.join(bad_levels)} (levels are "
                        f"{', '.join(level.key for level in rubric.levels)})")
    for key, text in (comments or {}).items():
        if key not in criteria:
            problems.append(f"comment on unknown criterion {key}")
        elif len(text) > MAX_COMMENT:
            problems.append(f"the comment on {key} is longer than {MAX_COMMENT} characters")
    if problems:
        raise ReviewError("; ".join(problems))


def _median(points: Sequence[float]) -> float:
    # With an even count this is the mean of the two middle scores.
    return float(statistics.median(points))


AGGREGATIONS: dict[str, Callable[[Sequence[float]], float]] = {
    "median": _median,
    "mean": lambda points: float(statistics.fmean(points)),
    "min": lambda points: float(min(points)),
}

# A module answers the reasons it fails (empty when it passes).
Module = Callable[[Rubric, ScoringRule, Mapping[str, float]], list[str]]


def weighted_percent(points: Mapping[str, float], rubric: Rubric) -> float:
    total = sum(c.weight for c in rubric.criteria)
    earned = sum(c.weight * points[c.key] / rubric.max_points for c in rubric.criteria)
    return round(100 * earned / total, 2)


def _weighted_percent(rubric: Rubric, rule: ScoringRule, points: Mapping[str, float]) -> list[str]:
    percent = weighted_percent(points, rubric)
    threshold = rule.threshold or 0
    if percent < threshold:
        return [f"The weighted score {percent:g}% is below the {threshold:g}% needed."]
    return []


def _minimum_level(rubric: Rubric, rule: ScoringRule, points: Mapping[str, float]) -> list[str]:
    floor = rubric.level(rule.level or "")
    return [
        f"{c.title} is below {floor.name} ({_level_name(rubric, points[c.key])})."
        for c in rubric.criteria if points[c.key] < floor.points
    ]


def _all_of(rubric: Rubric, rule: ScoringRule, points: Mapping[str, float]) -> list[str]:
    return [reason for inner in rule.rules for reason in MODULES[inner.module](rubric, inner,
                                                                               points)]


MODULES: dict[str, Module] = {
    "weighted_percent": _weighted_percent,
    "minimum_level": _minimum_level,
    "all_of": _all_of,
}


def _level_name(rubric: Rubric, points: float) -> str:
    """The name of the highest level at or below these points (aggregates fall between levels)."""
    reached = [level for level in rubric.levels if level.points <= points]
    if not reached:
        return min(rubric.levels, key=lambda level: level.points).name
    return max(reached, key=lambda level: level.points).name


def score(rubric: Rubric, reviews: Sequence[Review]) -> Result:
    """Aggregate complete reviews per criterion and apply the rubric's scoring rule."""
    for review in reviews:
        validate_review(rubric, review.scores)
    aggregate = AGGREGATIONS[rubric.aggregation]
    points: dict[str, float] = {}
    for criterion in rubric.criteria:
        given = [rubric.level(r.scores[criterion.key]).points for r in reviews]
        points[criterion.key] = aggregate(given) if given else 0.0
    enough = len(reviews) >= rubric.min_reviews
    reasons = [] if enough else [
        f"{rubric.min_reviews} complete reviews are needed; {len(reviews)} so far."
    ]
    if reviews:
        reasons += MODULES[rubric.scoring.module](rubric, rubric.scoring, points)
    return Result(
        passed=enough and not reasons,
        score=weighted_percent(points, rubric) if reviews else 0.0,
        reviews=len(reviews),
        min_reviews=rubric.min_reviews,
        enough_reviews=enough,
        criteria=tuple(
            CriterionResult(c.key, c.title, points[c.key], _level_name(rubric, points[c.key]))
            for c in rubric.criteria
        ),
        reasons=tuple(reasons),
    )
