"""The proposal form: SPEC section 5's fields, their help text, and form data to API shapes."""

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from workflow.proposals.models import Competency, Level, Modality


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str  # text, long, list, number, choice, flag, competencies
    help: str
    required: bool = False
    choices: tuple[str, ...] = ()
    step: str = "1"


FIELDS: tuple[FormField, ...] = (
    FormField("title", "Title", "text", "The credential's name as learners will see it.", True),
    FormField("summary", "Summary", "long", "Two or three sentences: what a learner gains."),
    FormField("level", "Level", "choice", "Graduate level needs a bachelor's degree among "
              "the prerequisites.", choices=tuple(Level)),
    FormField("credit_bearing", "Credit-bearing", "flag",
              "Tick when learners earn academic credit (typically 6-12 credits)."),
    FormField("credits", "Credits", "number", "For credit-bearing credentials only.",
              step="0.5"),
    FormField("hours", "Hours", "number", "Learning hours, for non-credit credentials.",
              step="0.5"),
    FormField("modality", "Modality", "choice", "How it is delivered.",
              choices=tuple(Modality)),
    FormField("target_audience", "Target audience", "text", "Who it is for."),
    FormField("learning_outcomes", "Learning outcomes", "list",
              "One per line, each starting with a measurable verb (Analyze, Design...). "
              "Every competency you name must be taught by an outcome."),
    FormField("competencies", "NACE competencies", "competencies",
              "The career readiness competencies the credential develops."),
    FormField("requirements", "Requirements", "long",
              "The tasks or courses a learner completes."),
    FormField("assessment", "Assessment", "long", "How achievement is evaluated."),
    FormField("evidence", "Evidence", "long", "What the badge shows as proof."),
    FormField("prerequisites", "Prerequisites", "list", "One per line."),
    FormField("stacks_into", "Stacks into", "list",
              "Published credentials (id or title) this one counts towards, one per line."),
    FormField("workforce_need", "Workforce need", "long",
              "The employer or community need it answers."),
    FormField("partners", "Partners", "list", "Employers or organisations, one per line."),
    FormField("expiration_months", "Expires after (months)", "number",
              "Leave empty when the badge does not expire."),
    FormField("co_authors", "Co-authors", "list",
              "Email addresses, one per line. Co-authors can read the draft."),
    FormField("predecessor_id", "Replaces credential (id)", "number",
              "For a revision: the id of the published credential it replaces."),
)


def form_values(form: FormData) -> dict[str, Any]:
    """Form strings to the API's JSON shape; empty numbers are None, lists one item a line."""
    values: dict[str, Any] = {}
    for field in FIELDS:
        raw = form.get(field.name)
        text = raw if isinstance(raw, str) else ""
        if field.kind == "list":
            values[field.name] = [line.strip() for line in text.splitlines() if line.strip()]
        elif field.kind == "competencies":
            values[field.name] = [v for v in form.getlist(field.name) if isinstance(v, str)]
        elif field.kind == "flag":
            values[field.name] = text == "on"
        elif field.kind in ("number", "choice"):
            values[field.name] = text.strip() or None
        else:
            values[field.name] = text
    return values


def shown_values(values: dict[str, Any]) -> dict[str, Any]:
    """Values as the form's controls show them (lists one item a line)."""
    shown: dict[str, Any] = {}
    for field in FIELDS:
        value = values.get(field.name)
        if field.kind == "list":
            shown[field.name] = "\n".join(value or [])
        elif field.kind == "number":
            shown[field.name] = "" if value is None else f"{value:g}" if isinstance(
                value, float) else str(value)
        else:
            shown[field.name] = value if value is not None else (
                [] if field.kind == "competencies" else "")
    return shown


def field_errors(error: ValidationError | list[dict[str, Any]]) -> dict[str, list[str]]:
    """Validation problems by field name ("" for the form as a whole)."""
    items = error.errors() if isinstance(error, ValidationError) else error
    found: dict[str, list[str]] = {}
    for item in items:
        loc = [str(part) for part in item.get("loc", ()) if part != "body"]
        name = loc[0] if loc else ""
        found.setdefault(name, []).append(str(item.get("msg", item)))
    return found


COMPETENCIES = tuple(Competency)
