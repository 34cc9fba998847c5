"""For load balancers and monitoring: liveness, readiness, Prometheus metrics."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy import Engine

from api import errors
from api.deps import EngineDep, SettingsDep
from api.metrics import exposition
from plumbing.database import DATABASE_AWAY, READ_ONLY
from plumbing.logs import first_line
from plumbing.migrate import pending

router = APIRouter(tags=["service"])


@router.get("/api/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers. It asks nothing of the database."""
    return {"status": "ok"}


def not_ready(engine: Engine) -> str | None:
    """Why this process should get no traffic now, or None."""
    try:
        with engine.connect().execution_options(**READ_ONLY) as connection:
            waiting = pending(connection)
    except DATABASE_AWAY as error:
        return f"the database is unavailable: {first_line(error)}"
    if waiting:
        return (f"the database lacks migrations {', '.join(waiting)}; "
                "run `microcred db upgrade`")
    return None


class Readiness(BaseModel):
    status: str


@router.get("/api/ready", response_model=Readiness, responses=errors.responses(
    e503="Not ready: the database does not answer or lacks migrations; `detail` says which"))
async def ready(engine: EngineDep) -> Response:
    """Readiness: the database answers and has every migration this code needs."""
    problem = await run_in_threadpool(not_ready, engine)
    if problem:
        return JSONResponse({"status": "not ready", "detail": problem},
                            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                            headers={"Retry-After": "5"})
    return JSONResponse({"status": "ready"})


@router.get("/metrics", include_in_schema=False)
async def metrics(engine: EngineDep, settings: SettingsDep,
                  authorization: Annotated[str | None, Header()] = None) -> Response:
    """The Prometheus text format; with MICROCRED_METRICS_TOKEN set, for its bearer only."""
    if settings.metrics_token is not None:
        expected = f"Bearer {settings.metrics_token.get_secret_value()}"
        if not hmac.compare_digest((authorization or "").encode(), expected.encode()):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "metrics need their bearer token",
                                headers={"WWW-Authenticate": "Bearer"})
    body = await run_in_threadpool(exposition, engine)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
