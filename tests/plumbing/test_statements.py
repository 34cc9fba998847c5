"""Prepared statements write and read exactly what SQLAlchemy's own execution does."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from notifications.models import OutboxEvent
from plumbing.database import write_session
from plumbing.statements import Prepared
from tests.conftest import World
from workflow.models import Department, Proposal

_DEPARTMENTS = Department.__table__  # type: ignore[attr-defined]
_PROPOSALS = Proposal.__table__  # type: ignore[attr-defined]
_EVENTS = OutboxEvent.__table__  # type: ignore[attr-defined]

ADD_DEPARTMENT = Prepared(_DEPARTMENTS.insert())
DEPARTMENT = Prepared(select(_DEPARTMENTS).where(_DEPARTMENTS.c.code == bindparam("code")))


def test_rows_read_back_as_sqlalchemy_reads_them(engine: Engine) -> None:
    when = datetime(2026, 12, 2, 1, 2, 3, 456789, tzinfo=UTC)
    with write_session(engine) as session:
        ADD_DEPARTMENT.run(session, {"code": "CS", "name": "Computer Science", "created_at": when})
        ADD_DEPARTMENT.run(session, [
            {"code": "MATH", "name": "Mathematics", "created_at": when},
            {"code": "ART", "name": "Art", "created_at": when},
        ])
        session.commit()
    with Session(engine) as session:
        prepared = DEPARTMENT.first(session, {"code": "CS"})
        core = session.connection().execute(
            select(_DEPARTMENTS).where(_DEPARTMENTS.c.code == "CS")).one()._asdict()
        assert prepared == core
        assert prepared is not None and prepared["name"] == "Computer Science"
        assert DEPARTMENT.first(session, {"code": "NONE"}) is None
        assert {row["code"] for row in Prepared(select(_DEPARTMENTS)).rows(session)} == {
            "CS", "MATH", "ART"}


def test_json_floats_and_flags_survive_the_round_trip(engine: Engine, world: World) -> None:
    proposal = world.proposal(credits=1.5, competencies=["communication", "leadership"])
    read = Prepared(select(_PROPOSALS).where(_PROPOSALS.c.id == bindparam("id")))
    move = Prepared(_PROPOSALS.update().where(_PROPOSALS.c.id == bindparam("proposal_id")))
    with write_session(engine) as session:
        move.run(session, {"credit_bearing": True, "credits": 2.25, "proposal_id": proposal.id})
        session.commit()
    with Session(engine) as session:
        row = read.first(session, {"id": proposal.id})
        assert row is not None
        assert row["credits"] == 2.25 and row["credit_bearing"] is True
        assert row["competencies"] == ["communication", "leadership"]
        assert row == session.connection().execute(
            select(_PROPOSALS).where(_PROPOSALS.c.id == proposal.id)).one()._asdict()


def test_a_refused_write_raises_sqlalchemys_error_and_the_session_goes_on(engine: Engine) -> None:
    when = datetime(2026, 12, 2, tzinfo=UTC)
    with write_session(engine) as session:
        ADD_DEPARTMENT.run(session, {"code": "CS", "name": "Computer Science", "created_at": when})
        session.commit()
        with pytest.raises(IntegrityError):
            ADD_DEPARTMENT.run(session, {"code": "CS", "name": "Again", "created_at": when})
        session.rollback()
        ADD_DEPARTMENT.run(session, {"code": "EE", "name": "Electrical", "created_at": when})
        session.commit()
    with Session(engine) as session:
        assert DEPARTMENT.first(session, {"code": "EE"}) is not None


def test_a_statement_that_would_need_a_python_default_is_refused_at_once(engine: Engine) -> None:
    # outbox_event.created_at is filled in by Python when left out: the caller must pass it.
    with write_session(engine) as session, pytest.raises(ValueError, match="created_at"):
        Prepared(_EVENTS.insert()).run(session, {
            "event": "submitted", "proposal_id": 1, "state": "draft", "version": 1,
            "actor_id": None, "comment": None, "named": []})
