"""Logging for every microcred process: configured once, one line per request and per job,
plain text or JSON, with the request id and the actor, and no passwords or tokens.

Redaction runs on the finished line (message, arguments and traceback alike), so a secret
reaches no log whichever code logged it.
"""

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime


# Each pattern keeps what tells an operator where they are and drops what would let a reader
# act: a password in a URL, an action or sign-in link's token, a reply address's token, a
# bearer token, a secret header, a session cookie.
def _secret_header(match: re.Match[str]) -> str:
    scheme = match.group(2)
    return f"{match.group(1)}{scheme + ' ' if scheme else ''}***"


REDACTIONS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@\"']*:)[^\s@/\"']+@"), r"\1***@"),
    (re.compile(r"(/actions/)[^\s/?#\"'<>]+"), r"\1<token>"),
    (re.compile(r"(/sign-in/)(?!demo(?:[\s/?#\"']|$))[^\s/?#\"'<>]+"), r"\1<token>"),
    (re.compile(r"(reply\+)[^\s@\"'<>]+@", re.IGNORECASE), r"\1<token>@"),
    (re.compile(r"(\b(?:authorization|x-inbound-secret|x-microcred-proxy-secret)[\"']?\s*[:=]\s*"
                r"[\"']?)(?:(bearer|basic)\s+)?[^\s\"',;]+", re.IGNORECASE),
     _secret_header),
    (re.compile(r"\b(bearer\s+)[^\s\"',;]+", re.IGNORECASE), r"\1***"),
    (re.compile(r"\bmc_[A-Za-z0-9_-]{16,}"), "mc_***"),
    (re.compile(r"(\bmicrocred_[a-z_]+=)[^\s;\"']+"), r"\1***"),
    (re.compile(r"(\b(?:password|secret|token)=)[^\s&\"']+", re.IGNORECASE), r"\1***"),
)


def redact(text: str) -> str:
    """The text with passwords and tokens replaced."""
    for pattern, replacement in REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


# --- who and which request a line is about -------------------------------------------------


@dataclass
class LogContext:
    """Mutable on purpose: a dependency running in the thread pool names the actor, and the
    request's own line, written in the event loop, reads it (both hold this one object)."""

    request_id: str = "-"
    actor: str = "-"


_context: ContextVar[LogContext | None] = ContextVar("microcred_log_context", default=None)


@contextmanager
def context(request_id: str, actor: str = "-") -> Iterator[LogContext]:
    """Lines logged inside carry this request (or job) id and actor."""
    current = LogContext(request_id, actor)
    token = _context.set(current)
    try:
        yield current
    finally:
        _context.reset(token)


def set_actor(actor: str) -> None:
    """Name who the current request acts for, once authentication knows."""
    current = _context.get()
    if current is not None:
        current.actor = actor


class _Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        current = _context.get() or LogContext()
        if not hasattr(record, "request_id"):
            record.request_id = current.request_id
        if not hasattr(record, "actor"):
            record.actor = current.actor
        return True


# --- the two formats -----------------------------------------------------------------------

# Fields a log call may pass with `extra=` that the JSON format keeps as its own keys.
EXTRA_FIELDS = ("method", "path", "route", "status", "duration_ms", "client", "job")


def _time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [request actor] message`, then any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line = (f"{_time(record)} {record.levelname} {record.name} "
                f"[{getattr(record, 'request_id', '-')} {getattr(record, 'actor', '-')}] "
                f"{record.getMessage()}")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": _time(record), "level": record.levelname, "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "actor": getattr(record, "actor", "-"), "message": record.getMessage(),
        }
        for name in EXTRA_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


class RedactRecord(logging.Filter):
    """Redact a record itself, for loggers whose lines other handlers read too (uvicorn's
    access log, when someone runs uvicorn with it on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_library_loggers() -> None:
    """Put RedactRecord on uvicorn's loggers, once."""
    for name in ("uvicorn.access", "uvicorn.error"):
        library = logging.getLogger(name)
        if not any(isinstance(f, RedactRecord) for f in library.filters):
            library.addFilter(RedactRecord())


class _StandardError(logging.Handler):
    """Writes to whatever sys.stderr is when the line is logged (systemd's journal, a
    terminal, a test's capture), never to a stream remembered from start-up."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def configure(level: str = "INFO", log_format: str = "text") -> None:
    """Send every logger's lines, uvicorn's included, through one redacting handler.

    Calling it again replaces the handler, so a process ends up with exactly one."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StandardError)]:
        root.removeHandler(handler)
    handler = _StandardError()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(_Context())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # Our own line per request replaces uvicorn's access log, which prints raw paths.
    logging.getLogger("uvicorn.access").disabled = True
    # `db upgrade` says itself what it applied; alembic's own chatter is not needed. The
    # state machine library tells every state's callbacks at INFO, several lines per
    # transition; the audit trail already says what moved.
    quiet = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in ("alembic", "transitions"):
        logging.getLogger(name).setLevel(quiet)


# --- a recurring problem, once per interval ------------------------------------------------


class Throttled:
    """Log a problem that recurs (the database away) once per interval, counting the repeats
    in between, instead of once per request or retry."""

    def __init__(self, logger: logging.Logger, interval_seconds: float = 10) -> None:
        self.logger = logger
        self.interval = interval_seconds
        self.last = float("-inf")
        self.repeats = 0
        self.lock = threading.Lock()

    def warning(self, message: str, *args: object) -> None:
        with self.lock:
            now = time.monotonic()
            if now - self.last < self.interval:
                self.repeats += 1
                return
            repeats, self.repeats, self.last = self.repeats, 0, now
        if repeats:
            message += f" ({repeats} more like it since the last such line)"
        self.logger.warning(message, *args)


def first_line(error: BaseException) -> str:
    """An error as one short line: drivers' messages run over several."""
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0] if text else ''}"[:300]
