"""Map the door's refusals and database trouble to HTTP answers."""

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, OperationalError

from workflow.errors import Conflict, Forbidden, NotFound, Unprocessable, WorkflowError

log = logging.getLogger(__name__)

STATUS = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Forbidden: status.HTTP_403_FORBIDDEN,
    Conflict: status.HTTP_409_CONFLICT,
    Unprocessable: status.HTTP_422_UNPROCESSABLE_CONTENT,
}


def status_for(error: WorkflowError) -> int:
    for kind, code in STATUS.items():
        if isinstance(error, kind):
            return code
    return status.HTTP_400_BAD_REQUEST


def install(app: FastAPI) -> None:
    @app.exception_handler(WorkflowError)
    async def workflow_error(_request: Request, error: WorkflowError) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=status_for(error))

    @app.exception_handler(DataError)
    async def value_out_of_range(_request: Request, error: DBAPIError) -> JSONResponse:
        # Validation should have caught it; answer as the client's mistake, and log to fix it.
        log.error("database refused a value that validation let through: %s", error.orig)
        return JSONResponse({"detail": "a value is out of range or malformed"},
                            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(OperationalError)
    async def database_unavailable(_request: Request, error: DBAPIError) -> JSONResponse:
        trouble = storage_trouble(error)
        if trouble is not None:
            log.error("database storage trouble: %s", error.orig)
            code, detail = trouble
            return JSONResponse({"detail": detail}, status_code=code,
                                headers={"Retry-After": "30"})
        # Busy past the timeout, or the server went away: the client may simply retry.
        log.warning("database unavailable: %s", error.orig)
        return JSONResponse(
            {"detail": "the database is busy or unavailable; retry shortly"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "2"},
        )


NOTHING_CHANGED = "nothing was changed; an administrator must fix the server's storage"


def storage_trouble(error: DBAPIError) -> tuple[int, str] | None:
    """A full disk (507) or a database file that cannot be written (503), told apart from
    a busy or restarting database, so that the answer says what an administrator must do."""
    sqlite_code = getattr(error.orig, "sqlite_errorname", "") or ""
    if sqlite_code == "SQLITE_FULL" or getattr(error.orig, "sqlstate", None) == "53100":
        return (status.HTTP_507_INSUFFICIENT_STORAGE,
                f"the database's disk is full; {NOTHING_CHANGED}")
    if sqlite_code.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
        return (status.HTTP_503_SERVICE_UNAVAILABLE,
                f"the database file is read-only or cannot be opened; {NOTHING_CHANGED}")
    if sqlite_code.startswith("SQLITE_IOERR"):
        return (status.HTTP_503_SERVICE_UNAVAILABLE,
                f"the database's storage failed to read or write; {NOTHING_CHANGED}")
    return None
