"""Scoring modules and aggregation, as tables and as properties."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rubric.definitions import Rubric, load_rubric_file, parse_rubric
from rubric.scoring import Review, ReviewError, score, validate_review

DEFAULT = load_rubric_file(Path(__file__).parents[2] / "rubric/definitions/microcredential-v1.yaml")
LEVELS = {"exemplary": 3, "accomplished": 2, "developing": 1, "not_evident": 0}


def small(scoring: dict[str, object], aggregation: str = "median", min_reviews: int = 1,
          weights: tuple[float, float] = (1, 1)) -> Rubric:
    """Two criteria, four levels: small enough to compute by hand."""
    return parse_rubric({
        "key": "small", "version": 1, "title": "Small",
        "levels": [{"key": k, "name": k.replace("_", " ").title(), "points": p}
                   for k, p in LEVELS.items()],
        "criteria": [
            {"key": key, "title": key.title(), "weight": weight,
             "levels": {k: f"{key} at {k}" for k in LEVELS}}
            for key, weight in zip(("clarity", "rigour"), weights, strict=True)
        ],
        "scoring": scoring, "aggregation": aggregation, "min_reviews": min_reviews,
    }, "test")


def reviews(*pairs: tuple[str, str]) -> list[Review]:
    return [Review(f"r{i}", {"clarity": c, "rigour": r}) for i, (c, r) in enumerate(pairs)]


WEIGHTED_75 = {"module": "weighted_percent", "threshold": 75}
FLOOR = {"module": "minimum_level", "level": "developing"}


@pytest.mark.parametrize(("scoring", "given_reviews", "weights", "score_percent", "passed"), [
    (WEIGHTED_75, [("exemplary", "exemplary")], (1, 1), 100.0, True),
    (WEIGHTED_75, [("exemplary", "developing")], (1, 1), 66.67, False),
    (WEIGHTED_75, [("exemplary", "developing")], (3, 1), 83.33, True),
    (WEIGHTED_75, [("accomplished", "exemplary")], (1, 1), 83.33, True),
    (WEIGHTED_75, [("accomplished", "accomplished")], (1, 1), 66.67, False),
    (FLOOR, [("developing", "developing")], (1, 1), 33.33, True),
    (FLOOR, [("exemplary", "not_evident")], (1, 1), 50.0, False),
    ({"module": "all_of", "rules": [WEIGHTED_75, FLOOR]}, [("exemplary", "not_evident")],
     (5, 1), 83.33, False),
    ({"module": "all_of", "rules": [WEIGHTED_75, FLOOR]}, [("exemplary", "developing")],
     (5, 1), 88.89, True),
])
def test_scoring_modules(scoring: dict[str, object], given_reviews: list[tuple[str, str]],
                         weights: tuple[float, float], score_percent: float,
                         passed: bool) -> None:
    result = score(small(scoring, weights=weights), reviews(*given_reviews))
    assert (result.score, result.passed) == (score_percent, passed)


@pytest.mark.parametrize(("aggregation", "clarity_levels", "points", "level_name"), [
    ("median", ["exemplary", "developing", "accomplished"], 2.0, "Accomplished"),
    ("median", ["exemplary", "developing"], 2.0, "Accomplished"),  # tie: mean of the middle two
    ("median", ["exemplary", "not_evident"], 1.5, "Developing"),
    ("mean", ["exemplary", "developing", "developing"], 5 / 3, "Developing"),
    ("min", ["exemplary", "developing", "accomplished"], 1.0, "Developing"),
    ("min", ["not_evident", "exemplary"], 0.0, "Not Evident"),
])
def test_aggregation_across_reviewers(aggregation: str, clarity_levels: list[str],
                                      points: float, level_name: str) -> None:
    rubric = small(WEIGHTED_75, aggregation=aggregation)
    result = score(rubric, [Review(f"r{i}", {"clarity": c, "rigour": "exemplary"})
                            for i, c in enumerate(clarity_levels)])
    clarity = result.criteria[0]
    assert clarity.points == pytest.approx(points)
    assert clarity.level_name == level_name


def test_failure_reasons_are_in_a_submitters_words() -> None:
    result = score(DEFAULT, [
        Review("a", {c.key: "exemplary" for c in DEFAULT.criteria}
               | {"assessment_evidence": "not_evident"}),
        Review("b", {c.key: "accomplished" for c in DEFAULT.criteria}
               | {"assessment_evidence": "not_evident"}),
    ])
    assert not result.passed
    assert "Assessment and evidence of achievement is below Developing (Not evident)." in (
        result.reasons)


def test_too_few_reviews_do_not_pass_and_say_how_many_are_needed() -> None:
    result = score(DEFAULT, [Review("a", {c.key: "exemplary" for c in DEFAULT.criteria})])
    assert (result.passed, result.enough_reviews) == (False, False)
    assert result.reasons == ("2 complete reviews are needed; 1 so far.",)


def test_no_reviews_score_zero_and_do_not_pass() -> None:
    result = score(DEFAULT, [])
    assert (result.passed, result.score, result.reviews) == (False, 0.0, 0)


@pytest.mark.parametrize(("scores", "problem"), [
    ({"clarity": "exemplary"}, "missing: rigour"),
    ({"clarity": "exemplary", "rigour": "superb"}, "unknown levels: rigour=superb"),
    ({"clarity": "exemplary", "rigour": "developing", "charm": "exemplary"},
     "unknown criteria: charm"),
])
def test_incomplete_or_unknown_scores_are_refused(scores: dict[str, str], problem: str) -> None:
    with pytest.raises(ReviewError, match=problem):
        validate_review(small(WEIGHTED_75), scores)
    with pytest.raises(ReviewError, match=problem):
        score(small(WEIGHTED_75), [Review("r", scores)])


def test_a_criterion_scored_twice_is_refused() -> None:
    with pytest.raises(ReviewError, match="rigour is scored twice"):
        Review.from_pairs("r", [("clarity", "exemplary"), ("rigour", "developing"),
                                ("rigour", "exemplary")])


def test_comments_must_name_criteria_and_stay_short() -> None:
    scores = {"clarity": "exemplary", "rigour": "exemplary"}
    with pytest.raises(ReviewError, match="unknown criterion style"):
        validate_review(small(WEIGHTED_75), scores, {"style": "Nice."})
    with pytest.raises(ReviewError, match="longer than"):
        validate_review(small(WEIGHTED_75), scores, {"clarity": "x" * 5001})


level_names = st.sampled_from(list(LEVELS))
one_review = st.tuples(level_names, level_names)


@given(st.lists(one_review, min_size=1, max_size=6), st.data(),
       st.sampled_from(["median", "mean", "min"]))
def test_raising_one_level_never_lowers_the_score(
    given_reviews: list[tuple[str, str]], data: st.DataObject, aggregation: str
) -> None:
    rubric = small({"module": "all_of", "rules": [WEIGHTED_75, FLOOR]}, aggregation=aggregation)
    before = score(rubric, reviews(*given_reviews))
    index = data.draw(st.integers(0, len(given_reviews) - 1))
    which = data.draw(st.integers(0, 1))
    order = list(LEVELS)[::-1]  # not_evident .. exemplary
    pair = list(given_reviews[index])
    pair[which] = order[min(order.index(pair[which]) + 1, len(order) - 1)]
    raised = [*given_reviews]
    raised[index] = (pair[0], pair[1])
    after = score(rubric, reviews(*raised))
    assert after.score >= before.score
    assert after.passed or not before.passed


@given(st.lists(one_review, min_size=1, max_size=6), st.randoms(),
       st.sampled_from(["median", "mean", "min"]))
def test_the_result_does_not_depend_on_the_order_of_reviews(
    given_reviews: list[tuple[str, str]], random: object, aggregation: str
) -> None:
    rubric = small(WEIGHTED_75, aggregation=aggregation)
    shuffled = [*given_reviews]
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    first, second = score(rubric, reviews(*given_reviews)), score(rubric, reviews(*shuffled))
    assert (first.score, first.passed, first.criteria) == (
        second.score, second.passed, second.criteria)
