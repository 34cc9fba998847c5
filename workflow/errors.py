"""Why the door refuses; the API maps each kind to its status code."""


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
