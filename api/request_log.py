"""One log line and one count per request: method, path, route template, status, time, with
the request id (the proxy's X-Request-ID, else a new one) and the signed-in actor."""

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plumbing import logs
from plumbing.metrics import REQUEST_SECONDS, REQUESTS

log = logging.getLogger("microcred.request")
REQUEST_ID = "X-Request-ID"
# A proxy's id is kept only if it is plainly an id: nothing a client sends reaches a log raw.
SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Polled by load balancers and monitoring, or fetched with every page: logged at DEBUG.
QUIET = ("/api/health", "/api/ready", "/metrics", "/static/", "/favicon.ico")


def route_of(scope: Scope) -> str:
    """The matched route's template (`/api/proposals/{proposal_id}`), never the raw path, so
    that no id or token becomes a metric label."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class RequestLog:
    """Pure ASGI, so it sees the final status of every answer, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"]
                      if k == b"x-request-id"), "")
        request_id = given if SAFE_ID.fullmatch(given) else uuid.uuid4().hex[:16]
        status = 500
        started = time.perf_counter()

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).setdefault(REQUEST_ID, request_id)
            await send(message)

        with logs.context(request_id) as context:
            try:
                await self.app(scope, receive, answer)
            finally:
                self._record(scope, status, time.perf_counter() - started, context)

    @staticmethod
    def _record(scope: Scope, status: int, seconds: float, context: logs.LogContext) -> None:
        method, path, route = scope["method"], scope["path"], route_of(scope)
        REQUESTS.labels(method, route, str(status)).inc()
        REQUEST_SECONDS.labels(method, route).observe(seconds)
        level = logging.DEBUG if path.startswith(QUIET) and status < 500 else logging.INFO
        client = scope.get("client")
        shown = logs.redact(path)
        log.log(level, "%s %s %s %.1fms", method, shown, status, seconds * 1000,
                extra={"method": method, "path": shown, "route": route,
                       "status": status, "duration_ms": round(seconds * 1000, 1),
                       "client": client[0] if client else None,
                       "request_id": context.request_id, "actor": context.actor})
