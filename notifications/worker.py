"""The email worker: the sender and the reminder scheduler in one loop.

`microcred worker` runs it alone; `microcred serve` (and web processes with
MICROCRED_EMAIL_WORKER_IN_WEB=true) run it beside the app in the same event loop.
"""

import asyncio
import logging
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress

from sqlalchemy import Engine
from sqlmodel import Session

from notifications import reminders, routing
from notifications.sender import DrainReport, Sender
from plumbing import logs
from plumbing.database import DATABASE_AWAY
from plumbing.logs import Throttled, first_line
from plumbing.metrics import EMAILS, WORKER_RUNS
from plumbing.retry import Clock
from plumbing.settings import Settings
from workflow.awards import batches
from workflow.credentials.canvas import CanvasSender
from workflow.fields import utcnow

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, engine: Engine, settings: Settings, *, sender: Sender | None = None,
                 clock: Clock = utcnow) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.sender = sender or Sender(engine, settings, clock=clock)
        self.canvas = CanvasSender(engine, settings, clock=clock)
        routing.rules_for(settings)  # a routing rules file that cannot be used stops the start
        # The database away gives one line per poll interval at most, not one per failed step.
        self.database_away = Throttled(log, settings.email_poll_seconds)

    def schedule(self) -> reminders.SchedulerReport:
        """Queue whatever reminders, escalations and digests are due now."""
        with Session(self.engine, expire_on_commit=False) as session:
            report = reminders.run(session, self.settings, self.clock())
            session.commit()
        return report

    async def run(self, stop: asyncio.Event) -> None:
        next_schedule = 0.0
        while not stop.is_set():
            report = DrainReport()
            try:
                if time.monotonic() >= next_schedule:
                    await self.reminder_run()
                    next_schedule = time.monotonic() + self.settings.scheduler_interval_seconds
                report = await self.email_run()
                await self.canvas_run()  # Canvas Credentials jobs, retried like email
                await asyncio.to_thread(batches.award_pending, self.engine, self.settings)
            except DATABASE_AWAY as error:
                # The outbox keeps everything until the database is back.
                self.database_away.warning(
                    "database unavailable, the worker tries again every %gs: %s",
                    self.settings.email_poll_seconds, first_line(error))
            except Exception:
                log.exception("email worker pass failed; trying again shortly")
            if not report.batches:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.email_poll_seconds)

    async def reminder_run(self) -> None:
        with job("reminders") as started:
            queued = await asyncio.to_thread(self.schedule)
            WORKER_RUNS.labels("reminders", "ok").inc()
            log.info("reminder run: %s reminder(s), %s escalation(s), %s digest(s) queued "
                     "in %.2fs", queued.reminders, queued.escalations, queued.digests,
                     time.monotonic() - started)

    async def email_run(self) -> DrainReport:
        with job("email") as started:
            report = await self.sender.drain()
            if report.batches:
                WORKER_RUNS.labels("email", "ok").inc()
                log.info("email: %s sent, %s to retry, %s dead letter(s) in %s batch(es), "
                         "%.2fs", report.sent, report.retried, report.dead, report.batches,
                         time.monotonic() - started)
                for result in ("sent", "retried", "dead"):
                    EMAILS.labels(result).inc(getattr(report, result))
        return report

    async def canvas_run(self) -> None:
        with job("canvas") as started:
            report = await self.canvas.drain()
            if report.jobs:
                WORKER_RUNS.labels("canvas", "ok").inc()
                log.info("canvas: %s done, %s to retry, %s dead in %.2fs", report.done,
                         report.retried, report.dead, time.monotonic() - started)


@contextmanager
def job(name: str) -> Iterator[float]:
    """Lines logged inside carry this job's id; a failure is counted (work done is counted
    by the job, since an idle pass is no run)."""
    with logs.context(f"{name}-{uuid.uuid4().hex[:8]}", actor="worker"):
        try:
            yield time.monotonic()
        except Exception:
            WORKER_RUNS.labels(name, "failed").inc()
            raise


@asynccontextmanager
async def in_background(engine: Engine, settings: Settings) -> AsyncIterator[Worker]:
    """Run the worker beside an app for as long as the context lasts."""
    worker = Worker(engine, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name="microcred-email-worker")
    try:
        yield worker
    finally:
        stop.set()
        await task


def run_forever(engine: Engine, settings: Settings) -> None:
    """Run the worker until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Worker(engine, settings).run(stop)

    asyncio.run(main())
