"""Map the door's refusals and database trouble to HTTP answers."""

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from plumbing.logs import Throttled, first_line
from workflow.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unavailable,
    Unprocessable,
    WorkflowError,
)

log = logging.getLogger(__name__)
# Under load, an outage fails every request: one line per interval says so, with the count.
database_away = Throttled(log, 10)

STATUS = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Forbidden: status.HTTP_403_FORBIDDEN,
    Conflict: status.HTTP_409_CONFLICT,
    Unprocessable: status.HTTP_422_UNPROCESSABLE_CONTENT,
    Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def status_for(error: WorkflowError) -> int:
    for kind, code in STATUS.items():
        if isinstance(error, kind):
            return code
    return status.HTTP_400_BAD_REQUEST


def readable(problems: Sequence[Any]) -> list[Any]:
    """FastAPI's validation problems as an answer can carry them: a body that is not UTF-8 shown
    with replacement characters, and an input that JSON cannot carry (a number that is not
    finite, a lone surrogate) left out rather than failing the answer."""
    shown = []
    for problem in problems:
        if isinstance(problem, dict) and "input" in problem:
            given = problem["input"]
            if isinstance(given, bytes):
                problem = {**problem, "input": given.decode("utf-8", "replace")}
            elif not encodable(given):
                problem = {key: value for key, value in problem.items()
                           if key not in ("input", "ctx")}
        shown.append(problem)
    return shown


def encodable(value: Any) -> bool:
    """Whether the value goes into a JSON answer as it is."""
    try:
        json.dumps(jsonable_encoder(value), allow_nan=False, ensure_ascii=False).encode()
    except (ValueError, TypeError, UnicodeEncodeError):
        return False
    return True


def install(app: FastAPI) -> None:
    # Pages answer refusals as HTML pages; the API and everything else keep FastAPI's JSON.
    from api.web import error_page, is_page, shows_error_page

    @app.exception_handler(WorkflowError)
    async def workflow_error(request: Request, error: WorkflowError) -> Response:
        if is_page(request):
            return error_page(request, error, status_for(error))
        return JSONResponse({"detail": error.detail}, status_code=status_for(error))

    # Starlette's class, so unknown paths (raised by the router itself) are answered too.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if isinstance(error.__cause__, RecursionError):
            # FastAPI's parser gave up on the body's nesting: invalid input, like any other.
            error = HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [{
                "type": "too_deep", "loc": ["body"],
                "msg": "the JSON is nested more deeply than it can be read"}])
        if shows_error_page(request):
            return error_page(request, error, error.status_code)
        return await http_exception_handler(request, error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        if shows_error_page(request):
            problem = HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [
                {"msg": f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"}
                for e in error.errors()])
            return error_page(request, problem, problem.status_code)
        return JSONResponse({"detail": jsonable_encoder(readable(error.errors()))},
                            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(DataError)
    async def value_out_of_range(_request: Request, error: DBAPIError) -> JSONResponse:
        # Validation should have caught it; answer as the client's mistake, and log to fix it.
        log.error("database refused a value that validation let through: %s", error.orig)
        return JSONResponse({"detail": "a value is out of range or malformed"},
                            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(PoolTimeout)
    async def no_connection_free(_request: Request, error: PoolTimeout) -> JSONResponse:
        database_away.warning("no database connection came free in time: %s", error)
        return JSONResponse({"detail": "the database is busy; retry shortly"},
                            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                            headers={"Retry-After": "2"})

    @app.exception_handler(OperationalError)
    async def database_unavailable(_request: Request, error: DBAPIError) -> JSONResponse:
        trouble = storage_trouble(error)
        if trouble is not None:
            log.error("database storage trouble: %s", error.orig)
            code, detail = trouble
            return JSONResponse({"detail": detail}, status_code=code,
                                headers={"Retry-After": "30"})
        # Busy past the timeout, or the server went away: the client may simply retry.
        database_away.warning("database unavailable, answering 503: %s", first_line(error))
        return JSONResponse(
            {"detail": "the database is busy or unavailable; retry shortly"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "2"},
        )


# --- what the OpenAPI document says each operation may answer ------------------------------


class ErrorItem(BaseModel):
    """One thing wrong with the input, as FastAPI's own validation reports it."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer: FastAPI's `{"detail": ...}`, a sentence or a list of problems."""

    detail: str | list[ErrorItem]


DESCRIPTIONS: dict[int, str] = {
    400: "The request cannot be read",
    401: "No or bad credentials",
    403: "Not allowed",
    404: "Unknown, or not visible to the caller",
    409: "Not possible in the current state, the caller's version is stale, or the name is taken",
    413: "The body is larger than the limit",
    422: "Invalid input or an unmet requirement",
    429: "Too many refused requests from this address; retry after `Retry-After` seconds",
    503: "The database is busy, unavailable or read-only; retry after `Retry-After` seconds",
    507: "The database's disk is full; nothing was changed",
}
# Every operation that reaches the database may answer 503, and 507 when its disk is full.
ALWAYS = (503, 507)


def responses(*codes: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """The error answers of one operation, each with the shared body schema.

    `codes` are added to 503; `described` overrides a description (`e404="..."`).
    """
    answers: dict[int | str, dict[str, Any]] = {}
    for code in sorted({*ALWAYS, *codes}):
        answer: dict[str, Any] = {
            "description": described.get(f"e{code}", DESCRIPTIONS[code]), "model": ErrorBody}
        if code in (status.HTTP_429_TOO_MANY_REQUESTS, status.HTTP_503_SERVICE_UNAVAILABLE,
                    status.HTTP_507_INSUFFICIENT_STORAGE):
            answer["headers"] = {"Retry-After": {"description": "seconds to wait",
                                                 "schema": {"type": "integer"}}}
        answers[code] = answer
    return answers


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
