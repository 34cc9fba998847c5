"""Scoring a rubric: pure functions from reviews to a result a submitter can read.

`score(rubric, reviews)` aggregates each criterion across the reviews (the
rubric's `aggregation`: median, mean or min of the level points), then runs
the rubric's scoring module over those per-criterion points. A module is a
pure function named in the rubric file and looked up in `MODULES`; it answers
the reasons the proposal fails, in a submitter's words, and nothing when it
passes. Nothing here touches a database.
"""

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # definitions validates rubrics against the registries below
    from rubric.definitions import Level, Rubric, ScoringRule

MAX_COMMENT = 5000


class ReviewError(ValueError):
    """A review that does not fit the rubric; the message says what to fix."""


@dataclass(frozen=True)
class Review:
    """One reviewer's complete scoring: a level key per criterion key, optional comments."""

    reviewer: str
    scores: Mapping[str, str]
    comments: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Copies, read-only: a caller changing its dict later must not change a scored review.
        object.__setattr__(self, "scores", MappingProxyType(dict(self.scores)))
        object.__setattr__(self, "comments", MappingProxyType(dict(self.comments)))

    @classmethod
    def from_pairs(cls, reviewer: str, pairs: Iterable[tuple[str, str]],
                   comments: Mapping[str, str] | None = None) -> "Review":
        """Build from (criterion, level) pairs, refusing a criterion scored twice."""
        scores: dict[str, str] = {}
        for criterion, level in pairs:
            if criterion in scores:
                raise ReviewError(f"criterion {criterion} is scored twice "
                                  f"({scores[criterion]} and {level}); score it once")
            scores[criterion] = level
        return cls(reviewer, scores, comments or {})


@dataclass(frozen=True)
class CriterionResult:
    """A criterion's aggregate across reviews, and the level that aggregate reaches."""

    key: str
    title: str
    points: float
    level: str
    level_name: str


@dataclass(frozen=True)
class Result:
    """The aggregate of a round of reviews; `score` is the weighted percent (0-100)."""

    passed: bool
    score: float
    reviews: int
    min_reviews: int
    enough_reviews: bool
    criteria: tuple[CriterionResult, ...]
    reasons: tuple[str, ...]


def validate_review(rubric: "Rubric", scores: Mapping[str, str],
                    comments: Mapping[str, str] | None = None) -> None:
    """Refuse a review that misses a criterion, names unknown ones or an unknown level."""
    criteria = set(rubric.criterion_keys)
    levels = set(rubric.level_keys)
    missing = [key for key in rubric.criterion_keys if key not in scores]
    unknown = sorted(str(key) for key in set(scores) - criteria)
    bad_levels = sorted(f"{key}={level}" for key, level in scores.items()
                        if key in criteria and level not in levels)
    problems = []
    if missing:
        problems.append(f"score every criterion; missing: {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown criteria: {', '.join(unknown)}")
    if bad_levels:
        problems.append(f"unknown levels: {', '.join(bad_levels)} "
                        f"(levels are {', '.join(rubric.level_keys)})")
    for key, text in (comments or {}).items():
        if key not in criteria:
            problems.append(f"comment on unknown criterion {key}")
        elif not isinstance(text, str):
            problems.append(f"the comment on {key} must be text")
        elif len(text) > MAX_COMMENT:
            problems.append(f"the comment on {key} is longer than {MAX_COMMENT} characters")
    if problems:
        raise ReviewError("; ".join(problems))


# --- aggregation across reviewers ---------------------------------------------


def median(points: Sequence[float]) -> float:
    """The middle value; with an even count, the mean of the two middle values."""
    return float(statistics.median(points))


def mean(points: Sequence[float]) -> float:
    return statistics.fmean(points)


def minimum(points: Sequence[float]) -> float:
    return float(min(points))


AGGREGATIONS: dict[str, Callable[[Sequence[float]], float]] = {
    "median": median,
    "mean": mean,
    "min": minimum,
}


# --- scoring modules ------------------------------------------------------------


def weighted_score(rubric: "Rubric", points: Mapping[str, float]) -> float:
    """Weighted points as a percent of the top level's points, rounded to two decimals."""
    total = sum(c.weight for c in rubric.criteria)
    earned = sum(c.weight * points[c.key] / rubric.max_points for c in rubric.criteria)
    # Rounded before any threshold sees it, so the figure shown is the figure that decided.
    return round(100 * earned / total, 2)


def weighted_percent(rubric: "Rubric", rule: "ScoringRule",
                     points: Mapping[str, float]) -> list[str]:
    """Fail when the weighted score is below `threshold` percent."""
    percent = weighted_score(rubric, points)
    threshold = rule.threshold or 0.0
    if percent < threshold:
        return [f"The weighted score {percent:g}% is below the {threshold:g}% needed."]
    return []


def minimum_level(rubric: "Rubric", rule: "ScoringRule",
                  points: Mapping[str, float]) -> list[str]:
    """Fail for every criterion whose aggregate is below `level`."""
    floor = rubric.level(rule.level or "")
    return [
        f"{c.title} is below {floor.name} ({level_reached(rubric, points[c.key]).name})."
        for c in rubric.criteria if points[c.key] < floor.points
    ]


def all_of(rubric: "Rubric", rule: "ScoringRule", points: Mapping[str, float]) -> list[str]:
    """Fail with the reasons of every one of `rules` that fails."""
    return [reason for inner in rule.rules
            for reason in MODULES[inner.module].evaluate(rubric, inner, points)]


@dataclass(frozen=True)
class ScoringModule:
    """A rule a rubric file can name: the function, and the parameters it must be given."""

    evaluate: Callable[["Rubric", "ScoringRule", Mapping[str, float]], list[str]]
    parameters: frozenset[str]


# What a rule's parameters are, in the words a refusal uses ("needs a threshold ...").
RULE_PARAMETERS: dict[str, str] = {
    "threshold": "a threshold (a percent from 0 to 100)",
    "level": "a level",
    "rules": "a list of rules",
}

MODULES: dict[str, ScoringModule] = {
    "weighted_percent": ScoringModule(weighted_percent, frozenset({"threshold"})),
    "minimum_level": ScoringModule(minimum_level, frozenset({"level"})),
    "all_of": ScoringModule(all_of, frozenset({"rules"})),
}


# --- the result ---------------------------------------------------------------


def level_reached(rubric: "Rubric", points: float) -> "Level":
    """The highest level at or below these points (an aggregate may fall between levels)."""
    reached = [level for level in rubric.levels if level.points <= points]
    if not reached:
        return min(rubric.levels, key=lambda level: level.points)
    return max(reached, key=lambda level: level.points)


def _reviews_needed(rubric: "Rubric", counted: int) -> str:
    needed = rubric.min_reviews
    noun = "review is" if needed == 1 else "reviews are"
    return f"{needed} complete {noun} needed; {counted} so far."


def score(rubric: "Rubric", reviews: Sequence[Review]) -> Result:
    """Aggregate complete reviews per criterion and apply the rubric's scoring rule.

    Every review must fit the rubric (ReviewError names the reviewer and the
    problem) and each reviewer counts once. With no reviews the score is 0 and
    the only reason is the reviews still needed.
    """
    reviewers: set[str] = set()
    for review in reviews:
        if review.reviewer in reviewers:
            raise ReviewError(f"{review.reviewer} has more than one review; each counts once")
        reviewers.add(review.reviewer)
        try:
            validate_review(rubric, review.scores, review.comments)
        except ReviewError as error:
            raise ReviewError(f"the review by {review.reviewer}: {error}") from error
    aggregate = AGGREGATIONS[rubric.aggregation]
    points = {
        criterion.key: aggregate([rubric.level(r.scores[criterion.key]).points for r in reviews])
        if reviews else 0.0
        for criterion in rubric.criteria
    }
    enough = len(reviews) >= rubric.min_reviews
    reasons = [] if enough else [_reviews_needed(rubric, len(reviews))]
    if reviews:
        reasons += MODULES[rubric.scoring.module].evaluate(rubric, rubric.scoring, points)
    criteria = []
    for criterion in rubric.criteria:
        level = level_reached(rubric, points[criterion.key])
        criteria.append(CriterionResult(criterion.key, criterion.title, points[criterion.key],
                                        level.key, level.name))
    return Result(
        passed=enough and not reasons,
        score=weighted_score(rubric, points) if reviews else 0.0,
        reviews=len(reviews),
        min_reviews=rubric.min_reviews,
        enough_reviews=enough,
        criteria=tuple(criteria),
        reasons=tuple(reasons),
    )
