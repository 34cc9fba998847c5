"""The email worker: the sender and the reminder scheduler in one loop.

`microcred worker` runs it alone; `microcred serve` (and web processes with
MICROCRED_EMAIL_WORKER_IN_WEB=true) run it beside the app in the same event loop.
"""

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from sqlalchemy import Engine
from sqlmodel import Session

from notifications import reminders
from notifications.sender import DrainReport, Sender
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
                    await asyncio.to_thread(self.schedule)
                    next_schedule = time.monotonic() + self.settings.scheduler_interval_seconds
                report = await self.sender.drain()
                await self.canvas.drain()  # Canvas Credentials jobs, retried like email
                await asyncio.to_thread(batches.award_pending, self.engine, self.settings)
            except Exception:
                # The database may be briefly away; the outbox keeps everything until it is back.
                log.exception("email worker pass failed; trying again shortly")
            if not report.batches:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.email_poll_seconds)


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
