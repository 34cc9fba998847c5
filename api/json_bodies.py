"""What the JSON API refuses in any body before a route reads it: numbers that are not finite
(`NaN` and `Infinity` are not JSON, though Python's parser takes them), text that is no text
(lone surrogates, control characters other than tab and line breaks), and nesting deeper than
any document of ours has. Each is a 422 naming where it is, as FastAPI's own validation does.
"""

import json
import re
from email.message import Message
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

# Deeper than any body of the API (a rubric definition is the deepest, at four levels).
MAX_DEPTH = 32
NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


class _NotFinite(ValueError):
    pass


def _refuse(constant: str) -> Any:
    raise _NotFinite(constant)


def is_json(request: Request) -> bool:
    """Whether FastAPI reads this request's body as JSON (the same test it makes)."""
    content_type = request.headers.get("content-type")
    if not content_type:
        return True
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json"))


async def refuse_unreadable_json(request: Request) -> None:
    """The app's dependency: refuse a JSON body holding what no route could store or answer."""
    if request.method not in ("POST", "PUT", "PATCH") or not is_json(request):
        return
    raw = await request.body()
    if not raw:
        return
    try:
        document = json.loads(raw, parse_constant=_refuse)
    except _NotFinite as error:
        raise RequestValidationError([_problem(
            "finite_number", [], f"JSON numbers must be finite; {error} is not a number")]
        ) from error
    except (ValueError, RecursionError):
        return  # not JSON at all: FastAPI answers that itself
    problem = _first_problem(document)
    if problem is not None:
        raise RequestValidationError([problem])


def _first_problem(document: Any) -> dict[str, Any] | None:
    stack: list[tuple[list[str | int], Any]] = [([], document)]
    while stack:
        where, value = stack.pop()
        if len(where) > MAX_DEPTH:
            return _problem("too_deep", where[:MAX_DEPTH],
                            f"the JSON is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, str):
            if NOT_TEXT.search(value):
                return _problem("string_not_text", where, "text must not contain control "
                                "characters or lone surrogates")
        elif isinstance(value, list):
            stack.extend(([*where, index], item) for index, item in enumerate(value))
        elif isinstance(value, dict):
            for key, item in value.items():
                if NOT_TEXT.search(key):
                    return _problem("string_not_text", where, "a name must not contain "
                                    "control characters or lone surrogates")
                stack.append(([*where, key], item))
    return None


def _problem(kind: str, where: list[str | int], message: str) -> dict[str, Any]:
    # No `input`: the point is that it cannot be shown back as it came.
    return {"type": kind, "loc": ["body", *where], "msg": message}
