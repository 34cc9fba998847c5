"""The schema migrations: apply them, and say where a database stands."""

import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SAWarning

MIGRATIONS = Path(__file__).parent / "migrations"
# Held while migrating on PostgreSQL, so that two `db upgrade`s started together (two units,
# two hosts) run one after the other instead of both creating the same tables.
UPGRADE_LOCK = 0x6D6963726F  # "micro"


def alembic_config(engine: Engine | None = None, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def scripts() -> ScriptDirectory:
    """The migrations this code knows, read once per process."""
    return ScriptDirectory.from_config(alembic_config())


@dataclass(frozen=True)
class Revision:
    id: str
    title: str
    applied: bool


def current_revisions(connection: Connection) -> set[str]:
    """The revisions the database records (none for an empty database)."""
    return set(MigrationContext.configure(connection).get_current_heads())


def applied_revisions(current: set[str]) -> set[str] | None:
    """Every revision the database has, ancestors included; None when it records one this
    code does not know (a newer release has migrated it)."""
    known = scripts()
    if any(known.get_revision(r) is None for r in current):
        return None
    applied: set[str] = set()
    for revision in current:
        applied |= {r.revision for r in known.iterate_revisions(revision, "base")}
    return applied


def in_order() -> list[Script]:
    """Every migration, each after those it builds on; side branches by their ids."""
    remaining = {r.revision: r for r in scripts().walk_revisions()}
    done: set[str] = set()
    ordered: list[Script] = []
    while remaining:
        ready = sorted(rid for rid, r in remaining.items() if builds_on(r) <= done)
        ordered += [remaining.pop(ready[0])]
        done.add(ready[0])
    return ordered


def builds_on(script: Script) -> set[str]:
    down = script.down_revision
    return set() if down is None else {down} if isinstance(down, str) else set(down)


def pending(connection: Connection) -> list[str]:
    """This code's migrations the database has not had yet, oldest first (empty when it is
    up to date, or ahead)."""
    applied = applied_revisions(current_revisions(connection))
    if applied is None:
        return []
    return [r.revision for r in in_order() if r.revision not in applied]


def history(connection: Connection) -> list[Revision]:
    """Every migration this code knows, oldest first, and whether the database has it."""
    applied = applied_revisions(current_revisions(connection)) or set()
    return [Revision(r.revision, (r.doc or "").strip().splitlines()[0] if r.doc else "",
                     r.revision in applied)
            for r in in_order()]


def upgrade(engine: Engine) -> list[str]:
    """Bring the database to the newest schema; the revisions applied, oldest first."""
    config = alembic_config(engine)
    # Migrations run in plain autocommit-free transactions, not the service's BEGIN IMMEDIATE.
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
        before = pending(connection)
        config.attributes["connection"] = connection
        with warnings.catch_warnings():
            # SQLite's batch mode reflects the tables a copied table refers to, and cannot
            # reflect the case-blind index on department codes. Only a batch on `department`
            # itself would lose it (such a migration must create it again); for the others the
            # warning would only alarm whoever runs `serve`.
            warnings.filterwarnings("ignore", category=SAWarning,
                                    message="Skipped unsupported reflection of expression-based")
            # "heads": a feature branch may add a migration beside another before a merge
            # revision joins them (0007 does for the first ones); every head is applied.
            command.upgrade(config, "heads")
        connection.commit()
    return before
