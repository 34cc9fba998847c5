"""SQLite write transactions take the write lock as they begin, and every way one ends frees it."""

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from plumbing.database import build_engine, read_session, write_session
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
