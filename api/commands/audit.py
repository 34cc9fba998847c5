"""`microcred audit`: verify the chain, and take checkpoints of its head to keep elsewhere."""

import argparse
import sys
from pathlib import Path

from api.commands import cli_engine
from plumbing.database import read_session, write_session
from plumbing.settings import Settings, get_settings
from workflow import audit
from workflow.audit_checkpoint import as_text, parse, problem, take


def signing_keys(settings: Settings) -> list[bytes]:
    """The key new checkpoints are signed with, first, then any that still verify old ones."""
    return settings.verifying_keys()


def audit_verify(args: argparse.Namespace) -> int:
    checkpoint = None
    if args.checkpoint:
        path = Path(args.checkpoint)
        if not path.is_file():
            print(f"microcred: no such file: {path}", file=sys.stderr)
            return 2
        try:
            checkpoint = parse(path.read_text(encoding="utf-8", errors="replace"))
        except ValueError as error:
            print(f"microcred: {path}: {error}", file=sys.stderr)
            return 2
    with read_session(cli_engine()) as session:
        result = audit.verify(session)
        missed = problem(session, checkpoint, signing_keys(get_settings())) \
            if checkpoint else None
    if not result.ok:
        bad = result.first_bad or {}
        print(f"audit chain BROKEN at entry {bad.get('seq')}: {bad.get('reason')} "
              f"({result.entries} entries before it verify)")
        return 1
    print(f"audit chain intact: {result.entries} entries")
    if checkpoint is None:
        return 0
    if missed:
        print(f"checkpoint FAILED: {missed}")
        return 1
    print(f"checkpoint holds: entry {checkpoint.seq} of {checkpoint.taken_at} is in the chain")
    return 0


def audit_checkpoint(args: argparse.Namespace) -> int:
    settings = get_settings()
    engine = cli_engine()
    with read_session(engine) as session:
        checkpoint = take(session, signing_keys(settings)[0], settings.base_url)
    statement = as_text(checkpoint)
    print(statement, end="")
    if args.out:
        Path(args.out).write_text(statement, encoding="utf-8")
        print(f"written to {args.out}", file=sys.stderr)
    if args.email:
        from notifications.audit_checkpoint import send_checkpoint

        to = settings.badge_office_email if args.email == "badge-office" else args.email
        with write_session(engine) as session:
            send_checkpoint(session, checkpoint, to, settings)
        print(f"queued for {to}; the worker sends it", file=sys.stderr)
    return 0


def add_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="audit", required=True)
    p = commands.add_parser("verify", help="check every link of the chain")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="also fail unless the chain still holds the head this checkpoint saw")
    p.set_defaults(run=audit_verify)
    p = commands.add_parser(
        "checkpoint", help="print a signed statement of the chain's head, to keep elsewhere")
    p.add_argument("--out", metavar="FILE", help="also write it to FILE")
    p.add_argument("--email", nargs="?", const="badge-office", metavar="ADDRESS",
                   help="also email it (default: MICROCRED_BADGE_OFFICE_EMAIL)")
    p.set_defaults(run=audit_checkpoint)
