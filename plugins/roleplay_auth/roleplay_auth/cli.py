"""``roleplay users create`` and ``roleplay users set-role``."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from typing import Any

import attrs

from roleplay_core import ROLES, Problem

from .emails import is_valid, normalise
from .service import service
from .users import EmailTaken, LastAdmin


def add_commands(subparsers: Any) -> None:
    users = subparsers.add_parser("users", help="manage user accounts")
    commands = users.add_subparsers(title="users commands", metavar="COMMAND")

    create = commands.add_parser("create", help="create a local account; the password is asked for, "
                                                "or read from standard input when it is not a terminal")
    create.add_argument("--email", required=True)
    create.add_argument("--role", choices=ROLES, default="user")
    create.add_argument("--display-name", default=None, help="default: the part of the email before '@'")
    create.set_defaults(handler=cmd_create)

    set_role = commands.add_parser("set-role", help="give an account a role (user, scripter, admin)")
    set_role.add_argument("--email", required=True)
    set_role.add_argument("--role", choices=ROLES, required=True)
    set_role.set_defaults(handler=cmd_set_role)

    prune = commands.add_parser("prune", help="delete expired sign-ins, refresh tokens and throttle counters")
    prune.set_defaults(handler=cmd_prune)

    users.set_defaults(handler=lambda args, kernel: (users.print_help(), 2)[1])

    accounts = subparsers.add_parser("service-accounts", help="API keys for integrations (an LMS, a script)")
    account_commands = accounts.add_subparsers(title="service-accounts commands", metavar="COMMAND")
    sa_create = account_commands.add_parser("create", help="create a service account; prints its API key once")
    sa_create.add_argument("--name", required=True)
    sa_create.add_argument("--role", choices=ROLES, action="append", required=True, help="repeatable")
    sa_create.add_argument("--expires-days", type=int, default=None, help="default: until revoked")
    sa_create.set_defaults(handler=cmd_sa_create)
    sa_list = account_commands.add_parser("list", help="list service accounts (never their keys)")
    sa_list.set_defaults(handler=cmd_sa_list)
    sa_revoke = account_commands.add_parser("revoke", help="revoke a service account's API key")
    sa_revoke.add_argument("account_id")
    sa_revoke.set_defaults(handler=cmd_sa_revoke)
    accounts.set_defaults(handler=lambda args, kernel: (accounts.print_help(), 2)[1])


def read_password() -> str:
    """Ask twice on a terminal; otherwise read one line from standard input (scripts, CI)."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat the password: ") != first:
            raise ValueError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def cmd_create(args: argparse.Namespace, kernel: Any) -> int:
    auth = service(kernel)
    email = normalise(args.email)
    if not is_valid(email):
        print(f"roleplay: {args.email!r} is not an email address", file=sys.stderr)
        return 2
    try:
        password = read_password()
    except (ValueError, EOFError) as exc:
        print(f"roleplay: {exc}", file=sys.stderr)
        return 2
    problems = auth.password_problems(password, email)
    if problems:
        print("roleplay: the password " + "; ".join(problems), file=sys.stderr)
        return 2
    name = " ".join((args.display_name or email.split("@")[0]).split())[:100] or email
    try:
        user = await auth.create_local_user(email=email, password=password, display_name=name, roles=(args.role,))
    except EmailTaken:
        print(f"roleplay: an account with {email} already exists; use `roleplay users set-role`", file=sys.stderr)
        return 1
    await auth.record("user.registered", user_id=user.id, method="cli", roles=list(user.roles))
    print(f"created {user.id} {email} roles={','.join(user.roles)}")
    return 0


async def cmd_set_role(args: argparse.Namespace, kernel: Any) -> int:
    auth = service(kernel)
    email = normalise(args.email)
    user = await auth.users.by_email(email)
    if user is None:
        print(f"roleplay: no account with {email}", file=sys.stderr)
        return 1
    try:
        before, after = await auth.users.update(user.id, lambda u: attrs.evolve(u, roles=(args.role,)))
    except LastAdmin:
        print(f"roleplay: {email} is the last admin; make someone else admin first", file=sys.stderr)
        return 1
    if before.roles != after.roles:
        await auth.record("user.roles_changed", user_id=user.id, by="cli", old=list(before.roles),
                          new=list(after.roles))
    print(f"{email} roles={','.join(after.roles)}")
    return 0


async def cmd_prune(args: argparse.Namespace, kernel: Any) -> int:
    from .prune import prune

    counts = await prune(kernel.storage, throttle_rules=attrs.asdict(kernel.typed_settings("auth").throttle))
    print(" ".join(f"{name}={count}" for name, count in counts.items()))
    return 0


async def cmd_sa_create(args: argparse.Namespace, kernel: Any) -> int:
    from .apikey_routes import MAX_DAYS
    from .bodies import checked_name

    if args.expires_days is not None and not 1 <= args.expires_days <= MAX_DAYS:
        print(f"roleplay: --expires-days must be between 1 and {MAX_DAYS}", file=sys.stderr)
        return 2
    try:
        name = checked_name(args.name, "name")
    except Problem as problem:
        print(f"roleplay: --name {problem.errors[0].message if problem.errors else problem.detail}", file=sys.stderr)
        return 2
    auth = service(kernel)
    expires = time.time() + args.expires_days * 86400 if args.expires_days else None
    account, key = await auth.api_keys.create(name=name, roles=tuple(r for r in ROLES if r in args.role),
                                              created_by="cli", expires_at=expires)
    await auth.record("service_account.created", account_id=account.id, name=account.name, by="cli",
                      roles=list(account.roles), expires_at=account.expires_at)
    print(f"{account.id} {account.name} roles={','.join(account.roles)} expires={account.expires_at or 'never'}")
    print(f"api key (shown once, store it now): {key}")
    return 0


async def cmd_sa_list(args: argparse.Namespace, kernel: Any) -> int:
    for account in await service(kernel).api_keys.list():
        public = account.public()
        print(f"{account.id} {public['status']} {account.name} roles={','.join(account.roles)} "
              f"key={account.key_hint}... expires={account.expires_at or 'never'} last_used={account.last_used_at or 'never'}")
    return 0


async def cmd_sa_revoke(args: argparse.Namespace, kernel: Any) -> int:
    auth = service(kernel)
    before = await auth.api_keys.get(args.account_id)
    if before is None:
        print(f"roleplay: no service account {args.account_id}", file=sys.stderr)
        return 1
    await auth.api_keys.revoke(args.account_id, "cli")
    if before.revoked_at is None:
        await auth.record("service_account.revoked", account_id=before.id, name=before.name, by="cli")
    print(f"{before.id} revoked")
    return 0
