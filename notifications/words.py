"""The words emails use for stored values: stages, levels, modalities and times."""

from datetime import datetime
from zoneinfo import ZoneInfo

from plumbing.settings import Settings
from workflow.fields import as_utc

STAGES = {
    "draft": "draft",
    "department_review": "department review",
    "rubric_review": "rubric review",
    "design_review": "badge design review",
    "published": "published",
    "returned": "returned for changes",
    "rejected": "rejected",
    "withdrawn": "withdrawn",
    "retired": "retired",
}
LEVELS = {
    "undergraduate": "Undergraduate",
    "graduate": "Graduate",
    "professional": "Professional",
    "non_degree": "Non-degree",
}
MODALITIES = {"in_person": "In person", "online": "Online", "hybrid": "Hybrid"}


def stage(state: str) -> str:
    return STAGES.get(state, state.replace("_", " "))


def level(value: str | None) -> str:
    return LEVELS.get(value or "", "not given") if value else "not given"


def modality(value: str | None) -> str:
    return MODALITIES.get(value or "", "not given") if value else "not given"


def zone_for(settings: Settings, person_zone: str | None = None) -> ZoneInfo:
    """The recipient's time zone: their own setting when they have one, else the office's
    (MICROCRED_TIME_ZONE)."""
    return ZoneInfo(person_zone or settings.time_zone)


def zone_of(user: object | None, settings: Settings) -> ZoneInfo:
    """A user's time zone: the one place that knows where a person keeps it."""
    return zone_for(settings, getattr(user, "time_zone", None))


def moment(at: datetime, zone: ZoneInfo) -> str:
    """"Friday 4 December 2026, 11:40 AM MST": a time in the reader's zone, the zone named."""
    local = as_utc(at).astimezone(zone)
    hour = local.strftime("%I:%M %p").lstrip("0")
    return f"{local:%A} {local.day} {local:%B %Y}, {hour} {local.tzname()}"


def day(at: datetime, zone: ZoneInfo) -> str:
    local = as_utc(at).astimezone(zone)
    return f"{local:%A} {local.day} {local:%B %Y}"
