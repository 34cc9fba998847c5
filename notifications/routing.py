"""Routing by level: extra recipients by event and proposal facts, from a rules file
(MICROCRED_ROUTING_FILE, else the shipped `routing.yaml`), checked when the service starts."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator
from sqlmodel import Session

from notifications.recipients import Recipient, department_leads
from plumbing.settings import Settings
from workflow.accounts.models import Department
from workflow.events import Event
from workflow.fields import Email, Line
from workflow.proposals.models import Level, Proposal

SHIPPED = Path(__file__).resolve().parent / "routing.yaml"
# The events a proposal's stage or publication makes; a rule may name these.
ROUTABLE = (Event.SUBMITTED, Event.RESUBMITTED, Event.DEPARTMENT_APPROVED, Event.RUBRIC_APPROVED,
            Event.PUBLISHED, Event.RETURNED, Event.REJECTED, Event.WITHDRAWN, Event.RETIRED)
# The copy's subject, event first as in every other email; WHAT says it in the body.
HEADLINE = {
    Event.SUBMITTED: "Submitted", Event.RESUBMITTED: "Resubmitted",
    Event.DEPARTMENT_APPROVED: "Department approved", Event.RUBRIC_APPROVED: "Rubric passed",
    Event.PUBLISHED: "Published", Event.RETURNED: "Returned", Event.REJECTED: "Rejected",
    Event.WITHDRAWN: "Withdrawn", Event.RETIRED: "Retired",
}
WHAT = {
    Event.SUBMITTED: "submitted for department review",
    Event.RESUBMITTED: "resubmitted",
    Event.DEPARTMENT_APPROVED: "approved by the department, now in rubric review",
    Event.RUBRIC_APPROVED: "passed rubric review",
    Event.PUBLISHED: "published",
    Event.RETURNED: "returned for changes",
    Event.REJECTED: "rejected",
    Event.WITHDRAWN: "withdrawn",
    Event.RETIRED: "retired",
}
UNIT_CONTACT = "unit_contact"
DEPARTMENT_LEADS = "department_leads"
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class RoutingError(ValueError):
    """The rules file cannot be used; the message names the file and the problem."""


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Line


class When(BaseModel):
    """Proposal facts a rule needs; a fact left out matches any proposal."""

    model_config = ConfigDict(extra="forbid")

    level: list[Level] | None = None
    credit_bearing: bool | None = None
    department: list[Annotated[str, StringConstraints(max_length=32)]] | None = None

    def matches(self, proposal: Proposal, department: str) -> bool:
        return ((self.level is None or proposal.level in self.level)
                and (self.credit_bearing is None
                     or proposal.credit_bearing == self.credit_bearing)
                and (self.department is None
                     or department.lower() in {d.lower() for d in self.department}))


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[Event]
    when: When = When()
    to: list[Name]
    note: Annotated[str, StringConstraints(max_length=1000)] = ""

    @model_validator(mode="after")
    def _routable(self) -> "Rule":
        wrong = [e.value for e in self.events if e not in ROUTABLE]
        if wrong:
            raise ValueError(f"rules cannot copy the event(s) {', '.join(wrong)}; they may "
                             f"name {', '.join(e.value for e in ROUTABLE)}")
        return self


class RoutingRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    addresses: dict[Name, Address] = {}
    unit_contacts: dict[Annotated[str, StringConstraints(max_length=32)], Address] = {}
    rules: list[Rule] = []

    @model_validator(mode="after")
    def _known_names(self) -> "RoutingRules":
        known = {*self.addresses, UNIT_CONTACT, DEPARTMENT_LEADS}
        for number, rule in enumerate(self.rules, start=1):
            unknown = [name for name in rule.to if name not in known]
            if unknown:
                raise ValueError(f"rule {number} sends to {', '.join(unknown)}, which "
                                 f"addresses does not name")
        return self


def parse(data: Any, source: str) -> RoutingRules:
    try:
        return RoutingRules.model_validate(data if data is not None else {})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'file'}: {e['msg']}"
            for e in error.errors())
        raise RoutingError(f"{source}: {problems}") from error


@lru_cache(maxsize=8)
def load(path: str) -> RoutingRules:
    """The rules in a YAML file, checked; a file that cannot be used raises RoutingError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise RoutingError(f"{path}: cannot read the routing rules ({error})") from error
    return parse(data, path)


def rules_for(settings: Settings) -> RoutingRules:
    return load(settings.routing_file or str(SHIPPED))


def copies(session: Session, event: Event, proposal: Proposal, settings: Settings
           ) -> list[Recipient]:
    """The extra recipients the rules give this event about this proposal, each address once,
    with the notes of every rule that reached them."""
    rules = [r for r in rules_for(settings).rules if event in r.events]
    if not rules:
        return []
    department = session.get(Department, proposal.department_id)
    code = department.code if department else ""
    found: dict[str, Recipient] = {}
    for rule in rules:
        if not rule.when.matches(proposal, code):
            continue
        for name in rule.to:
            for recipient in _resolve(session, rules_for(settings), name, proposal, code):
                known = found.get(recipient.email)
                note = " ".join(n for n in (known.note if known else "", rule.note) if n)
                found[recipient.email] = Recipient(
                    email=recipient.email, name=recipient.name, user_id=recipient.user_id,
                    role="routed", note=note)
    return list(found.values())


def _resolve(session: Session, rules: RoutingRules, name: str, proposal: Proposal,
             department: str) -> list[Recipient]:
    if name == DEPARTMENT_LEADS or (name == UNIT_CONTACT
                                    and department not in rules.unit_contacts):
        return [Recipient(email=u.email.lower(), name=u.name, user_id=u.id)
                for u in department_leads(session, proposal.department_id)]
    address = rules.unit_contacts[department] if name == UNIT_CONTACT else rules.addresses[name]
    return [Recipient(email=address.email, name=address.name)]
