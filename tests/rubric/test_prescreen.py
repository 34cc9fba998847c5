"""Pre-screen rules, as a submitter meets them."""

from dataclasses import dataclass, field, replace

import pytest

from rubric.checks import CatalogEntry, Check, Severity, errors, prescreen


@dataclass(frozen=True)
class Draft:
    id: int | None = 10
    title: str = "Applied Data Storytelling"
    summary: str = "A short program."
    level: str | None = "undergraduate"
    modality: str | None = "hybrid"
    target_audience: str = "Undergraduates"
    requirements: str = "Three courses."
    assessment: str = "A capstone."
    evidence: str = "The capstone report."
    workforce_need: str = "Employers ask for it."
    learning_outcomes: list[str] = field(default_factory=lambda: [
        "Analyze a data set and communicate the findings",
        "Design a reproducible pipeline",
        "Evaluate the ethics of a decision",
    ])
    competencies: list[str] = field(default_factory=lambda: ["critical_thinking"])
    credit_bearing: bool = True
    credits: float | None = 9
    hours: float | None = None
    prerequisites: list[str] = field(default_factory=list)
    stacks_into: list[str] = field(default_factory=list)
    predecessor_id: int | None = None


def codes(checks: list[Check]) -> set[tuple[str, Severity]]:
    return {(c.code, c.severity) for c in checks}


def test_a_complete_proposal_has_nothing_to_report() -> None:
    assert prescreen(Draft()) == []


@pytest.mark.parametrize(("credits", "warned"), [(5, True), (6, False), (12, False), (13, True)])
def test_credits_outside_six_to_twelve_warn(credits: float, warned: bool) -> None:
    found = codes(prescreen(Draft(credits=credits)))
    assert (("credits_atypical", Severity.WARNING) in found) is warned
    assert not errors(prescreen(Draft(credits=credits)))


@pytest.mark.parametrize(("prerequisites", "blocked"), [
    ([], True),
    (["Two years of work experience"], True),
    (["A bachelor's degree in any field"], False),
    (["B.S. in nursing"], False),
    (["Baccalaureate degree"], False),
])
def test_graduate_level_needs_a_bachelors_degree(prerequisites: list[str], blocked: bool) -> None:
    found = prescreen(Draft(level="graduate", prerequisites=prerequisites))
    assert (("graduate_needs_bachelor", Severity.ERROR) in codes(found)) is blocked


def test_competency_named_in_the_title_must_be_taught_in_an_outcome() -> None:
    draft = Draft(title="Leadership in Data Teams", competencies=[])
    found = prescreen(draft)
    assert ("competency_not_in_outcomes", Severity.ERROR) in codes(found)
    assert "leadership" in errors(found)[0].message
    taught = replace(draft, learning_outcomes=[*draft.learning_outcomes,
                                               "Lead a project team through a data audit"])
    assert not errors(prescreen(taught))


def test_listed_competency_missing_from_outcomes_is_an_error() -> None:
    found = prescreen(Draft(competencies=["teamwork"]))
    assert [c.field for c in errors(found)] == ["learning_outcomes"]


def test_few_or_unmeasurable_outcomes_warn_naming_the_outcome() -> None:
    found = prescreen(Draft(learning_outcomes=["Understand data", "Analyze a data set"],
                            competencies=[]))
    assert ("few_outcomes", Severity.WARNING) in codes(found)
    unmeasurable = [c for c in found if c.code == "outcome_not_measurable"]
    assert len(unmeasurable) == 1
    assert "'Understand data'" in unmeasurable[0].message


def test_missing_fields_are_errors_naming_each_field() -> None:
    found = prescreen(Draft(summary=" ", level=None, learning_outcomes=[], credits=None))
    assert {c.field for c in errors(found)} == {"summary", "level", "learning_outcomes",
                                                 "credits"}


def test_non_credit_needs_hours() -> None:
    found = prescreen(Draft(credit_bearing=False, credits=None, hours=None))
    assert [c.field for c in errors(found)] == ["hours"]


def test_near_duplicate_title_warns_naming_the_other_but_not_itself_or_predecessor() -> None:
    catalog = [
        CatalogEntry(1, "Applied Data Story-telling", published=True),
        CatalogEntry(10, "Applied Data Storytelling", published=False),
        CatalogEntry(2, "Marine Biology Field Methods", published=True),
    ]
    found = [c for c in prescreen(Draft(), catalog) if c.code == "possible_duplicate"]
    assert len(found) == 1
    assert "'Applied Data Story-telling' (published, #1)" in found[0].message
    revision = Draft(id=11, predecessor_id=1)
    assert not [c for c in prescreen(revision, catalog[:1]) if c.code == "possible_duplicate"]


def test_stacks_into_must_name_a_published_credential() -> None:
    catalog = [CatalogEntry(1, "Data Science Certificate", published=True),
               CatalogEntry(2, "Draft Thing", published=False)]
    assert not errors(prescreen(Draft(stacks_into=["data science certificate"]), catalog))
    assert not errors(prescreen(Draft(stacks_into=["1"]), catalog))
    found = errors(prescreen(Draft(stacks_into=["Draft Thing"]), catalog))
    assert [c.code for c in found] == ["stacks_into_unknown"]


def test_a_pathway_that_loops_back_is_an_error() -> None:
    # A revision of #1 may not stack into #2 when #2 already stacks into #1.
    catalog = [CatalogEntry(1, "Foundations", published=True),
               CatalogEntry(2, "Advanced", published=True, stacks_into=("Foundations",))]
    found = errors(prescreen(Draft(id=3, predecessor_id=1, stacks_into=["Advanced"]), catalog))
    assert [c.code for c in found] == ["stacks_into_cycle"]
