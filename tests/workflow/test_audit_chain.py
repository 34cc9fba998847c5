"""The audit chain: append-only in the database, and any alteration is found."""

import json
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from plumbing.database import read_session, write_session
from tests.conftest import World
from workflow import audit
from workflow.machine import State


def verify(engine: Engine) -> audit.Verification:
    with read_session(engine) as session:
        return audit.verify(session)


def tamper(engine: Engine, sql: str) -> None:
    """Alter the audit table behind the triggers' back, as an attacker with DDL rights would."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_entry_no_update"))
            conn.execute(text("DROP TRIGGER audit_entry_no_delete"))
            conn.execute(text(sql))
        else:
            conn.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_change"))
            conn.execute(text(sql))
            conn.execute(text("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_no_change"))


def lifecycle(world: World) -> None:
    p = world.proposal()
    world.fire(p, "submit", world.owner)
    world.fire(p, "return", world.lead, comment="Tighten the outcomes.")
    world.fire(p, "resubmit", world.owner)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entry SET detail = '{}' WHERE seq = 1",
    "DELETE FROM audit_entry WHERE seq = 2",
])
def test_database_refuses_update_and_delete_of_audit_entries(
    world: World, engine: Engine, statement: str
) -> None:
    lifecycle(world)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))


@pytest.mark.parametrize(("statement", "bad_seq", "reason"), [
    ("UPDATE audit_entry SET detail = '{\"comment\": \"All good.\"}' WHERE seq = 3", 3,
     "contents do not match"),
    ("UPDATE audit_entry SET actor_email = 'someone@else.edu' WHERE seq = 2", 2,
     "contents do not match"),
    ("DELETE FROM audit_entry WHERE seq = 2", 3, "entry 2 is missing"),
    ("UPDATE audit_entry SET hash = CASE WHEN substr(hash, 1, 1) = 'f' THEN 'e' ELSE 'f' END"
     " || substr(hash, 2) WHERE seq = 1", 1,
     "contents do not match"),
])
def test_verify_names_the_first_altered_entry(
    world: World, engine: Engine, statement: str, bad_seq: int, reason: str
) -> None:
    lifecycle(world)
    assert verify(engine).ok
    tamper(engine, statement)
    result = verify(engine)
    assert not result.ok
    assert result.first_bad is not None
    assert result.first_bad["seq"] == bad_seq
    assert reason in result.first_bad["reason"]


def test_removing_the_newest_entries_is_found(world: World, engine: Engine) -> None:
    lifecycle(world)
    tamper(engine, "DELETE FROM audit_entry WHERE seq = 4")
    result = verify(engine)
    assert not result.ok
    assert result.first_bad is not None
    assert "missing" in result.first_bad["reason"]


def test_eight_concurrent_writers_on_postgresql_leave_one_unbroken_chain(
    postgres_engine: Engine,
) -> None:
    import threading

    from sqlalchemy import func
    from sqlmodel import Session, select

    from tests.conftest import _empty_postgres
    from workflow.audit import AuditEntry

    _empty_postgres(postgres_engine)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            barrier.wait()
            for step in range(40):
                with Session(postgres_engine) as session:
                    audit.append(session, actor=None, role=None, channel="system",
                                 action="concurrency_probe", detail={"w": number, "s": step})
                    if step % 2:
                        audit.append_many(session, audit.utcnow(), [
                            {"channel": "system", "action": "concurrency_probe",
                             "detail": {"w": number, "s": step, "k": k}} for k in range(3)])
                    session.commit()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    result = verify(postgres_engine)
    assert result.ok, result.first_bad
    with Session(postgres_engine) as session:
        seqs = session.exec(select(func.count(), func.min(AuditEntry.seq),
                                   func.max(AuditEntry.seq))).one()
    assert tuple(seqs) == (8 * (40 + 20 * 3), 1, 8 * (40 + 20 * 3))


DETAIL_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    | st.datetimes() | st.sampled_from(list(State)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=5,
)


@given(st.dictionaries(st.text(max_size=8) | st.integers(), DETAIL_VALUES, max_size=4))
def test_an_entry_hashes_its_detail_as_the_json_column_gives_it_back(
    detail: dict[Any, Any]
) -> None:
    assert audit.as_stored(detail) == json.loads(json.dumps(detail, default=str))


def test_a_detail_of_times_and_states_verifies_after_it_is_stored(
    world: World, engine: Engine
) -> None:
    p = world.proposal()
    with write_session(engine) as session:
        audit.append(session, actor=None, role=None, channel="system", action="note",
                     proposal_id=p.id, detail={"at": datetime(2026, 12, 2, 9, 30), "state":
                                            State.DRAFT, "score": 2.5, "comment": "José"})
        session.commit()
    assert verify(engine).ok
