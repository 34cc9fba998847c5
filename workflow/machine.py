"""The state machine of a proposal: one literal table, one shared machine."""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from transitions import EventData, Machine


class State(StrEnum):
    DRAFT = "draft"
    DEPARTMENT_REVIEW = "department_review"
    RUBRIC_REVIEW = "rubric_review"
    DESIGN_REVIEW = "design_review"
    PUBLISHED = "published"
    RETURNED = "returned"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    RETIRED = "retired"


class Who(StrEnum):
    """Who may fire a transition."""

    OWNER = "owner"
    DEPARTMENT_LEAD = "department_lead"
    COORDINATOR = "coordinator"
    STAGE_APPROVER = "stage_approver"


class Requirement(StrEnum):
    PRESCREEN_CLEAN = "prescreen_clean"
    RUBRIC_PASSED = "rubric_passed"
    BADGE_DESIGN_VALID = "badge_design_valid"
    COMMENT = "comment"


@dataclass(frozen=True)
class Facts:
    """What the guards may look at, gathered by the door before it fires a trigger."""

    returned_from: State | None = None
    prescreen_errors: tuple[str, ...] = ()
    rubric_passed: bool = False
    rubric_reason: str = "no rubric result yet"
    badge_design_valid: bool = False
    badge_design_reason: str = "no badge design yet"
    comment: str | None = None


def prescreen_clean(facts: Facts) -> bool:
    return not facts.prescreen_errors


def rubric_passed(facts: Facts) -> bool:
    return facts.rubric_passed


def has_badge_design(facts: Facts) -> bool:
    return facts.badge_design_valid


def has_comment(facts: Facts) -> bool:
    return bool(facts.comment and facts.comment.strip())


GUARDS: dict[Requirement, Callable[[Facts], bool]] = {
    Requirement.PRESCREEN_CLEAN: prescreen_clean,
    Requirement.RUBRIC_PASSED: rubric_passed,
    Requirement.BADGE_DESIGN_VALID: has_badge_design,
    Requirement.COMMENT: has_comment,
}


def unmet_reason(requirement: Requirement, facts: Facts) -> str:
    """Say in words why a requirement is not met."""
    if requirement is Requirement.PRESCREEN_CLEAN:
        return "pre-screen checks report errors: " + "; ".join(facts.prescreen_errors)
    if requirement is Requirement.RUBRIC_PASSED:
        return f"the rubric result is not a pass: {facts.rubric_reason}"
    if requirement is Requirement.BADGE_DESIGN_VALID:
        return f"the badge design is missing or invalid: {facts.badge_design_reason}"
    return "a comment is required"


def returned_from(stage: State) -> Callable[[Facts], bool]:
    def came_back_from(facts: Facts) -> bool:
        return facts.returned_from == stage

    came_back_from.__name__ = f"returned_from_{stage}"
    return came_back_from


def always(_facts: Facts) -> bool:
    return True


@dataclass(frozen=True)
class Transition:
    trigger: str
    source: tuple[State, ...]
    dest: State
    who: Who
    requires: tuple[Requirement, ...] = ()
    # Routing, not a requirement: picks which row applies (resubmit goes back where it came from).
    when: Callable[[Facts], bool] = field(default=always, compare=False)


S = State
REVIEW_STAGES = (S.DEPARTMENT_REVIEW, S.RUBRIC_REVIEW, S.DESIGN_REVIEW)
PRESCREEN = Requirement.PRESCREEN_CLEAN
COMMENT = Requirement.COMMENT

TRANSITIONS: list[Transition] = [
    Transition("submit", (S.DRAFT,), S.DEPARTMENT_REVIEW, Who.OWNER, (PRESCREEN,)),
    Transition("approve", (S.DEPARTMENT_REVIEW,), S.RUBRIC_REVIEW, Who.DEPARTMENT_LEAD),
    Transition("approve", (S.RUBRIC_REVIEW,), S.DESIGN_REVIEW, Who.COORDINATOR,
               (Requirement.RUBRIC_PASSED,)),
    Transition("approve", (S.DESIGN_REVIEW,), S.PUBLISHED, Who.COORDINATOR,
               (Requirement.BADGE_DESIGN_VALID,)),
    Transition("return", REVIEW_STAGES, S.RETURNED, Who.STAGE_APPROVER, (COMMENT,)),
    Transition("resubmit", (S.RETURNED,), S.DEPARTMENT_REVIEW, Who.OWNER, (PRESCREEN,),
               when=returned_from(S.DEPARTMENT_REVIEW)),
    Transition("resubmit", (S.RETURNED,), S.RUBRIC_REVIEW, Who.OWNER, (PRESCREEN,),
               when=returned_from(S.RUBRIC_REVIEW)),
    Transition("resubmit", (S.RETURNED,), S.DESIGN_REVIEW, Who.OWNER, (PRESCREEN,),
               when=returned_from(S.DESIGN_REVIEW)),
    Transition("reject", (S.DEPARTMENT_REVIEW, S.RUBRIC_REVIEW), S.REJECTED, Who.STAGE_APPROVER,
               (COMMENT,)),
    Transition("withdraw", (S.DRAFT, S.RETURNED, *REVIEW_STAGES), S.WITHDRAWN, Who.OWNER),
    Transition("retire", (S.PUBLISHED,), S.RETIRED, Who.COORDINATOR, (COMMENT,)),
]

TRIGGERS: tuple[str, ...] = tuple(dict.fromkeys(t.trigger for t in TRANSITIONS))

# SPEC 2: nobody approves, returns or rejects a proposal they own or co-author (retiring is
# not a judgement of one's own work, so it is not among them).
SEPARATION_OF_DUTIES = frozenset({"approve", "return", "reject"})

# Who approves, returns or rejects at each review stage.
STAGE_APPROVER: dict[State, Who] = {
    S.DEPARTMENT_REVIEW: Who.DEPARTMENT_LEAD,
    S.RUBRIC_REVIEW: Who.COORDINATOR,
    S.DESIGN_REVIEW: Who.COORDINATOR,
}


class ProposalModel:
    """The plain object the shared machine drives; it wraps one proposal's state."""

    __slots__ = ("facts", "state")

    def __init__(self, state: State, facts: Facts) -> None:
        # A plain string: transitions reads an Enum member by its name, not its value.
        self.state: str = state.value
        self.facts = facts


def _condition(check: Callable[[Facts], bool]) -> Callable[[EventData], bool]:
    def condition(event: EventData) -> bool:
        model = event.model
        assert isinstance(model, ProposalModel)
        return check(model.facts)

    return condition


MACHINE = Machine(
    model=None,
    states=[s.value for s in State],
    transitions=[
        {
            "trigger": t.trigger,
            "source": [s.value for s in t.source],
            "dest": t.dest.value,
            "conditions": [_condition(t.when)] + [_condition(GUARDS[r]) for r in t.requires],
        }
        for t in TRANSITIONS
    ],
    initial=None,
    auto_transitions=False,
    send_event=True,
)


def rows_for(trigger: str, state: State) -> list[Transition]:
    return [t for t in TRANSITIONS if t.trigger == trigger and state in t.source]


def route(trigger: str, state: State, facts: Facts) -> Transition | None:
    """The table row that applies to this trigger from this state, if any."""
    for row in rows_for(trigger, state):
        if row.when(facts):
            return row
    return None


def fire(trigger: str, state: State, facts: Facts) -> State:
    """Run the trigger through the shared machine and return the new state."""
    model = ProposalModel(state, facts)
    if not MACHINE.events[trigger].trigger(model):
        raise RuntimeError(f"{trigger} from {state} did not fire although the door checked it")
    return State(model.state)


def mermaid() -> str:
    """The state diagram as Mermaid, generated from the table."""
    lines = ["stateDiagram-v2", f"    [*] --> {State.DRAFT}"]
    seen: set[tuple[State, State, str]] = set()
    for t in TRANSITIONS:
        for source in t.source:
            label = t.trigger
            if t.trigger == "resubmit":
                label = f"resubmit (returned from {t.dest})"
            key = (source, t.dest, label)
            if key in seen:
                continue
            seen.add(key)
            lines.append(f"    {source} --> {t.dest}: {label}")
    for terminal in (State.REJECTED, State.WITHDRAWN, State.RETIRED):
        lines.append(f"    {terminal} --> [*]")
    return "\n".join(lines) + "\n"
