"""What GET /metrics answers: this host's processes' own counts (plumbing/metrics.py) and what
the database knows, read when Prometheus scrapes, so that every web process reports the same
backlog whichever one answers."""

import logging
import os
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlmodel import col, func, select

from notifications.models import OutboxMessage, OutboxStatus
from plumbing.database import DATABASE_AWAY, read_session
from plumbing.logs import Throttled, first_line
from workflow.audit import AuditEntry
from workflow.credentials.models import CanvasJob
from workflow.events import OutboxEvent
from workflow.fields import as_utc, utcnow
from workflow.machine import TRIGGERS, State
from workflow.proposals.models import Proposal

log = logging.getLogger(__name__)
unavailable = Throttled(log, 60)
WAITING = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)


class DatabaseFacts(Collector):
    """Gauges and counters read from the database at each scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def describe(self) -> list[Metric]:
        # Nothing to declare up front: registering must not query the database.
        return []

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("microcred_database_up",
                               "1 when the database answered this scrape's questions")
        try:
            facts = list(self._facts())
        except DATABASE_AWAY as error:
            unavailable.warning("metrics: the database is unavailable: %s", first_line(error))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from facts

    def _facts(self) -> Iterator[Metric]:
        with read_session(self.engine) as session:
            by_status = dict(session.exec(
                select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))
            ).all())
            oldest = session.exec(select(func.min(OutboxMessage.created_at)).where(
                col(OutboxMessage.status).in_(WAITING))).one()
            events = session.exec(select(func.count()).select_from(OutboxEvent)).one()
            canvas = dict(session.exec(
                select(CanvasJob.status, func.count()).group_by(col(CanvasJob.status))).all())
            transitions = session.exec(
                select(AuditEntry.action, AuditEntry.outcome, func.count())
                .where(col(AuditEntry.action).in_(list(TRIGGERS)))
                .group_by(col(AuditEntry.action), col(AuditEntry.outcome))).all()
            states = dict(session.exec(
                select(Proposal.state, func.count()).group_by(col(Proposal.state))).all())

        messages = GaugeMetricFamily("microcred_outbox_messages",
                                     "Outgoing emails by status (dead: dead letters)",
                                     labels=["status"])
        for outbox_status in OutboxStatus:
            messages.add_metric([outbox_status.value], by_status.get(outbox_status.value, 0))
        yield messages
        yield GaugeMetricFamily(
            "microcred_outbox_oldest_pending_age_seconds",
            "Age of the oldest email not yet sent (pending or sending); 0 when none waits",
            value=_age(oldest))
        yield GaugeMetricFamily(
            "microcred_outbox_events_pending",
            "Recorded changes not yet turned into emails", value=events)
        jobs = GaugeMetricFamily("microcred_canvas_jobs", "Canvas Credentials jobs by status",
                                 labels=["status"])
        for status in ("pending", "sending", "done", "dead"):
            jobs.add_metric([status], canvas.get(status, 0))
        yield jobs
        fired = CounterMetricFamily(
            "microcred_transitions", "Transitions asked for, by trigger and outcome "
            "(accepted or refused), from the audit chain", labels=["trigger", "outcome"])
        for trigger, outcome, count in transitions:
            fired.add_metric([trigger, outcome], count)
        yield fired
        proposals = GaugeMetricFamily("microcred_proposals", "Proposals by state",
                                      labels=["state"])
        for state in State:
            proposals.add_metric([state.value], states.get(state.value, 0))
        yield proposals


def _age(oldest: datetime | None) -> float:
    return max((utcnow() - as_utc(oldest)).total_seconds(), 0.0) if oldest else 0.0


class ThisProcess(Collector):
    """This process's own counts, when there is no shared directory to read them from."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition(engine: Engine) -> bytes:
    """The Prometheus text format for one scrape."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(ThisProcess())
    registry.register(DatabaseFacts(engine))
    return generate_latest(registry)
