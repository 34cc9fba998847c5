"""Concurrent callers of the door: exactly one wins."""

import threading

import httpx
from sqlmodel import Session, func, select

from tests.conftest import World
from workflow import audit
from workflow.audit import AuditEntry


def test_twenty_simultaneous_approvals_one_wins_the_rest_conflict(
    live_server: str, world: World, session: Session
) -> None:
    p = world.fire(world.proposal(), "submit", world.owner)
    barrier = threading.Barrier(20)
    statuses: list[int] = []
    lock = threading.Lock()

    def approve() -> None:
        with httpx.Client(base_url=live_server, headers=world.lead.headers, timeout=60) as http:
            barrier.wait()
            response = http.post(f"/api/proposals/{p.id}/approve", json={})
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=approve) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] + [409] * 19
    approvals = session.exec(
        select(func.count()).select_from(AuditEntry).where(
            AuditEntry.proposal_id == p.id, AuditEntry.action == "approve",
            AuditEntry.outcome == "accepted")
    ).one()
    assert approvals == 1
    refused = session.exec(
        select(func.count()).select_from(AuditEntry).where(
            AuditEntry.proposal_id == p.id, AuditEntry.outcome == "refused")
    ).one()
    assert refused == 19
    assert audit.verify(session).ok
