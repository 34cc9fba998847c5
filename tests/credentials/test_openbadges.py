"""The Achievement checker: a document already found valid never hides a bad one of its shape."""

import copy

from workflow.credentials.openbadges import Issuer, Publication, achievement, achievement_problems

DETAILS = Publication(
    url="https://microcred.example.edu/credentials/abc", version=1, title="Data Storytelling",
    api_url="https://microcred.example.edu/api/credentials/abc", description="A program.",
    criteria_narrative="Pass three courses.", image_url=None, image_caption=None,
    credit_bearing=True, credits=9, competencies=("communication",), tags=("data",),
    department_code="CS", department_name="Computer Science",
    department_url="https://microcred.example.edu/departments/CS",
    issuer=Issuer("The University of Arizona", "https://www.arizona.edu"))


def test_a_valid_achievement_has_no_problems_twice() -> None:
    document = achievement(DETAILS)
    assert achievement_problems(document) == []
    assert achievement_problems(copy.deepcopy(document)) == []


def test_a_bad_value_in_a_known_shape_is_still_refused() -> None:
    good = achievement(DETAILS)
    assert achievement_problems(good) == []
    bad = {**good, "achievementType": "Nonsense"}
    assert any("achievementType" in p for p in achievement_problems(bad))
    typed = {**good, "creditsAvailable": "nine"}
    assert any("creditsAvailable" in p for p in achievement_problems(typed))
    wrong_type = copy.deepcopy(good)
    wrong_type["alignment"][0]["type"] = ["Alignment", "Extra"]
    assert achievement_problems(wrong_type) == []  # more types are allowed
    no_profile = copy.deepcopy(good)
    no_profile["creator"]["type"] = ["Organization"]
    assert achievement_problems(no_profile) != []


def test_an_unknown_term_is_reported_by_name() -> None:
    document = {**achievement(DETAILS), "favouriteColour": "copper"}
    assert achievement_problems(document) == ["unknown JSON-LD term: favouriteColour"]
