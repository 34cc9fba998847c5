"""Scoring modules and aggregation, as tables and as properties."""

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rubric.definitions import Rubric, load_rubric_file, parse_rubric
from rubric.scoring import MAX_COMMENT, Review, ReviewError, score, validate_review

DEFAULT = load_rubric_file(Path(__file__).parents[2] / "rubric/definitions/microcredential-v1.yaml")
LEVELS = {"exemplary": 3, "accomplished": 2, "developing": 1, "not_evident": 0}
ASCENDING = sorted(LEVELS, key=LEVELS.__getitem__)  # not_evident .. exemplary


def small(scoring: dict[str, Any], aggregation: str = "median", min_reviews: int = 1,
          weights: tuple[float, float] = (1, 1)) -> Rubric:
    """Two criteria, four levels: small enough to compute by hand."""
    return parse_rubric({
        "key": "small", "version": 1, "title": "Small",
        "levels": [{"key": k, "name": k.replace("_", " ").capitalize(), "points": p}
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


def everything(level: str, **exceptions: str) -> dict[str, str]:
    """A review of the default rubric: every criterion at one level, some at others."""
    return {key: exceptions.get(key, level) for key in DEFAULT.criterion_keys}


WEIGHTED_75 = {"module": "weighted_percent", "threshold": 75}
FLOOR = {"module": "minimum_level", "level": "developing"}
BOTH = {"module": "all_of", "rules": [WEIGHTED_75, FLOOR]}


# --- scoring modules --------------------------------------------------------------


@pytest.mark.parametrize(("scoring", "given_reviews", "weights", "score_percent", "passed"), [
    # weighted_percent: percent of the top level's points, weighted; the threshold itself passes
    (WEIGHTED_75, [("exemplary", "exemplary")], (1, 1), 100.0, True),
    (WEIGHTED_75, [("not_evident", "not_evident")], (1, 1), 0.0, False),
    (WEIGHTED_75, [("exemplary", "developing")], (1, 1), 66.67, False),
    (WEIGHTED_75, [("exemplary", "developing")], (3, 1), 83.33, True),
    (WEIGHTED_75, [("exemplary", "accomplished")], (1, 3), 75.0, True),
    (WEIGHTED_75, [("accomplished", "exemplary")], (1, 1), 83.33, True),
    (WEIGHTED_75, [("accomplished", "accomplished")], (1, 1), 66.67, False),
    ({"module": "weighted_percent", "threshold": 0}, [("not_evident", "not_evident")], (1, 1),
     0.0, True),
    # minimum_level: every criterion at or above the level, whatever the percent
    (FLOOR, [("developing", "developing")], (1, 1), 33.33, True),
    (FLOOR, [("exemplary", "not_evident")], (1, 1), 50.0, False),
    ({"module": "minimum_level", "level": "exemplary"}, [("exemplary", "accomplished")], (1, 1),
     83.33, False),
    ({"module": "minimum_level", "level": "not_evident"}, [("not_evident", "not_evident")],
     (1, 1), 0.0, True),
    # all_of: passes only when every rule passes
    (BOTH, [("exemplary", "not_evident")], (5, 1), 83.33, False),
    (BOTH, [("exemplary", "developing")], (5, 1), 88.89, True),
    (BOTH, [("developing", "developing")], (1, 1), 33.33, False),
    ({"module": "all_of", "rules": [BOTH]}, [("exemplary", "developing")], (5, 1), 88.89, True),
])
def test_scoring_modules(scoring: dict[str, Any], given_reviews: list[tuple[str, str]],
                         weights: tuple[float, float], score_percent: float,
                         passed: bool) -> None:
    result = score(small(scoring, weights=weights), reviews(*given_reviews))
    assert (result.score, result.passed) == (score_percent, passed)


@pytest.mark.parametrize(("scoring", "given_reviews", "reasons"), [
    (WEIGHTED_75, [("exemplary", "developing")],
     ("The weighted score 66.67% is below the 75% needed.",)),
    (FLOOR, [("not_evident", "not_evident")],
     ("Clarity is below Developing (Not evident).", "Rigour is below Developing (Not evident).")),
    (BOTH, [("exemplary", "not_evident")],
     ("The weighted score 50% is below the 75% needed.",
      "Rigour is below Developing (Not evident).")),
    (BOTH, [("exemplary", "exemplary")], ()),
])
def test_every_failed_rule_gives_its_own_reason(
    scoring: dict[str, Any], given_reviews: list[tuple[str, str]], reasons: tuple[str, ...]
) -> None:
    assert score(small(scoring), reviews(*given_reviews)).reasons == reasons


# --- aggregation across reviewers -----------------------------------------------------


@pytest.mark.parametrize(("aggregation", "clarity_levels", "points", "level", "level_name"), [
    ("median", ["exemplary", "developing", "accomplished"], 2.0, "accomplished", "Accomplished"),
    ("median", ["developing", "developing", "exemplary"], 1.0, "developing", "Developing"),
    # an even count takes the mean of the two middle points ...
    ("median", ["exemplary", "developing"], 2.0, "accomplished", "Accomplished"),
    ("median", ["exemplary", "exemplary", "not_evident", "not_evident"], 1.5, "developing",
     "Developing"),
    ("median", ["exemplary", "accomplished", "accomplished", "not_evident"], 2.0,
     "accomplished", "Accomplished"),
    # ... and a point between two levels reaches the lower one
    ("median", ["exemplary", "not_evident"], 1.5, "developing", "Developing"),
    ("median", ["exemplary", "accomplished"], 2.5, "accomplished", "Accomplished"),
    ("median", ["developing", "not_evident"], 0.5, "not_evident", "Not evident"),
    ("mean", ["exemplary", "developing", "developing"], 5 / 3, "developing", "Developing"),
    ("mean", ["exemplary", "exemplary", "not_evident"], 2.0, "accomplished", "Accomplished"),
    ("mean", ["accomplished", "accomplished"], 2.0, "accomplished", "Accomplished"),
    ("min", ["exemplary", "developing", "accomplished"], 1.0, "developing", "Developing"),
    ("min", ["not_evident", "exemplary"], 0.0, "not_evident", "Not evident"),
    ("min", ["accomplished", "accomplished"], 2.0, "accomplished", "Accomplished"),
    ("median", ["developing"], 1.0, "developing", "Developing"),
    ("mean", ["developing"], 1.0, "developing", "Developing"),
    ("min", ["developing"], 1.0, "developing", "Developing"),
])
def test_aggregation_across_reviewers(aggregation: str, clarity_levels: list[str],
                                      points: float, level: str, level_name: str) -> None:
    rubric = small(WEIGHTED_75, aggregation=aggregation)
    result = score(rubric, [Review(f"r{i}", {"clarity": c, "rigour": "exemplary"})
                            for i, c in enumerate(clarity_levels)])
    clarity = result.criteria[0]
    assert (clarity.key, clarity.title) == ("clarity", "Clarity")
    assert clarity.points == pytest.approx(points)
    assert (clarity.level, clarity.level_name) == (level, level_name)


@pytest.mark.parametrize(("aggregation", "passed"), [
    ("median", False),  # median of developing and not_evident is 0.5: below Developing
    ("mean", False),
    ("min", False),
])
def test_a_split_between_developing_and_not_evident_is_below_developing(
    aggregation: str, passed: bool
) -> None:
    rubric = small(FLOOR, aggregation=aggregation)
    result = score(rubric, reviews(("developing", "exemplary"), ("not_evident", "exemplary")))
    assert result.passed is passed
    assert result.reasons == ("Clarity is below Developing (Not evident).",)


# --- the result a submitter reads -------------------------------------------------


def test_a_low_criterion_fails_in_a_submitters_words() -> None:
    result = score(DEFAULT, [
        Review("a", everything("exemplary", assessment_evidence="not_evident")),
        Review("b", everything("exemplary", assessment_evidence="not_evident")),
    ])
    assert (result.passed, result.score) == (False, 83.33)
    assert result.reasons == (
        "Assessment and evidence of achievement is below Developing (Not evident).",)


def test_a_low_weighted_score_fails_naming_the_score_and_the_threshold() -> None:
    result = score(DEFAULT, [Review("a", everything("accomplished")),
                             Review("b", everything("developing"))])
    assert (result.score, result.passed) == (50.0, False)
    assert result.reasons == ("The weighted score 50% is below the 75% needed.",)


def test_the_default_rubric_passes_two_strong_reviews() -> None:
    result = score(DEFAULT, [Review("a", everything("exemplary", badge_metadata="developing")),
                             Review("b", everything("accomplished"))])
    assert (result.passed, result.score, result.reasons) == (True, 81.48, ())
    assert (result.reviews, result.min_reviews, result.enough_reviews) == (2, 2, True)


def test_too_few_reviews_do_not_pass_and_say_how_many_are_needed() -> None:
    result = score(DEFAULT, [Review("a", everything("exemplary"))])
    assert (result.passed, result.enough_reviews, result.score) == (False, False, 100.0)
    assert result.reasons == ("2 complete reviews are needed; 1 so far.",)


def test_too_few_reviews_are_reported_beside_the_rules_that_fail() -> None:
    result = score(DEFAULT, [Review("a", everything("not_evident"))])
    assert result.reasons[0] == "2 complete reviews are needed; 1 so far."
    assert "The weighted score 0% is below the 75% needed." in result.reasons


def test_a_rubric_needing_one_review_says_so_in_the_singular() -> None:
    assert score(small(WEIGHTED_75, min_reviews=1), []).reasons == (
        "1 complete review is needed; 0 so far.",)


def test_no_reviews_score_zero_and_do_not_pass() -> None:
    result = score(DEFAULT, [])
    assert (result.passed, result.score, result.reviews) == (False, 0.0, 0)
    assert result.reasons == ("2 complete reviews are needed; 0 so far.",)


def test_more_reviews_than_needed_all_count() -> None:
    result = score(small(WEIGHTED_75, min_reviews=2),
                   reviews(("exemplary", "exemplary"), ("exemplary", "exemplary"),
                           ("not_evident", "not_evident")))
    assert (result.reviews, result.enough_reviews, result.passed) == (3, True, True)


# --- one review against the rubric ------------------------------------------------


@pytest.mark.parametrize(("scores", "problem"), [
    ({"clarity": "exemplary"}, "score every criterion; missing: rigour"),
    ({}, "score every criterion; missing: clarity, rigour"),
    ({"clarity": "exemplary", "rigour": "superb"},
     "unknown levels: rigour=superb (levels are exemplary, accomplished, developing, "
     "not_evident)"),
    ({"clarity": "Exemplary", "rigour": "exemplary"}, "unknown levels: clarity=Exemplary"),
    ({"clarity": "exemplary", "rigour": "developing", "charm": "exemplary"},
     "unknown criteria: charm"),
])
def test_incomplete_or_unknown_scores_are_refused(scores: dict[str, str], problem: str) -> None:
    with pytest.raises(ReviewError) as refused:
        validate_review(small(WEIGHTED_75), scores)
    assert problem in str(refused.value)


def test_every_problem_of_a_review_is_named_at_once() -> None:
    with pytest.raises(ReviewError) as refused:
        validate_review(small(WEIGHTED_75), {"clarity": "superb", "charm": "exemplary"})
    assert str(refused.value) == (
        "score every criterion; missing: rigour; unknown criteria: charm; unknown levels: "
        "clarity=superb (levels are exemplary, accomplished, developing, not_evident)")


@pytest.mark.parametrize(("comments", "problem"), [
    ({"style": "Nice."}, "comment on unknown criterion style"),
    ({"clarity": "x" * (MAX_COMMENT + 1)}, "the comment on clarity is longer than 5000 characters"),
])
def test_comments_must_name_criteria_and_stay_short(
    comments: dict[str, str], problem: str
) -> None:
    scores = {"clarity": "exemplary", "rigour": "exemplary"}
    with pytest.raises(ReviewError, match=problem):
        validate_review(small(WEIGHTED_75), scores, comments)


def test_comments_are_optional_and_may_be_as_long_as_the_limit() -> None:
    scores = {"clarity": "exemplary", "rigour": "exemplary"}
    validate_review(small(WEIGHTED_75), scores)
    validate_review(small(WEIGHTED_75), scores, {"clarity": "x" * MAX_COMMENT, "rigour": ""})


def test_scoring_refuses_a_review_that_does_not_fit_naming_its_reviewer() -> None:
    with pytest.raises(ReviewError, match="the review by r1: score every criterion; missing"):
        score(small(WEIGHTED_75), [Review("r0", {"clarity": "exemplary", "rigour": "developing"}),
                                   Review("r1", {"clarity": "exemplary"})])


def test_scoring_counts_each_reviewer_once() -> None:
    review = {"clarity": "exemplary", "rigour": "developing"}
    with pytest.raises(ReviewError, match="ana has more than one review"):
        score(small(WEIGHTED_75), [Review("ana", review), Review("ana", review)])


# --- a criterion scored twice ------------------------------------------------------


def test_a_criterion_scored_twice_is_refused() -> None:
    with pytest.raises(ReviewError, match="criterion rigour is scored twice "
                                          r"\(developing and exemplary\)"):
        Review.from_pairs("r", [("clarity", "exemplary"), ("rigour", "developing"),
                                ("rigour", "exemplary")])


def test_a_criterion_scored_twice_is_refused_even_at_the_same_level() -> None:
    with pytest.raises(ReviewError, match="criterion rigour is scored twice"):
        Review.from_pairs("r", [("rigour", "developing"), ("rigour", "developing")])


def test_pairs_scored_once_make_the_same_review_as_a_mapping() -> None:
    pairs = [("clarity", "exemplary"), ("rigour", "developing")]
    assert Review.from_pairs("r", pairs, {"rigour": "Thin."}) == Review(
        "r", dict(pairs), {"rigour": "Thin."})


def test_a_review_keeps_the_scores_it_was_given() -> None:
    scores = {"clarity": "exemplary", "rigour": "developing"}
    review = Review("r", scores)
    scores["rigour"] = "exemplary"
    assert review.scores["rigour"] == "developing"
    with pytest.raises(TypeError):
        review.scores["rigour"] = "exemplary"  # type: ignore[index]


# --- properties ----------------------------------------------------------------------

level_keys = st.sampled_from(list(LEVELS))
aggregations = st.sampled_from(["median", "mean", "min"])
small_reviews = st.lists(st.tuples(level_keys, level_keys), min_size=1, max_size=6)
one_default_review = st.fixed_dictionaries(dict.fromkeys(DEFAULT.criterion_keys, level_keys))
default_reviews = st.lists(one_default_review, min_size=1, max_size=5)


def raised(level: str) -> str:
    return ASCENDING[min(ASCENDING.index(level) + 1, len(ASCENDING) - 1)]


def default_rubric(aggregation: str) -> Rubric:
    return DEFAULT.model_copy(update={"aggregation": aggregation})


@given(small_reviews, st.data(), aggregations)
def test_raising_one_level_never_lowers_the_score(
    given_reviews: list[tuple[str, str]], data: st.DataObject, aggregation: str
) -> None:
    rubric = small(BOTH, aggregation=aggregation, weights=(2, 1))
    index = data.draw(st.integers(0, len(given_reviews) - 1))
    which = data.draw(st.integers(0, 1))
    pair = list(given_reviews[index])
    pair[which] = raised(pair[which])
    after_reviews = [*given_reviews]
    after_reviews[index] = (pair[0], pair[1])
    before, after = score(rubric, reviews(*given_reviews)), score(rubric, reviews(*after_reviews))
    assert after.score >= before.score
    assert after.passed or not before.passed


@given(default_reviews, st.data(), aggregations)
def test_raising_one_level_on_the_default_rubric_never_lowers_the_score(
    given_reviews: list[dict[str, str]], data: st.DataObject, aggregation: str
) -> None:
    rubric = default_rubric(aggregation)
    index = data.draw(st.integers(0, len(given_reviews) - 1))
    criterion = data.draw(st.sampled_from(DEFAULT.criterion_keys))
    after_reviews = [*given_reviews]
    after_reviews[index] = {**given_reviews[index],
                            criterion: raised(given_reviews[index][criterion])}
    before = score(rubric, [Review(f"r{i}", s) for i, s in enumerate(given_reviews)])
    after = score(rubric, [Review(f"r{i}", s) for i, s in enumerate(after_reviews)])
    assert after.score >= before.score
    assert after.passed or not before.passed
    assert all(a.points >= b.points for a, b in zip(after.criteria, before.criteria, strict=True))


@given(default_reviews, st.data(), aggregations)
def test_the_result_does_not_depend_on_the_order_of_reviews(
    given_reviews: list[dict[str, str]], data: st.DataObject, aggregation: str
) -> None:
    rubric = default_rubric(aggregation)
    named = [Review(f"r{i}", s) for i, s in enumerate(given_reviews)]
    shuffled = data.draw(st.permutations(named))
    assert score(rubric, shuffled) == score(rubric, named)


@given(default_reviews, aggregations)
def test_the_score_is_a_percent_and_every_aggregate_lies_within_the_given_levels(
    given_reviews: list[dict[str, str]], aggregation: str
) -> None:
    result = score(default_rubric(aggregation),
                   [Review(f"r{i}", s) for i, s in enumerate(given_reviews)])
    assert 0 <= result.score <= 100
    for criterion in result.criteria:
        given_points = [LEVELS[s[criterion.key]] for s in given_reviews]
        assert min(given_points) <= criterion.points <= max(given_points)


@given(one_default_review, st.integers(1, 5), aggregations)
def test_identical_reviews_aggregate_to_the_levels_they_give(
    scores: dict[str, str], count: int, aggregation: str
) -> None:
    result = score(default_rubric(aggregation),
                   [Review(f"r{i}", scores) for i in range(count)])
    assert {c.key: c.level for c in result.criteria} == scores
