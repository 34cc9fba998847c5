"""Why the door refuses; the API maps each kind to its status code."""

from typing import Any


class WorkflowError(Exception):
    """A refusal the caller can understand; `detail` is what they are told."""

    def __init__(self, detail: object) -> None:
        super().__init__(str(detail))
        self.detail = detail


class NotFound(WorkflowError):
    pass


class UnknownTrigger(NotFound):
    pass


class Forbidden(WorkflowError):
    pass


class Conflict(WorkflowError):
    """The proposal is not in a state where this can happen, or the caller's version is stale."""


class Unprocessable(WorkflowError):
    """Invalid input or an unmet requirement."""


def problem(message: str, field: str | None = None, *, kind: str = "value_error",
            where: str = "body") -> dict[str, Any]:
    """One thing wrong with the input, shaped as FastAPI's own 422 items are, so that clients
    read the door's refusals and FastAPI's validation alike."""
    return {"loc": [where, field] if field else [where], "msg": message, "type": kind}


class Unavailable(WorkflowError):
    """The service is not set up to do this (a setting is missing); an operator must act."""
