"""Notifications on the command line (thin):

    fleetmeter-server notify set --client C [--recipients A,B] [--on CAT] [--off CAT] [--digest CAT]
                                 [--immediate CAT] [--template KIND FILE]   (FILE: subject line, then the body)
    fleetmeter-server notify show [--client C] [--json]
    fleetmeter-server notify test --client C
The SMTP server: fleetmeter-server config set --global server.smtp_host HOST (smtp_port, smtp_starttls,
smtp_user, smtp_password; mail_from).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import get_args

from sqlalchemy import select

from server_stub.cli.common import CliError, printable, print_table, ready_engine
from server_stub.db.tables import clients
from server_stub.fleet.clients import FleetError, get_client
from server_stub.notify import settings as notify_settings
from server_stub.notify.outbox import send_test
from server_stub.notify.settings import CATEGORIES, Kind, NotifyError

KINDS = get_args(Kind)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    notify = sub.add_parser("notify", help="e-mail notifications per client").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    put = notify.add_parser("set", parents=[common], help="recipients, categories, digest, own texts")
    put.add_argument("--client", required=True)
    put.add_argument("--recipients", help="comma-separated e-mail addresses (replaces the list)")
    for flag, text in (("--on", "send this category"), ("--off", "do not send this category"),
                       ("--digest", "this category in the daily digest"), ("--immediate", "this category at once")):
        put.add_argument(flag, action="append", default=[], choices=CATEGORIES, help=text)
    put.add_argument("--template", nargs=2, action="append", default=[], metavar=("KIND", "FILE"),
                     help=f"own text for KIND ({', '.join(KINDS)}): the file's first line is the subject")
    put.set_defaults(handler=cmd_set)
    show = notify.add_parser("show", parents=[common], help="the settings of one or every client")
    show.add_argument("--client")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_show)
    test = notify.add_parser("test", parents=[common], help="send a test mail to the client's recipients now")
    test.add_argument("--client", required=True)
    test.set_defaults(handler=cmd_test)


def _run(args, function, write: bool = True):
    _, engine = ready_engine(args)
    try:
        with (engine.begin() if write else engine.connect()) as conn:
            return function(conn)
    except (FleetError, NotifyError) as exc:
        raise CliError(str(exc)) from None


def cmd_set(args) -> int:
    templates = {}
    for kind, file in args.template:
        if kind not in KINDS:
            raise CliError(f"--template: {kind!r} is not one of {', '.join(KINDS)}", 2)
        try:
            subject, _, body = Path(file).read_text(encoding="utf-8").partition("\n")
        except OSError as exc:
            raise CliError(f"cannot read {file}: {exc.strerror}") from None
        templates[kind] = {"subject": subject.strip(), "body": body}

    def change(conn):
        client = get_client(conn, args.client)
        current = notify_settings.load(conn, client.id) or notify_settings.NotifySettings()
        doc = current.model_dump(mode="json")
        if args.recipients is not None:
            doc["recipients"] = [r.strip() for r in args.recipients.split(",") if r.strip()]
        for names, key, value in ((args.on, "enabled", True), (args.off, "enabled", False),
                                  (args.digest, "digest", True), (args.immediate, "digest", False)):
            for name in names:
                doc["categories"].setdefault(name, {})[key] = value
        doc["templates"] |= templates
        return notify_settings.store(conn, client.id, doc)
    _run(args, change)
    print(f"notifications of {printable(args.client)} stored")
    return 0


def cmd_show(args) -> int:
    def read(conn):
        query = select(clients.c.id, clients.c.name).order_by(clients.c.name)
        if args.client is not None:
            query = query.where(clients.c.id == get_client(conn, args.client).id)
        return [(name, notify_settings.load(conn, cid)) for cid, name in conn.execute(query)]
    rows = _run(args, read, write=False)
    if args.json:
        print(json.dumps({"clients": [{"client": name, "settings": s and s.model_dump(mode="json")}
                                      for name, s in rows]}, indent=2, ensure_ascii=False))
        return 0
    table = [("CLIENT", "RECIPIENTS", "CATEGORIES (on, digest)", "OWN TEXTS")]
    for name, s in rows:
        if s is None:
            table.append((name, "-", "not set", "-"))
            continue
        cats = " ".join(f"{c}:{'on' if s.category(c).enabled else 'off'}{'/digest' if s.category(c).digest else ''}"
                        for c in CATEGORIES)
        table.append((name, ", ".join(s.recipients) or "-", cats, ", ".join(s.templates) or "-"))
    print_table(table)
    return 0


def cmd_test(args) -> int:
    recipients = _run(args, lambda conn: send_test(conn, get_client(conn, args.client).id), write=False)
    print(f"test mail sent to {', '.join(recipients)}")
    return 0
