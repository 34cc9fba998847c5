"""SQLite write transactions queue on one lock, and every way a transaction ends frees it."""

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from plumbing.database import build_engine, read_json, read_session, write_session
from plumbing.migrate import upgrade


@pytest.fixture
def sqlite(tmp_path: Path) -> Engine:
    engine = build_engine(f"sqlite:///{tmp_path}/x.db", busy_timeout_ms=2000)
    upgrade(engine)
    return engine


def closed_unfinished(engine: Engine) -> None:
    with write_session(engine) as session:
        session.execute(text("SELECT 1"))


def committed(engine: Engine) -> None:
    with write_session(engine) as session:
        session.execute(text("SELECT 1"))
        session.commit()


def raised(engine: Engine) -> None:
    with pytest.raises(ValueError), write_session(engine) as session:
        session.execute(text("SELECT 1"))
        raise ValueError


def connection_twice(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        conn.commit()
        conn.execute(text("SELECT 1"))
        conn.rollback()


@pytest.mark.parametrize("ending", [closed_unfinished, committed, raised, connection_twice])
def test_every_way_a_write_transaction_ends_lets_another_thread_write(
    sqlite: Engine, ending: Callable[[Engine], None]
) -> None:
    ending(sqlite)
    other = threading.Thread(target=committed, args=(sqlite,))
    other.start()
    other.join(timeout=10)
    assert not other.is_alive()


def test_readers_do_not_wait_for_a_writer(sqlite: Engine) -> None:
    with write_session(sqlite) as writer:
        writer.execute(text("INSERT INTO department (code, name, created_at) "
                            "VALUES ('CS', 'Computer Science', CURRENT_TIMESTAMP)"))
        done = threading.Event()

        def read() -> None:
            with read_session(sqlite) as reader:
                reader.execute(text("SELECT count(*) FROM department")).scalar_one()
            done.set()

        threading.Thread(target=read).start()
        assert done.wait(timeout=5)
        writer.commit()


def test_the_schema_has_one_head_so_alembic_upgrade_head_works(sqlite: Engine) -> None:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from plumbing.migrate import alembic_config

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, heads
    with sqlite.connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() == tuple(heads)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20)


@given(JSON_VALUES)
def test_stored_json_reads_back_as_json_loads_reads_it(value: object) -> None:
    stored = json.dumps(value)
    assert read_json(stored) == json.loads(stored)


@pytest.mark.parametrize("stored", ['["\\ud800"]', '"\\udc00x"', "[NaN, Infinity]"])
def test_json_with_lone_surrogates_or_nan_reads_as_json_loads_reads_it(stored: str) -> None:
    assert repr(read_json(stored)) == repr(json.loads(stored))
