"""`microcred users deactivate|remove-role` and `microcred tokens list|revoke`."""

import argparse
from typing import Any

from api.commands import cli_engine
from plumbing.database import read_session, write_session
from workflow.accounts.models import Role
from workflow.accounts.service import deactivate_user, remove_role, revoke_token, tokens_of
from workflow.fields import as_utc


def users_deactivate(args: argparse.Namespace) -> int:
    with write_session(cli_engine()) as session:
        user = deactivate_user(session, args.email)
    print(f"user {user.email} deactivated: their API tokens, sessions and single sign-on no "
          "longer let them in")
    return 0


def users_remove_role(args: argparse.Namespace) -> int:
    role = Role(args.role)
    with write_session(cli_engine()) as session:
        user = remove_role(session, args.email, role, args.department)
    where = f" in {args.department}" if args.department else ""
    print(f"user {user.email}: no longer {role}{where}")
    return 0


def tokens_list(args: argparse.Namespace) -> int:
    with read_session(cli_engine()) as session:
        tokens = tokens_of(session, args.email)
    if not tokens:
        print(f"{args.email.strip().lower()} has no API tokens")
    for token in tokens:
        made = as_utc(token.created_at).strftime("%Y-%m-%d %H:%M UTC")
        print(f"{token.id:>6}  {made}  {token.label or '-'}")
    return 0


def tokens_revoke(args: argparse.Namespace) -> int:
    with write_session(cli_engine()) as session:
        token, user = revoke_token(session, args.id)
    print(f"API token {token.id} of {user.email} revoked")
    return 0


def add_user_commands(users: Any) -> None:
    """Beside `users add` (api/cli.py): deactivate, remove-role."""
    p = users.add_parser("deactivate", help="stop a user from signing in or using tokens")
    p.add_argument("email")
    p.set_defaults(run=users_deactivate)
    p = users.add_parser("remove-role", help="take a role from a user")
    p.add_argument("email")
    p.add_argument("role", choices=[r.value for r in Role])
    p.add_argument("--department", help="department code, for submitter and department_lead")
    p.set_defaults(run=users_remove_role)


def add_token_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="tokens", required=True)
    p = commands.add_parser("list", help="a user's API tokens: id, when made, label")
    p.add_argument("email")
    p.set_defaults(run=tokens_list)
    p = commands.add_parser("revoke", help="delete an API token by its id")
    p.add_argument("id", type=int)
    p.set_defaults(run=tokens_revoke)
