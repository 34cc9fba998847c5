"""Pre-screen checks: rules a proposal must pass before it goes to review.

Pure functions over the proposal and a snapshot of the catalog (published and
in-flight proposals), so they are tested without a database.
"""

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Check:
    code: str
    severity: Severity
    message: str
    field: str | None = None


class ProposalLike(Protocol):
    """What the checks read of a proposal (read-only, so enum-typed fields fit)."""

    @property
    def id(self) -> int | None: ...

    @property
    def title(self) -> str: ...

    @property
    def summary(self) -> str: ...

    @property
    def level(self) -> str | None: ...

    @property
    def modality(self) -> str | None: ...

    @property
    def target_audience(self) -> str: ...

    @property
    def requirements(self) -> str: ...

    @property
    def assessment(self) -> str: ...

    @property
    def evidence(self) -> str: ...

    @property
    def workforce_need(self) -> str: ...

    @property
    def learning_outcomes(self) -> Sequence[str]: ...

    @property
    def competencies(self) -> Sequence[str]: ...

    @property
    def credit_bearing(self) -> bool: ...

    @property
    def credits(self) -> float | None: ...

    @property
    def hours(self) -> float | None: ...

    @property
    def prerequisites(self) -> Sequence[str]: ...

    @property
    def stacks_into(self) -> Sequence[str]: ...

    @property
    def predecessor_id(self) -> int | None: ...


@dataclass(frozen=True)
class CatalogEntry:
    """Another proposal the checks compare against."""

    id: int
    title: str
    published: bool
    stacks_into: tuple[str, ...] = ()


REQUIRED_TEXT = {
    "title": "a title",
    "summary": "a summary",
    "level": "a level",
    "modality": "a modality",
    "target_audience": "the target audience",
    "requirements": "the requirements a learner completes",
    "assessment": "how achievement is assessed",
    "evidence": "the evidence the badge shows",
    "workforce_need": "the workforce need it answers",
}

TYPICAL_CREDITS = (6, 12)

# Stems that show a NACE competency is taught: its name, and the verbs outcomes use for it.
COMPETENCY_WORDS: dict[str, tuple[str, ...]] = {
    "career_and_self_development": ("career", "self-develop", "self develop", "self-assess",
                                    "reflect", "professional growth"),
    "communication": ("communicat", "present", "writ", "speak", "explain", "persuad"),
    "critical_thinking": ("critical", "analy", "evaluat", "solv", "problem", "reason",
                          "interpret", "assess"),
    "equity_and_inclusion": ("equit", "inclus", "divers", "cultur", "accessib", "belonging"),
    "leadership": ("lead", "motivat", "mentor", "influenc", "delegat"),
    "professionalism": ("professional", "ethic", "integrity", "accountab"),
    "teamwork": ("team", "collaborat", "cooperat", "group"),
    "technology": ("technolog", "digital", "software", "tool", "comput", "data", "program"),
}
# How a competency is named in a title.
COMPETENCY_TITLE_WORDS: dict[str, tuple[str, ...]] = {
    "career_and_self_development": ("career", "self-development", "self development"),
    "communication": ("communication",),
    "critical_thinking": ("critical thinking",),
    "equity_and_inclusion": ("equity", "inclusion", "inclusive"),
    "leadership": ("leadership",),
    "professionalism": ("professionalism",),
    "teamwork": ("teamwork",),
    "technology": ("technology",),
}

# Verbs of Bloom's revised taxonomy: an outcome that starts with one can be assessed.
MEASURABLE_VERBS = frozenset("""
    analyze analyse apply appraise arrange articulate assemble assess calculate categorize
    choose cite classify collaborate collect combine communicate compare compile compose
    compute conduct configure construct contrast create critique debate debug decide deduce
    defend define demonstrate deploy derive describe design detect develop devise diagnose
    differentiate discuss distinguish document draft employ estimate evaluate examine execute
    explain express facilitate formulate generate identify illustrate implement infer inspect
    integrate interpret investigate judge justify label lead list locate manage measure model
    modify monitor name negotiate operate organize outline perform plan predict prepare present
    prioritize produce propose prototype rank rate recall recognize recommend reconstruct record
    relate report reproduce research resolve review revise schedule select sequence simulate
    sketch solve summarize support synthesize test translate troubleshoot use validate verify
    write
""".split())

BACHELOR = re.compile(r"bachelor|baccalaureate|\bb\.?\s?[as]\.?\b|undergraduate degree", re.I)
STOP_WORDS = frozenset({"a", "an", "the", "of", "in", "and", "for", "to", "with", "on",
                        "micro", "credential", "microcredential", "certificate", "badge"})


def required_fields(proposal: ProposalLike) -> list[Check]:
    found: list[Check] = []
    for name, what in REQUIRED_TEXT.items():
        value = getattr(proposal, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            found.append(Check("required", Severity.ERROR, f"Give {what}.", name))
    if not proposal.learning_outcomes:
        found.append(Check("required", Severity.ERROR, "List at least one learning outcome.",
                           "learning_outcomes"))
    if proposal.credit_bearing and proposal.credits is None:
        found.append(Check("required", Severity.ERROR,
                           "A credit-bearing micro-credential needs its number of credits.",
                           "credits"))
    if not proposal.credit_bearing and proposal.hours is None:
        found.append(Check("required", Severity.ERROR,
                           "A non-credit micro-credential needs its number of hours.", "hours"))
    return found


def credit_range(proposal: ProposalLike) -> list[Check]:
    low, high = TYPICAL_CREDITS
    if proposal.credit_bearing and proposal.credits is not None and not (
        low <= proposal.credits <= high
    ):
        return [Check("credits_atypical", Severity.WARNING,
                      f"Credit-bearing micro-credentials are typically {low}-{high} credits; "
                      f"this one has {proposal.credits:g}.", "credits")]
    return []


def graduate_prerequisite(proposal: ProposalLike) -> list[Check]:
    if proposal.level == "graduate" and not any(
        BACHELOR.search(p) for p in proposal.prerequisites
    ):
        return [Check("graduate_needs_bachelor", Severity.ERROR,
                      "A graduate-level micro-credential requires a bachelor's degree: "
                      "add it to the prerequisites.", "prerequisites")]
    return []


def named_competencies(proposal: ProposalLike) -> list[str]:
    title = proposal.title.lower()
    in_title = [c for c, words in COMPETENCY_TITLE_WORDS.items() if any(w in title for w in words)]
    return list(dict.fromkeys([*proposal.competencies, *in_title]))


def competencies_in_outcomes(proposal: ProposalLike) -> list[Check]:
    outcomes = " ".join(proposal.learning_outcomes).lower()
    found = []
    for competency in named_competencies(proposal):
        if not any(stem in outcomes for stem in COMPETENCY_WORDS.get(competency, ())):
            name = competency.replace("_", " ")
            found.append(Check("competency_not_in_outcomes", Severity.ERROR,
                               f"The competency '{name}' is named but no learning outcome "
                               f"teaches it.", "learning_outcomes"))
    return found


def outcome_quality(proposal: ProposalLike) -> list[Check]:
    found = []
    if 0 < len(proposal.learning_outcomes) < 3:
        found.append(Check("few_outcomes", Severity.WARNING,
                           "List at least three learning outcomes.", "learning_outcomes"))
    for outcome in proposal.learning_outcomes:
        first = re.sub(r"[^a-z]", "", outcome.split()[0].lower()) if outcome.split() else ""
        if first not in MEASURABLE_VERBS:
            found.append(Check("outcome_not_measurable", Severity.WARNING,
                               f"Start this outcome with a measurable verb (analyze, design, "
                               f"evaluate...): '{outcome}'", "learning_outcomes"))
    return found


def title_key(title: str) -> str:
    words = re.findall(r"[a-z0-9]+", title.lower())
    return " ".join(w for w in words if w not in STOP_WORDS)


def similar_titles(proposal: ProposalLike, catalog: Sequence[CatalogEntry]) -> list[Check]:
    mine = title_key(proposal.title)
    found = []
    for other in catalog:
        if other.id in (proposal.id, proposal.predecessor_id) or not mine:
            continue
        theirs = title_key(other.title)
        if theirs and difflib.SequenceMatcher(None, mine, theirs).ratio() >= 0.85:
            status = "published" if other.published else "in review"
            found.append(Check("possible_duplicate", Severity.WARNING,
                               f"The title is close to '{other.title}' ({status}, #{other.id}): "
                               f"is this a duplicate?", "title"))
    return found


Resolver = Callable[[str], CatalogEntry | None]


def resolver_over(catalog: Sequence[CatalogEntry]) -> Resolver:
    """Find a published credential by id or title in a list (the database does it in service)."""

    def resolve(name: str) -> CatalogEntry | None:
        name = name.strip()
        for entry in catalog:
            if entry.published and (name == str(entry.id) or name.lower() == entry.title.lower()):
                return entry
        return None

    return resolve


def stacking(proposal: ProposalLike, resolve: Resolver) -> list[Check]:
    found = []
    targets: list[CatalogEntry] = []
    for name in proposal.stacks_into:
        entry = resolve(name)
        if entry is None:
            found.append(Check("stacks_into_unknown", Severity.ERROR,
                               f"'{name}' is not a published credential.", "stacks_into"))
        else:
            targets.append(entry)
    me = {proposal.id, proposal.predecessor_id} - {None}
    if _reaches(targets, me, resolve):
        found.append(Check("stacks_into_cycle", Severity.ERROR,
                           "The pathway would loop back to this credential.", "stacks_into"))
    return found


def _reaches(start: Iterable[CatalogEntry], me: set[int | None], resolve: Resolver) -> bool:
    seen: set[int] = set()
    stack = list(start)
    while stack:
        entry = stack.pop()
        if entry.id in me:
            return True
        if entry.id in seen:
            continue
        seen.add(entry.id)
        stack.extend(e for name in entry.stacks_into if (e := resolve(name)))
    return False


def prescreen(
    proposal: ProposalLike,
    catalog: Sequence[CatalogEntry] = (),
    resolve: Resolver | None = None,
) -> list[Check]:
    """Run every rule over a proposal; errors block submit and resubmit.

    `catalog` is what titles are compared with (warnings only, so the door passes none);
    `resolve` finds the published credentials that `stacks_into` names.
    """
    resolve = resolve or resolver_over(catalog)
    return [
        *required_fields(proposal),
        *credit_range(proposal),
        *graduate_prerequisite(proposal),
        *competencies_in_outcomes(proposal),
        *outcome_quality(proposal),
        *similar_titles(proposal, catalog),
        *stacking(proposal, resolve),
    ]


def errors(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.severity is Severity.ERROR]
