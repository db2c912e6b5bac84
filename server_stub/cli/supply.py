"""Orders, forecasts and the reorder policy on the command line (thin: parse, call the domain, print):

    fleetmeter-server orders list [--client C] [--site S] [--status STATUS] [--json]
    fleetmeter-server orders show ID [--json]                 (with why it was placed)
    fleetmeter-server orders ship|cancel|release ID
    fleetmeter-server orders backorder ID [--until YYYY-MM-DD] [--note TEXT]   (the supplier cannot deliver yet)
    fleetmeter-server orders add --asset ID --supply KEY [--quantity N] --note TEXT   (exceptional order)
    fleetmeter-server supplies list [--client C] [--site S] [--due-within 21d] [--json]
    fleetmeter-server policy show [--client C | --asset ID] [--json]
    fleetmeter-server policy set [--client C | --asset ID] FILE   (TOML or JSON; global: a whole policy file)
"""

from __future__ import annotations

import argparse
import json
import tomllib
from datetime import datetime, time, timezone
from pathlib import Path

from sqlalchemy import select

from server_stub.cli.common import CliError, Commands, age, bounded, day, duration, print_table, printable, ready_engine
from server_stub.db.tables import assets
from server_stub.fleet.clients import FleetError, get_client
from server_stub.supply import live, order_book, policy_store
from server_stub.supply.orders import OrderError
from server_stub.supply.policy import PolicyError


def _note(value: str) -> str:
    if not value.strip() or len(value) > 2000 or "\x00" in value:
        raise argparse.ArgumentTypeError("a note is 1-2000 characters")
    return value.strip()


def _day_start(value: str) -> datetime:
    """argparse type: a date, as its first instant in UTC."""
    return datetime.combine(day(value), time(), tzinfo=timezone.utc)


def _supply_key(value: str) -> str:
    if not 1 <= len(value) <= 32 or not value.replace(".", "").isdigit():
        raise argparse.ArgumentTypeError(f"{value!r}: a supply key is its index, e.g. 1 or 1.3")
    return value


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    command = Commands(sub, common).command

    orders = sub.add_parser("orders", help="supply orders").add_subparsers(dest="action", metavar="ACTION",
                                                                          required=True)
    lst = command(orders, "list", cmd_orders_list, "orders, newest last", listing=True)
    lst.add_argument("--client")
    lst.add_argument("--site")
    lst.add_argument("--status", choices=order_book.STATUSES)
    show = command(orders, "show", cmd_orders_show, "one order with why it was placed", listing=True)
    show.add_argument("id", type=bounded(1, 2**31 - 1))
    for action, text in (("ship", "mark shipped"), ("cancel", "cancel"), ("release", "release a blocked order")):
        change = command(orders, action, cmd_orders_change, text)
        change.add_argument("id", type=bounded(1, 2**31 - 1))
    back = command(orders, "backorder", cmd_orders_backorder,
                   "the supplier cannot deliver yet (mails the client; delivery waits for --until)")
    back.add_argument("id", type=bounded(1, 2**31 - 1))
    back.add_argument("--until", type=_day_start, metavar="YYYY-MM-DD", help="when the goods are expected (UTC)")
    back.add_argument("--note", type=_note)
    add = command(orders, "add", cmd_orders_add, "an exceptional manual order (a big print project)", listing=True)
    add.add_argument("--asset", type=bounded(1, 2**31 - 1), required=True)
    add.add_argument("--supply", type=_supply_key, required=True)
    add.add_argument("--quantity", type=bounded(1, 100), default=1)
    add.add_argument("--note", type=_note, required=True)

    supplies = sub.add_parser("supplies", help="supply forecasts").add_subparsers(dest="action", metavar="ACTION",
                                                                                 required=True)
    lst = command(supplies, "list", cmd_supplies_list, "forecast per supply, soonest empty first", listing=True)
    lst.add_argument("--client")
    lst.add_argument("--site")
    lst.add_argument("--due-within", type=duration, metavar="DURATION", help="e.g. 21d")

    policy = sub.add_parser("policy", help="the reorder policy (global, client, device levels)") \
        .add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, handler, text in (("show", cmd_policy_show, "a level and the rules it resolves to"),
                                ("set", cmd_policy_set, "store a level from a TOML or JSON file")):
        parser = command(policy, name, handler, text, listing=name == "show")
        level = parser.add_mutually_exclusive_group()
        level.add_argument("--client")
        level.add_argument("--asset", type=bounded(1, 2**31 - 1))
        if name == "set":
            parser.add_argument("file", type=Path, metavar="FILE")


def _run(args, function, *params, write: bool = True):
    _, engine = ready_engine(args)
    try:
        with (engine.begin() if write else engine.connect()) as conn:
            return function(conn, *params)
    except (FleetError, OrderError, PolicyError) as exc:
        raise CliError(str(exc)) from None


def _dump(document) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))


def _lines(order) -> str:
    return ", ".join(f"{ln.device}/{ln.supply} x{ln.quantity}" for ln in order.lines)


def cmd_orders_list(args) -> int:
    rows = _run(args, lambda c: order_book.list_orders(c, client=args.client, site=args.site, status=args.status),
                write=False)
    if args.json:
        _dump({"orders": [live.order_json(o) for o in rows]})
        return 0
    print_table([("ID", "CLIENT", "SITE", "STATUS", "RULE", "PLACED (UTC)", "LINES")] +
                [(o.id[1:], o.client, o.site, live.display_status(o), o.rule, age(o.placed_at), _lines(o))
                 for o in rows])
    return 0


def cmd_orders_show(args) -> int:
    order = _run(args, order_book.get_order, args.id, write=False)
    doc = live.order_json(order, why=True)
    if args.json:
        _dump(doc)
        return 0
    for key in ("id", "client", "site", "status", "kind", "rule", "placed_at", "shipped_at", "delivered_at",
                "closed_at"):
        print(f"{key}: {printable(str(doc[key]) if doc[key] is not None else '-')}")
    if doc["backordered"]:
        back = doc["backordered"]
        print(f"backordered: {back['at']} until {back['until'] or 'no date known'}"
              f"{' (' + printable(back['note']) + ')' if back['note'] else ''}")
    for ln in doc["lines"]:
        print(f"line: {printable(ln['device'])}/{ln['supply']} x{ln['quantity']} ({ln['reason']}, "
              f"installed {ln['installed']}, part {printable(ln['part_number'] or '-')})")
    print("why: " + printable(json.dumps(doc["why"], ensure_ascii=False)))
    return 0


def cmd_orders_change(args) -> int:
    order = _run(args, order_book.change_order, args.id, args.action)
    print(f"order {args.id}: {live.display_status(order)}")
    return 0


def cmd_orders_backorder(args) -> int:
    order = _run(args, lambda c: order_book.change_order(c, args.id, "backorder", until=args.until, note=args.note))
    until = order.backordered_until.date().isoformat() if order.backordered_until else "no date known"
    print(f"order {args.id}: {live.display_status(order)}, back-ordered until {until}")
    return 0


def cmd_orders_add(args) -> int:
    order = _run(args, order_book.add_manual_order, args.asset, args.supply, args.quantity, args.note)
    if args.json:
        _dump(live.order_json(order, why=True))
    else:
        print(f"order {order.id[1:]} placed: {_lines(order)}")
    return 0


def cmd_supplies_list(args) -> int:
    rows = _run(args, lambda c: order_book.list_supplies(c, client=args.client, site=args.site,
                                                         due_within=args.due_within), write=False)
    if args.json:
        _dump({"supplies": [r.to_json() for r in rows]})
        return 0
    fmt = lambda v, d=1: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
    print_table([("ASSET", "CLIENT", "SITE", "SERIAL", "SUPPLY", "PART", "PERCENT", "DAYS LEFT", "PAGES LEFT",
                  "EMPTY ON (EARLIEST..LATEST)", "METHOD")] +
                [(str(r.asset_id), r.client, r.site or "-", r.serial or "-", r.supply, r.part_number or "-",
                  fmt(r.percent), fmt(r.days_left), "-" if r.pages_left is None else str(r.pages_left),
                  "-" if r.empty_on is None else
                  f"{r.empty_on.date()} ({r.empty_earliest and r.empty_earliest.date()}.."
                  f"{r.empty_latest and r.empty_latest.date()})", r.method or "-") for r in rows])
    return 0


def _level(conn, args) -> tuple[str, str | None]:
    if args.client is not None:
        return "client", get_client(conn, args.client).name
    if args.asset is not None:
        serial = conn.execute(select(assets.c.serial).where(assets.c.id == args.asset)).scalar()
        if serial is None:
            raise FleetError(f"no asset {args.asset} with a serial; see: fleetmeter-server assets list")
        return "device", serial  # the engine knows devices by serial
    return "global", None


def cmd_policy_show(args) -> int:
    doc = _run(args, lambda c: policy_store.show(c, *_level(c, args)), write=False)
    if args.json:
        _dump(doc)
    else:
        print(f"level: {doc['level']}{' ' + printable(doc['key']) if doc['key'] else ''}")
        print("stored: " + printable(json.dumps(doc["stored"], ensure_ascii=False)))
        print("resolved: " + json.dumps(doc["resolved"]))
    return 0


def cmd_policy_set(args) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
        document = json.loads(text) if args.file.suffix.lower() == ".json" else tomllib.loads(text)
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise CliError(f"{args.file} is not valid {'JSON' if args.file.suffix == '.json' else 'TOML'}: "
                       f"{str(exc).splitlines()[0]}") from None

    def store(conn):
        level, key = _level(conn, args)
        policy_store.set_level(conn, level, key or "", document)
        return level, key
    level, key = _run(args, store)
    print(f"policy {level}{' ' + printable(key) if key else ''} stored")
    return 0
