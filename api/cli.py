"""The `microcred` command line."""

import argparse
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine

from api.commands import audit, cli_engine, configuration, database, people
from plumbing import logs
from plumbing.database import is_sqlite, shown_url, write_session
from plumbing.migrate import upgrade
from plumbing.secret_key import WeakSecretKey, demo_key, require_secret_key
from plumbing.settings import Settings, get_settings
from plumbing.settings_check import settings_problems
from rubric.definitions import RubricError
from workflow.accounts.models import DepartmentCreate, Role
from workflow.accounts.service import add_department, add_user, issue_token, user_by_email
from workflow.errors import WorkflowError
from workflow.machine import mermaid


def _engine(application_name: str = "microcred-cli") -> Engine:
    return cli_engine(application_name)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    if "base_url" not in settings.model_fields_set:
        # Links in emails and credentials point where this process listens, unless configured.
        settings = settings.model_copy(update={"base_url": f"http://{args.host}:{args.port}"})
    if args.demo:
        # The sign-in page offers one click per demo user; never outside demo mode.
        settings = settings.model_copy(update={"demo_sign_in": True})
        if settings.secret_key is None:
            settings = settings.model_copy(
                update={"secret_key": SecretStr(demo_key(settings.database_url))})
    require_secret_key(settings)
    engine = _engine("microcred-web")
    if is_sqlite(engine):
        # The embedded default looks after its own schema; PostgreSQL deployments run `db upgrade`.
        upgrade(engine)
    app = create_app(settings, engine, with_worker=True, with_inbound_smtp=True)
    if args.demo:
        from api.demo import seed

        with write_session(engine) as session:
            print(seed(session, settings))
        print(f"Web pages: http://{args.host}:{args.port}/sign-in (one click per demo user)")
    where = f"the Unix socket {args.uds}" if args.uds else f"http://{args.host}:{args.port}"
    print(f"microcred on {where} (database {shown_url(settings.database_url)})")
    print(_mail_destination(settings, f"http://{args.host}:{args.port}"))
    if settings.inbound_smtp_port:
        print(f"email replies: SMTP on {settings.inbound_smtp_host}:{settings.inbound_smtp_port}")
    # X-Forwarded-* are read by the app itself (api/forwarded.py), from MICROCRED_TRUSTED_PROXIES.
    # Logging is ours (plumbing/logs.py): one redacting line per request, no access log.
    if args.uds:
        serve_on_socket(app, args.uds)
        return 0
    uvicorn.run(app, host=args.host, port=args.port, proxy_headers=False, log_config=None,
                access_log=False)
    return 0


def serve_on_socket(app: Any, path: str) -> None:
    """Serve on a Unix socket that only this user and its group may connect to (the proxy
    joins the group); uvicorn's own `--uds` would make it writable by everyone."""
    import uvicorn

    target = Path(path)
    if target.is_socket():
        target.unlink()  # left by a process that was killed
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    umask = os.umask(0o117)
    try:
        listener.bind(path)
    finally:
        os.umask(umask)
    # uvicorn ends the process with the signal that stopped it; the next start removes the
    # socket file left behind.
    uvicorn.run(app, fd=listener.fileno(), proxy_headers=False, log_config=None,
                access_log=False)


def _mail_destination(settings: Settings, base: str) -> str:
    if settings.smtp_host:
        return f"email goes to SMTP {settings.smtp_host}:{settings.smtp_port}"
    return f"no MICROCRED_SMTP_HOST: email goes to the dev mailbox, {base}/mailbox (admins)"


def worker(_args: argparse.Namespace) -> int:
    from notifications.worker import run_forever

    settings = get_settings()
    require_secret_key(settings)
    engine = _engine("microcred-worker")
    if is_sqlite(engine):
        upgrade(engine)
    print(f"microcred email worker (database {shown_url(settings.database_url)}); "
          + _mail_destination(settings, settings.base_url.rstrip("/")))
    run_forever(engine, settings)
    return 0


def inbound_smtp(args: argparse.Namespace) -> int:
    from notifications.inbound.listener import run_forever

    settings = get_settings()
    require_secret_key(settings)
    engine = _engine("microcred-inbound")
    if is_sqlite(engine):
        upgrade(engine)
    host = args.host or settings.inbound_smtp_host
    print(f"microcred email replies: SMTP on {host}:{args.port} for "
          f"reply+...@{settings.reply_domain} (database {shown_url(settings.database_url)})")
    run_forever(engine, settings, host, args.port)
    return 0


def users_add(args: argparse.Namespace) -> int:
    roles = [Role(r) for value in args.role for r in value.split(",")]
    with write_session(_engine()) as session:
        existed = user_by_email(session, args.email) is not None
        user = add_user(session, args.email, args.name, roles, args.department)
        token = issue_token(session, user, label="cli") if args.new_token or not existed \
            else None
    where = f" in {args.department}" if args.department else ""
    print(f"user {user.email} ({user.name}): {', '.join(roles)}{where}")
    if token is None:
        print(f"{user.email} already existed: no new API token (`microcred tokens list "
              f"{user.email}` shows theirs; --new-token makes one)")
        return 0
    print(token)
    return 0


def departments_add(args: argparse.Namespace) -> int:
    with write_session(_engine()) as session:
        department = add_department(session, DepartmentCreate(code=args.code, name=args.name))
    print(f"department {department.code}: {department.name}")
    return 0


class ProgressBar:
    """A one-line bar on stderr, redrawn in place as the count grows."""

    def __init__(self, label: str, width: int = 30) -> None:
        self.label, self.width, self.shown = label, width, -1

    def __call__(self, done: int, total: int) -> None:
        filled = self.width * done // max(total, 1)
        if filled == self.shown and done != total:
            return
        self.shown = filled
        bar = "#" * filled + "-" * (self.width - filled)
        end = "\n" if done == total else ""
        print(f"\r{self.label} [{bar}] {done}/{total}", end=end, file=sys.stderr, flush=True)


def import_catalog(args: argparse.Namespace) -> int:
    from workflow.credentials.catalog_import import import_catalog as run_import

    path = Path(args.file)
    if not path.is_file():
        print(f"microcred: no such file: {path}", file=sys.stderr)
        return 2
    settings = get_settings()
    engine = _engine()
    if is_sqlite(engine):
        upgrade(engine)
    with write_session(engine) as session:
        report = run_import(session, path, settings, dry_run=args.dry_run,
                            progress=ProgressBar("checking"))
    for bad in report.bad:
        print(bad, file=sys.stderr)
    if not report.ok:
        print(f"{len(report.bad)} problem(s) in {report.rows} row(s); nothing was imported",
              file=sys.stderr)
        return 1
    if report.dry_run:
        print(f"dry run: all {report.rows} row(s) are good; nothing was imported")
    else:
        print(f"imported {report.imported} credential(s) from {path.name}")
    return 0


def diagram(_args: argparse.Namespace) -> int:
    print(mermaid(), end="")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="microcred", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="run the whole service in one process")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--demo", action="store_true", help="seed demo departments, users, proposals")
    p.add_argument("--uds", metavar="PATH",
                   help="listen on this Unix socket (mode 0660) instead of --host and --port")
    p.set_defaults(run=serve)

    commands.add_parser(
        "worker", help="only the email outbox sender and the reminder scheduler"
    ).set_defaults(run=worker)

    p = commands.add_parser("inbound-smtp", help="the SMTP listener for email replies")
    p.add_argument("--host", default=None,
                   help="address to listen on (default MICROCRED_INBOUND_SMTP_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, required=True)
    p.set_defaults(run=inbound_smtp)

    database.add_commands(commands.add_parser("db", help="database schema"))

    users = commands.add_parser("users", help="manage users").add_subparsers(
        dest="users", required=True)
    p = users.add_parser("add", help="add a user (or roles to one) and print an API token")
    p.add_argument("email")
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, action="append",
                   help="submitter, department_lead, coordinator, reviewer or admin; repeatable")
    p.add_argument("--department", help="department code, for submitter and department_lead")
    p.add_argument("--new-token", action="store_true",
                   help="print a new API token even if the user already exists")
    p.set_defaults(run=users_add)
    people.add_user_commands(users)
    people.add_token_commands(commands.add_parser("tokens", help="API tokens"))

    departments = commands.add_parser("departments", help="manage departments").add_subparsers(
        dest="departments", required=True)
    p = departments.add_parser("add", help="add a department")
    p.add_argument("code")
    p.add_argument("--name", required=True)
    p.set_defaults(run=departments_add)

    audit.add_commands(commands.add_parser("audit", help="the audit chain and its checkpoints"))
    configuration.add_commands(commands.add_parser(
        "check-config", help="name settings left unset, left at the defaults, or unsafe"))

    p = commands.add_parser("import-catalog",
                            help="bring in credentials approved before this service (CSV)")
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    p.set_defaults(run=import_catalog)

    commands.add_parser("diagram", help="print the state machine as Mermaid").set_defaults(
        run=diagram)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = get_settings()
        logs.configure(settings.log_level, settings.log_format)
    except ValidationError:
        logs.configure()  # the command names the bad setting (check-config lists them all)
    try:
        code: int = args.run(args)
    except ValidationError as error:
        print(f"microcred: {settings_problems(error)}", file=sys.stderr)
    except WeakSecretKey as error:
        print(f"microcred: {error}", file=sys.stderr)
        return 2
    except (WorkflowError, RubricError, ValueError) as error:
        detail = error.detail if isinstance(error, WorkflowError) else error
        print(f"microcred: {detail}", file=sys.stderr)
        return 2
    return code



if __name__ == "__main__":
    sys.exit(main())
