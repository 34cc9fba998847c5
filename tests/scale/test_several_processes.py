"""Two web processes and two `microcred worker`s from deploy/Procfile on one PostgreSQL."""

import time
from pathlib import Path

from sqlmodel import Session

from plumbing.database import build_engine
from tests.conftest import SMTPServer
from tests.scale.conftest import (
    Deployment,
    assert_each_message_received_once,
    assert_states_match_audit,
    prepare,
    run_lifecycles,
    transitions_in_audit,
    wait_for_outbox,
)
from workflow import audit

LIFECYCLES = 200
CLIENTS = 32


def test_200_lifecycles_from_32_clients_lose_nothing_and_mail_each_message_once(
    own_postgres: str, smtp: SMTPServer, tmp_path: Path
) -> None:
    engine = build_engine(own_postgres, pool_size=4)
    cast = prepare(engine)
    deployment = Deployment(own_postgres, tmp_path, smtp_port=smtp.port)
    try:
        webs = [deployment.add("web"), deployment.add("web")]
        deployment.add("worker")
        deployment.add("worker")
        for web in webs:
            web.wait_ready()
        started = time.monotonic()
        lives = run_lifecycles([w.url for w in webs], cast, LIFECYCLES, CLIENTS)
        elapsed = time.monotonic() - started
        wait_for_outbox(engine)
    finally:
        deployment.stop()

    statuses = [s for life in lives for s in life.statuses]
    assert set(statuses) <= {200, 201, 409}, sorted(set(statuses))
    assert sum(life.unclear for life in lives) == 0, [lost for life in lives for lost in life.lost]
    # Each double-clicked approval: one 200, one 409.
    assert statuses.count(409) == LIFECYCLES // 4
    trail = transitions_in_audit(engine)
    for life in lives:
        assert life.proposal_id is not None
        steps = trail[life.proposal_id]
        # The chain holds exactly the transitions the clients were told succeeded, in order.
        assert [(t, v, to) for t, v, _f, to in steps] == life.accepted
    finals = {life.state for life in lives}
    assert finals == {"design_review", "withdrawn", "rejected"}
    assert_states_match_audit(engine)
    mails = assert_each_message_received_once(engine, smtp)
    with Session(engine) as session:
        assert audit.verify(session).ok
    engine.dispose()
    print(f"\n{LIFECYCLES} lifecycles, {len(statuses)} requests, {mails} emails "
          f"in {elapsed:.1f} s")
