"""`microcred db`: apply the migrations, and say where the database stands."""

import argparse

from api.commands import cli_engine
from plumbing.database import READ_ONLY, shown_url
from plumbing.migrate import current_revisions, history, upgrade
from plumbing.settings import get_settings


def db_upgrade(_args: argparse.Namespace) -> int:
    engine = cli_engine()
    applied = upgrade(engine)
    with engine.connect().execution_options(**READ_ONLY) as connection:
        now = ", ".join(sorted(current_revisions(connection)))
    if applied:
        print(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    print(f"database schema is up to date at {now} ({shown_url(get_settings().database_url)})")
    return 0


def db_current(_args: argparse.Namespace) -> int:
    with cli_engine().connect().execution_options(**READ_ONLY) as connection:
        revisions = current_revisions(connection)
        waiting = [r.id for r in history(connection) if not r.applied]
    print(", ".join(sorted(revisions)) or "no schema yet (run `microcred db upgrade`)")
    if waiting:
        print(f"{len(waiting)} migration(s) not applied yet: {', '.join(waiting)}")
        return 1
    return 0


def db_history(_args: argparse.Namespace) -> int:
    with cli_engine().connect().execution_options(**READ_ONLY) as connection:
        revisions = history(connection)
    for revision in revisions:
        mark = "applied" if revision.applied else "pending"
        print(f"{revision.id:<32} {mark:<8} {revision.title}")
    return 0


def add_commands(db: argparse.ArgumentParser) -> None:
    commands = db.add_subparsers(dest="db", required=True)
    commands.add_parser("upgrade", help="apply the schema migrations, saying which").set_defaults(
        run=db_upgrade)
    commands.add_parser(
        "current", help="the database's schema revision; exit 1 when migrations are pending"
    ).set_defaults(run=db_current)
    commands.add_parser(
        "history", help="every migration, oldest first, applied or pending").set_defaults(
        run=db_history)
