"""The dealer's console users on the command line (thin: parse, call server_stub.web.users, print):

    fleetmeter-server users add EMAIL --role admin|staff|read-only [--name NAME] [--password-stdin] [--json]
    fleetmeter-server users list [--json] | users disable EMAIL | users enable EMAIL

Roles (what each may change: server_stub/console/roles.py): admin (agents, devices to complete), staff (devices
to complete), read-only (sees everything, changes nothing). Customer portal accounts: `portal users`.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys

from server_stub.cli.common import CliError, age, print_table, ready_engine
from server_stub.web.users import UserError, add_user, list_users, normal_email, set_disabled

ROLES = {"admin": "admin", "staff": "staff", "read-only": "read_only"}  # as typed -> as stored


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    users = sub.add_parser("users", help="dealer console users and their roles").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    add = users.add_parser("add", parents=[common], help="create a console user")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=tuple(ROLES))
    add.add_argument("--name")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from stdin (without: a random one is printed once)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=cmd_add)
    lst = users.add_parser("list", parents=[common], help="console users with role and state")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_list)
    for name, handler in (("disable", cmd_disable), ("enable", cmd_enable)):
        parser = users.add_parser(name, parents=[common], help=f"{name} a user (disable also ends its sessions)")
        parser.add_argument("email")
        parser.set_defaults(handler=handler)


def cmd_add(args) -> int:
    if args.password_stdin:
        password, shown = sys.stdin.readline().rstrip("\r\n"), None
    else:
        password = shown = secrets.token_urlsafe(12)
    _, engine = ready_engine(args)
    try:
        email = normal_email(args.email)
        with engine.begin() as conn:
            add_user(conn, "dealer", email, password, role=ROLES[args.role], name=args.name)
    except UserError as exc:
        raise CliError(f"users add: {exc}") from None
    if args.json:
        print(json.dumps({"email": email, "role": args.role, "password": shown}))
        return 0
    print(f"console user {email} created ({args.role})")
    if shown:
        print(f"password (shown only now):\n  {shown}")
    print("log in at https://SERVER/")
    return 0


def _role(stored: str | None) -> str:
    return {v: k for k, v in ROLES.items()}.get(stored or "", stored or "-")


def cmd_list(args) -> int:
    _, engine = ready_engine(args)
    with engine.connect() as conn:
        users = list_users(conn, "dealer")
    if args.json:
        print(json.dumps({"users": [{"email": u.email, "name": u.name, "role": _role(u.role), "disabled": u.disabled,
                                     "last_login_at": last and last.isoformat().replace("+00:00", "Z")}
                                    for u, last in users]}, indent=2))
        return 0
    print_table([("EMAIL", "NAME", "ROLE", "STATE", "LAST LOGIN (UTC)")] + [
        (u.email, u.name or "-", _role(u.role), "disabled" if u.disabled else "active", age(last)) for u, last in users])
    return 0


def _set(args, disabled: bool) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            user = set_disabled(conn, args.email, disabled)
            if user.kind != "dealer":
                raise UserError(f"{user.email} is a customer portal account; see: fleetmeter-server portal users")
    except UserError as exc:
        raise CliError(f"users {'disable' if disabled else 'enable'}: {exc}") from None
    print(f"console user {user.email} {'disabled (its sessions ended)' if disabled else 'enabled'}")
    return 0


def cmd_disable(args) -> int:
    return _set(args, True)


def cmd_enable(args) -> int:
    return _set(args, False)
