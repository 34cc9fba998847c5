"""Pre-screen checks: rules a proposal must pass before it goes to review."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


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
    title: str
    credit_bearing: bool
    credits: float | None
    hours: float | None

    def __getattribute__(self, name: str) -> Any: ...


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


def prescreen(proposal: ProposalLike) -> list[Check]:
    """Run every rule over a proposal; errors block submit and resubmit."""
    return required_fields(proposal)


def errors(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.severity is Severity.ERROR]
