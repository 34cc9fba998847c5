"""The `microcred` command line."""

import argparse
import sys
from collections.abc import Sequence

from pydantic import SecretStr
from sqlalchemy import Engine

from plumbing.database import get_engine, is_sqlite, read_session, write_session
from plumbing.migrate import upgrade
from plumbing.secret_key import WeakSecretKey, demo_key, require_secret_key
from plumbing.settings import Settings, get_settings
from rubric.definitions import RubricError
from workflow import audit
from workflow.accounts.models import DepartmentCreate, Role
from workflow.accounts.service import add_department, add_user, issue_token
from workflow.errors import WorkflowError
from workflow.machine import mermaid


def _engine() -> Engine:
    return get_engine(get_settings().database_url)


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
    engine = _engine()
    if is_sqlite(engine):
        # The embedded default looks after its own schema; PostgreSQL deployments run `db upgrade`.
        upgrade(engine)
    app = create_app(settings, engine, with_worker=True, with_inbound_smtp=True)
    if args.demo:
        from api.demo import seed

        with write_session(engine) as session:
            print(seed(session, settings))
        print(f"Web pages: http://{args.host}:{args.port}/sign-in (one click per demo user)")
    print(f"microcred on http://{args.host}:{args.port} (database {settings.database_url})")
    print(_mail_destination(settings, f"http://{args.host}:{args.port}"))
    if settings.inbound_smtp_port:
        print(f"email replies: SMTP on {settings.inbound_smtp_host}:{settings.inbound_smtp_port}")
    # X-Forwarded-* are read by the app itself (api/forwarded.py), from MICROCRED_TRUSTED_PROXIES.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=False)
    return 0


def _mail_destination(settings: Settings, base: str) -> str:
    if settings.smtp_host:
        return f"email goes to SMTP {settings.smtp_host}:{settings.smtp_port}"
    return f"no MICROCRED_SMTP_HOST: email goes to the dev mailbox, {base}/mailbox (admins)"


def worker(_args: argparse.Namespace) -> int:
    from notifications.worker import run_forever

    settings = get_settings()
    require_secret_key(settings)
    engine = _engine()
    if is_sqlite(engine):
        upgrade(engine)
    print(f"microcred email worker (database {settings.database_url}); "
          + _mail_destination(settings, settings.base_url.rstrip("/")))
    run_forever(engine, settings)
    return 0


def inbound_smtp(args: argparse.Namespace) -> int:
    from notifications.inbound.listener import run_forever

    settings = get_settings()
    require_secret_key(settings)
    engine = _engine()
    if is_sqlite(engine):
        upgrade(engine)
    host = args.host or settings.inbound_smtp_host
    print(f"microcred email replies: SMTP on {host}:{args.port} for "
          f"reply+...@{settings.reply_domain} (database {settings.database_url})")
    run_forever(engine, settings, host, args.port)
    return 0


def db_upgrade(_args: argparse.Namespace) -> int:
    upgrade(_engine())
    print("database schema is up to date")
    return 0


def users_add(args: argparse.Namespace) -> int:
    roles = [Role(r) for value in args.role for r in value.split(",")]
    with write_session(_engine()) as session:
        user = add_user(session, args.email, args.name, roles, args.department)
        token = issue_token(session, user, label="cli")
    where = f" in {args.department}" if args.department else ""
    print(f"user {user.email} ({user.name}): {', '.join(roles)}{where}")
    print(token)
    return 0


def departments_add(args: argparse.Namespace) -> int:
    with write_session(_engine()) as session:
        department = add_department(session, DepartmentCreate(code=args.code, name=args.name))
    print(f"department {department.code}: {department.name}")
    return 0


def audit_verify(_args: argparse.Namespace) -> int:
    with read_session(_engine()) as session:
        result = audit.verify(session)
    if result.ok:
        print(f"audit chain intact: {result.entries} entries")
        return 0
    bad = result.first_bad or {}
    print(f"audit chain BROKEN at entry {bad.get('seq')}: {bad.get('reason')} "
          f"({result.entries} entries before it verify)")
    return 1


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
    from pathlib import Path

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
    p.set_defaults(run=serve)

    commands.add_parser(
        "worker", help="only the email outbox sender and the reminder scheduler"
    ).set_defaults(run=worker)

    p = commands.add_parser("inbound-smtp", help="the SMTP listener for email replies")
    p.add_argument("--host", default=None,
                   help="address to listen on (default MICROCRED_INBOUND_SMTP_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, required=True)
    p.set_defaults(run=inbound_smtp)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="apply the schema migrations").set_defaults(run=db_upgrade)

    users = commands.add_parser("users", help="manage users").add_subparsers(
        dest="users", required=True)
    p = users.add_parser("add", help="add a user (or roles to one) and print an API token")
    p.add_argument("email")
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, action="append",
                   help="submitter, department_lead, coordinator, reviewer or admin; repeatable")
    p.add_argument("--department", help="department code, for submitter and department_lead")
    p.set_defaults(run=users_add)

    departments = commands.add_parser("departments", help="manage departments").add_subparsers(
        dest="departments", required=True)
    p = departments.add_parser("add", help="add a department")
    p.add_argument("code")
    p.add_argument("--name", required=True)
    p.set_defaults(run=departments_add)

    audit_cmd = commands.add_parser("audit", help="the audit chain").add_subparsers(
        dest="audit", required=True)
    audit_cmd.add_parser("verify", help="check every link of the chain").set_defaults(
        run=audit_verify)

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
        code: int = args.run(args)
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
