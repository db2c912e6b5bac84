"""Billing and invoices on the command line (thin: parse, call server_stub.billing.store, print):

    fleetmeter-server billing plan set --client C FILE.toml|FILE.json [--from YYYY-MM] | plan show --client C [--json]
    fleetmeter-server billing read add --asset ID --meter M --value N --at ISO [--by NAME]
    fleetmeter-server billing break add --asset ID --meter M --kind reset|swap --at ISO [--old-final N] [--new-start N]
    fleetmeter-server billing volumes --client C --period YYYY-MM [--json]
    fleetmeter-server billing run --client C --period YYYY-MM [--estimate] [--json]
    fleetmeter-server billing approve --asset ID --meter M --period YYYY-MM
    fleetmeter-server billing export --period YYYY-MM --csv
    fleetmeter-server invoices create --client C --period P | list [--client C] [--json] | show N [--json]
    fleetmeter-server invoices pay N --amount X [--at DATE] [--reference R] | file N --out FILE
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from server_stub.billing import store
from server_stub.billing.export import write_erp_csv
from server_stub.billing.invoices import PaymentError
from server_stub.billing.periods import Period
from server_stub.billing.plans import PlanError, load_plan_file
from server_stub.billing.reads import METERS, CounterBreak
from server_stub.cli.common import CliError, Commands, day, print_table, printable, ready_engine
from server_stub.db.engine import utcnow

REFUSED = (store.BillingError, PlanError, PaymentError, ValueError)


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _moment(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; write e.g. 2026-03-31T18:00Z")
    return value


def _money(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: an amount is a positive number")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return int(text)


def _actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "cli"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    command = Commands(sub, common).command

    billing = sub.add_parser("billing", help="billing plans, reads, bills, ERP export").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    plan = billing.add_parser("plan", help="a client's billing plan").add_subparsers(dest="plan_action", metavar="ACTION", required=True)
    p = command(plan, "set", cmd_plan_set, "set the client's plan from a TOML or JSON file (see billing/plan.example.toml)")
    p.add_argument("--client", required=True)
    p.add_argument("file", type=Path)
    p.add_argument("--from", dest="effective_from", type=_period, metavar="YYYY-MM",
                   help="the first period it prices (default: the current one); a past period only while no bill "
                        "is stored for it or a later one")
    p = command(plan, "show", cmd_plan_show, "the client's plan versions", listing=True)
    p.add_argument("--client", required=True)

    read = billing.add_parser("read", help="manual meter reads").add_subparsers(dest="read_action", metavar="ACTION", required=True)
    p = command(read, "add", cmd_read_add, "enter a meter read by hand (kind manual)")
    p.add_argument("--asset", type=int, required=True)
    p.add_argument("--meter", choices=METERS, required=True)
    p.add_argument("--value", type=_count, required=True)
    p.add_argument("--at", type=_moment, required=True)
    p.add_argument("--by", help="who read it (default: the current user)")

    brk = billing.add_parser("break", help="technician-recorded counter resets and device swaps").add_subparsers(
        dest="break_action", metavar="ACTION", required=True)
    p = command(brk, "add", cmd_break_add, "record a counter reset or device swap")
    p.add_argument("--asset", type=int, required=True)
    p.add_argument("--meter", choices=METERS, required=True)
    p.add_argument("--kind", choices=("reset", "swap"), required=True)
    p.add_argument("--at", type=_moment, required=True)
    p.add_argument("--old-final", type=_count, help="last value of the old counter (default: its last read)")
    p.add_argument("--new-start", type=_count, help="first value of the new counter (default: 0 for a reset)")
    p.add_argument("--serial", help="the new device's serial (swap)")

    p = command(billing, "volumes", cmd_volumes, "monthly pages per client, site and device", listing=True)
    p.add_argument("--client", required=True)
    p.add_argument("--period", type=_period, required=True)
    p = command(billing, "run", cmd_run, "bill a client's period (a billed period returns its stored bill)", listing=True)
    p.add_argument("--client", required=True)
    p.add_argument("--period", type=_period, required=True)
    p.add_argument("--estimate", action="store_true", help="estimate missing closing reads")
    p = command(billing, "approve", cmd_approve, "release a volume held as an outlier for billing")
    p.add_argument("--asset", type=int, required=True)
    p.add_argument("--meter", choices=METERS, required=True)
    p.add_argument("--period", type=_period, required=True)
    p = command(billing, "export", cmd_export, "ERP CSV of the period's bills on stdout")
    p.add_argument("--period", type=_period, required=True)
    p.add_argument("--csv", action="store_true", required=True)

    invoices = sub.add_parser("invoices", help="invoices and payments").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    p = command(invoices, "create", cmd_invoice_create, "invoice a client's billed period")
    p.add_argument("--client", required=True)
    p.add_argument("--period", type=_period, required=True)
    p.add_argument("--terms", type=int, default=30, metavar="DAYS")
    p = command(invoices, "list", cmd_invoice_list, "invoices with balance", listing=True)
    p.add_argument("--client")
    p = command(invoices, "show", cmd_invoice_show, "one invoice with its payments", listing=True)
    p.add_argument("number")
    p = command(invoices, "pay", cmd_invoice_pay, "record a (partial) payment")
    p.add_argument("number")
    p.add_argument("--amount", type=_money, required=True)
    p.add_argument("--at", type=day, help="payment date (default today, UTC)")
    p.add_argument("--reference")
    p = command(invoices, "file", cmd_invoice_file, "write the invoice's document to a file")
    p.add_argument("number")
    p.add_argument("--out", type=Path, required=True)


def _refused(what: str, exc: Exception) -> CliError:
    return CliError(f"{what}: {printable(' '.join(str(exc).split()))}")


def cmd_plan_set(args) -> int:
    _, engine = ready_engine(args)
    try:
        plan = load_plan_file(args.file)
        with engine.begin() as conn:
            version = store.store_plan(conn, store.client_id(conn, args.client), plan, utcnow(), _actor(),
                                       args.effective_from)
    except REFUSED as exc:
        raise _refused("billing plan set", exc) from None
    print(f"plan {plan.type} ({plan.currency}) for {printable(args.client)} in effect from {version.effective_from}")
    return 0


def cmd_plan_show(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.connect() as conn:
            history = store.plan_history(conn, store.client_id(conn, args.client))
    except REFUSED as exc:
        raise _refused("billing plan show", exc) from None
    versions = [{"effective_from": str(v.effective_from), "set_at": v.set_at.isoformat(),
                 "plan": json.loads(v.plan.dump_json())} for v in history]
    if args.json:
        print(json.dumps({"client": args.client, "versions": versions}))
        return 0
    if not versions:
        raise CliError(f"client {printable(args.client)} has no billing plan; set one: billing plan set --client C FILE")
    for v in versions:
        print(f"from {v['effective_from']} (set {v['set_at'][:16]}): {json.dumps(v['plan'])}")
    return 0


def cmd_read_add(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            read = store.add_manual_read(conn, args.asset, args.meter, args.value, args.at, args.by or _actor(), utcnow())
    except REFUSED as exc:
        raise _refused("billing read add", exc) from None
    print(f"manual read: asset {read.asset_id} {read.meter} = {read.value} at {read.at.isoformat()} by {printable(read.entered_by)}")
    return 0


def cmd_break_add(args) -> int:
    _, engine = ready_engine(args)
    try:
        brk = CounterBreak(args.at, args.kind, args.old_final, args.new_start, args.serial, inferred=False)
        with engine.begin() as conn:
            store.add_break(conn, args.asset, args.meter, brk, _actor(), utcnow())
    except REFUSED as exc:
        raise _refused("billing break add", exc) from None
    print(f"{args.kind} recorded: asset {args.asset} {args.meter} at {brk.at.isoformat()}")
    return 0


def cmd_volumes(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.connect() as conn:
            summary = store.volumes_summary(conn, store.client_id(conn, args.client), args.period)
    except REFUSED as exc:
        raise _refused("billing volumes", exc) from None
    pending = [{"asset": v.asset_id, "meter": v.meter, "status": v.status, "reason": v.reason} for v in summary.not_counted]
    if args.json:
        print(json.dumps({"period": str(summary.period), "client": summary.clients.get(next(iter(summary.clients), None), {}),
                          "sites": {str(k): v for k, v in summary.sites.items()},
                          "devices": {str(k): v for k, v in summary.devices.items()}, "not_counted": pending}))
        return 0
    rows = [("LEVEL", "ID", "MONO", "COLOR", "SCAN")]
    for level, sums in (("client", summary.clients), ("site", summary.sites), ("device", summary.devices)):
        rows += [(level, str(k), str(v["mono"]), str(v["color"]), str(v["scan"])) for k, v in sums.items()]
    print_table(rows)
    for item in pending:
        print(f"not counted: asset {item['asset']} {item['meter']}: {item['status']} ({printable(item['reason'])})")
    return 0


def cmd_run(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            result = store.run_bill(conn, store.locked_client_id(conn, args.client), args.period, utcnow(),
                                    estimate=args.estimate, actor=_actor())
    except REFUSED as exc:
        raise _refused("billing run", exc) from None
    if result.open_items:
        print(f"billing run: the {args.period} bill of {printable(args.client)} has {len(result.open_items)} open "
              f"item(s): {'; '.join(printable(i) for i in result.open_items)}", file=sys.stderr)
        return 1
    doc = result.document
    if args.json:
        print(json.dumps(doc))
        return 0
    rows = [("ASSET", "METER", "PAGES", "TRUE-UP", "PRICE", "AMOUNT", "OPENING", "CLOSING")]
    for line in doc["lines"]:
        own = line["reads"][0]
        rows.append((str(line["asset"]), line["meter"], str(line["pages"]), str(line["true_up_pages"]),
                     line["unit_price"] or line["price_source"] or "-", line["amount"] or "-",
                     f"{own['opening']['value']} {own['opening']['kind']} {own['opening']['at'][:10]}",
                     f"{own['closing']['value']} {own['closing']['kind']} {own['closing']['at'][:10]}"))
    if doc["lines"]:
        print_table(rows)
    for meter in doc["meters"]:
        tiers = ", ".join(f"{t['pages']} x {t['price']}" for t in meter["tiers"])
        print(f"{meter['meter']}: {meter['pages']} pages = {meter['amount']} {doc['currency']}" + (f" ({tiers})" if tiers else ""))
    if doc["consumables"]:
        rows = [("DELIVERED", "ASSET", "CONSUMABLE", "QTY", "PRICE", "AMOUNT", "FROM")]
        rows += [(c["delivered_at"][:10], str(c["asset"]),
                  " ".join(x for x in (c["stock_code"] or c["part_number"], c["color"], c["type"]) if x) or "-",
                  str(c["quantity"]), c["unit_price"] or "-", c["amount"] or "-", c["reference"] or "-")
                 for c in doc["consumables"]]
        print_table(rows)
    if doc["plan_type"] == "subscription":
        print(f"subscription fee: {doc['fee']} {doc['currency']}")
    print(f"total {doc['period']}: {doc['total']} {doc['currency']}")
    return 0


def cmd_approve(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            store.approve(conn, args.asset, args.meter, args.period, _actor(), utcnow())
    except REFUSED as exc:
        raise _refused("billing approve", exc) from None
    print(f"asset {args.asset} {args.meter} {args.period}: released for billing")
    return 0


def cmd_export(args) -> int:
    _, engine = ready_engine(args)
    with engine.connect() as conn:
        entries = store.export_entries(conn, args.period)
    sys.stdout.reconfigure(newline="")
    write_erp_csv(sys.stdout, entries)
    return 0


def cmd_invoice_create(args) -> int:
    _, engine = ready_engine(args)
    now = utcnow()
    try:
        with engine.begin() as conn:
            number = store.create_invoice(conn, store.client_id(conn, args.client), args.period, now.date(), now,
                                          args.terms)
            shown = store.show_invoice(conn, number, now.date())
    except REFUSED as exc:
        raise _refused("invoices create", exc) from None
    print(f"invoice {number}: {shown['amount']} {shown['currency']}, due {shown['due_on']}")
    return 0


def _print_invoices(items: list[dict]) -> None:
    rows = [("NUMBER", "CLIENT", "PERIOD", "AMOUNT", "PAID", "BALANCE", "CURRENCY", "DUE", "STATUS")]
    rows += [(i["number"], i["client"], i["period"] or "-", i["amount"], i["paid"], i["balance"], i["currency"],
              i["due_on"], i["status"] + (" overdue" if i["overdue"] else "")) for i in items]
    print_table(rows)


def cmd_invoice_list(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.connect() as conn:
            client = store.client_id(conn, args.client) if args.client else None
            items = store.list_invoices(conn, utcnow().date(), client)
    except REFUSED as exc:
        raise _refused("invoices list", exc) from None
    if args.json:
        print(json.dumps({"invoices": items}))
    else:
        _print_invoices(items)
    return 0


def cmd_invoice_show(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.connect() as conn:
            item = store.show_invoice(conn, args.number, utcnow().date())
    except REFUSED as exc:
        raise _refused("invoices show", exc) from None
    if args.json:
        print(json.dumps(item))
        return 0
    _print_invoices([item])
    for p in item["payments"]:
        print(f"paid {p['amount']} on {p['paid_on']}" + (f" ref {printable(p['reference'])}" if p["reference"] else ""))
    return 0


def cmd_invoice_pay(args) -> int:
    _, engine = ready_engine(args)
    now = utcnow()
    try:
        with engine.begin() as conn:
            item = store.pay_invoice(conn, args.number, args.amount, args.at or now.date(), args.reference, now)
    except REFUSED as exc:
        raise _refused("invoices pay", exc) from None
    print(f"invoice {item['number']}: paid {item['paid']} of {item['amount']} {item['currency']}, "
          f"balance {item['balance']} ({item['status']})")
    return 0


def cmd_invoice_file(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.connect() as conn:
            name, body = store.invoice_file(conn, args.number)
        args.out.write_bytes(body)
    except REFUSED as exc:
        raise _refused("invoices file", exc) from None
    except OSError as exc:
        raise CliError(f"invoices file: cannot write {args.out}: {exc.strerror}") from None
    print(f"{name} written to {args.out} ({len(body)} bytes)")
    return 0
