"""The customer portal on the dealer's command line (thin: parse, call the domain, print):

    fleetmeter-server portal users add EMAIL --client C --site S [--site S2] [--project P] [--order-directly]
        [--hide-performed-actions] [--show-project-purchase-prices] [--show-order-purchase-prices]
        [--password-stdin] [--json]
    fleetmeter-server portal users list [--json] | users disable EMAIL | users enable EMAIL
    fleetmeter-server portal reports list [--all] [--json] | reports accept N | reports reject N --reason TEXT
    fleetmeter-server portal projects add NAME --client C

General settings (timeout, e-mail of every report, statistics and calendar tabs, ...) are `server.portal_*`
keys: fleetmeter-server config set --global server.portal_report_email service@dealer.example
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys

from server_stub.cli.common import CliError, Commands, print_table, ready_engine
from server_stub.portal import accounts, reports
from server_stub.web.users import UserError, set_disabled


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    portal = sub.add_parser("portal", help="customer portal: user accounts, the fault report queue")
    groups = portal.add_subparsers(dest="group", metavar="GROUP", required=True)

    command = Commands(sub, common).command

    users = groups.add_parser("users", help="customer accounts").add_subparsers(dest="action", metavar="ACTION",
                                                                               required=True)
    add = command(users, "add", cmd_users_add, "create a customer's portal account", listing=True)
    add.add_argument("email")
    add.add_argument("--client", required=True)
    add.add_argument("--site", action="append", required=True, help="a site of the client it sees (repeatable)")
    add.add_argument("--project", action="append", default=[], help="a project of the client it sees (repeatable)")
    for option in accounts.OPTIONS:
        add.add_argument("--" + option.replace("_", "-"), action="store_true", dest=option)
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from stdin (without: a random one is printed once)")
    command(users, "list", cmd_users_list, "portal accounts with their sites and options", listing=True)
    for name, handler in (("disable", cmd_users_disable), ("enable", cmd_users_enable)):
        command(users, name, handler, f"{name} an account (disable also ends its sessions)").add_argument("email")

    queue = groups.add_parser("reports", help="the fault report queue").add_subparsers(dest="action",
                                                                                     metavar="ACTION", required=True)
    lst = command(queue, "list", cmd_reports_list, "fault reports waiting for the dealer", listing=True)
    lst.add_argument("--all", action="store_true", help="also accepted and rejected reports")
    command(queue, "accept", cmd_reports_accept, "make the service order (status planned)").add_argument("id", type=int)
    reject = command(queue, "reject", cmd_reports_reject, "reject with a reason the customer sees")
    reject.add_argument("id", type=int)
    reject.add_argument("--reason", required=True)

    projects = groups.add_parser("projects", help="projects portal users may be linked to").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    padd = command(projects, "add", cmd_projects_add, "add a client's project")
    padd.add_argument("name")
    padd.add_argument("--client", required=True)


def cmd_users_add(args) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        shown = None
    else:
        password = shown = secrets.token_urlsafe(12)
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            accounts.add_account(conn, args.email, password, args.client, args.site, args.project,
                                 **{o: getattr(args, o) for o in accounts.OPTIONS})
    except UserError as exc:
        raise CliError(f"portal users add: {exc}") from None
    if args.json:
        print(json.dumps({"email": args.email.strip().lower(), "password": shown}))
        return 0
    print(f"portal user {args.email.strip().lower()} created for {args.client} ({', '.join(args.site)})")
    if shown:
        print(f"password (shown only now):\n  {shown}")
    print("the customer logs in at https://SERVER/portal/")
    return 0


def cmd_users_list(args) -> int:
    _, engine = ready_engine(args)
    with engine.connect() as conn:
        found = accounts.list_accounts(conn)
        site_names, project_names = accounts.names(conn)
    documents = [a.to_json(site_names, project_names) for a in found]
    if args.json:
        print(json.dumps({"users": documents}, indent=2))
        return 0
    flags = {"order_directly": "order-directly", "hide_performed_actions": "hide-actions",
             "show_project_purchase_prices": "project-prices", "show_order_purchase_prices": "order-prices"}
    print_table([("CLIENT", "EMAIL", "SITES", "OPTIONS", "STATE")] + [
        (d["client"], d["email"], ", ".join(d["sites"]), ",".join(v for k, v in flags.items() if d[k]) or "-",
         "disabled" if d["disabled"] else "active") for d in documents])
    return 0


def _set_disabled(args, disabled: bool) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            user = set_disabled(conn, args.email, disabled)
    except UserError as exc:
        raise CliError(f"portal users: {exc}") from None
    print(f"{user.email} {'disabled; its sessions ended' if disabled else 'enabled'}")
    return 0


def cmd_users_disable(args) -> int:
    return _set_disabled(args, True)


def cmd_users_enable(args) -> int:
    return _set_disabled(args, False)


def cmd_reports_list(args) -> int:
    _, engine = ready_engine(args)
    with engine.connect() as conn:
        found = reports.list_reports(conn, include_decided=args.all)
    if args.json:
        print(json.dumps({"reports": [r.to_json() for r in found]}, indent=2))
        return 0
    if not found:
        print("no fault reports waiting" if not args.all else "no fault reports")
        return 0
    print_table([("ID", "FILED (UTC)", "CLIENT", "SITE", "DEVICE", "BY", "STATUS", "DESCRIPTION")] + [
        (str(r.id), r.created_at[:16], r.client, r.site, r.asset or "-", r.user or "-", r.status,
         r.description if len(r.description) <= 60 else r.description[:59] + "…") for r in found])
    return 0


def cmd_reports_accept(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            order_id = reports.accept(conn, args.id)
    except reports.ReportError as exc:
        raise CliError(f"portal reports accept: {exc}") from None
    print(f"fault report {args.id} accepted: service order {order_id} planned")
    return 0


def cmd_reports_reject(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            reports.reject(conn, args.id, args.reason)
    except reports.ReportError as exc:
        raise CliError(f"portal reports reject: {exc}") from None
    print(f"fault report {args.id} rejected")
    return 0


def cmd_projects_add(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            accounts.add_project(conn, args.client, args.name)
    except UserError as exc:
        raise CliError(f"portal projects add: {exc}") from None
    print(f"project {args.name} added for {args.client}")
    return 0
