"""The back office on the command line (thin: parse, call server_stub.jobs, print):

    fleetmeter-server import KIND FILE [--dry-run] [--skip-bad] [--json]   KIND: assets|contracts|stock|related_stock
    fleetmeter-server export KIND --csv [--output FILE]
    fleetmeter-server jobs list [--client C] [--status S] [--json] | show N [--json] | set-status N STATUS | sync
    fleetmeter-server requests list [--status S] [--json] | add --serial S --supply 1.2
    fleetmeter-server contracts list [--status S] [--json] | show NUMBER [--json] | set NUMBER KEY [VALUE]
    fleetmeter-server stock list [--json] | relate PART_CODE (--model M | --asset ID)
    fleetmeter-server assets link SERIAL ASSET_ID | unlink SERIAL
    fleetmeter-server matching conflicts [--json]
    fleetmeter-server erp token add NAME | list [--json] | revoke NAME
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from server_stub.cli.common import CliError, Commands, print_table, printable, ready_engine
from server_stub.jobs import contracts as contract_domain
from server_stub.jobs import erp, matching, rules
from server_stub.jobs import stock as stock_domain
from server_stub.jobs import requests as queue
from server_stub.jobs.csvio import KINDS, ImportRefused, export_csv, import_csv


def _status(text: str) -> str:
    value = text.replace("-", "_")
    if value not in rules.STATUSES:
        raise argparse.ArgumentTypeError(f"{text!r}: one of {', '.join(s.replace('_', '-') for s in rules.STATUSES)}")
    return value


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    commands = Commands(sub, common)
    group, command = commands.group, commands.command

    imp = sub.add_parser("import", parents=[common], help="import a CSV file from another system")
    imp.add_argument("kind", choices=list(KINDS))
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="check every row, store nothing")
    imp.add_argument("--skip-bad", action="store_true", help="store the good rows of a file with bad ones")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=cmd_import)
    exp = sub.add_parser("export", parents=[common], help="export a kind as CSV (the import format)")
    exp.add_argument("kind", choices=list(KINDS))
    exp.add_argument("--csv", action="store_true", required=True)
    exp.add_argument("--output", type=Path, help="file to write (default: standard output)")
    exp.set_defaults(handler=cmd_export)

    jobs = group("jobs", "consumable jobs")
    lst = command(jobs, "list", cmd_jobs_list, "jobs", listing=True)
    lst.add_argument("--client")
    lst.add_argument("--status", type=_status)
    show = command(jobs, "show", cmd_jobs_show, "a job: lines, stock, levels, comments", listing=True)
    show.add_argument("job", type=int)
    st = command(jobs, "set-status", cmd_jobs_set_status, "booked, in-progress, ready-to-invoice, invoiced")
    st.add_argument("job", type=int)
    st.add_argument("status", type=_status)
    command(jobs, "sync", cmd_jobs_sync, "place Outstanding requests on jobs now", listing=True)

    reqs = group("requests", "the consumable request queue")
    rl = command(reqs, "list", cmd_requests_list, "requests", listing=True)
    rl.add_argument("--status", choices=queue.STATUSES)
    ra = command(reqs, "add", cmd_requests_add, "request a consumable by hand", listing=True)
    ra.add_argument("--serial", required=True, help="serial, custom serial or a unique suffix of 6+ characters")
    ra.add_argument("--supply", required=True, help="DEVICE.INDEX as readings number supplies, e.g. 1.2")
    ra.add_argument("--by", help="who asks (kept with the request)")

    cons = group("contracts", "contracts per asset")
    cl = command(cons, "list", cmd_contracts_list, "contracts", listing=True)
    cl.add_argument("--status", choices=("active", "finished"))
    cs = command(cons, "show", cmd_contracts_show, "one contract", listing=True)
    cs.add_argument("number")
    cset = command(cons, "set", cmd_contracts_set, "set one setting (no VALUE clears it)")
    cset.add_argument("number")
    cset.add_argument("key", choices=sorted(contract_domain.SETTABLE))
    cset.add_argument("value", nargs="?")

    stock = group("stock", "stock items and related stock")
    command(stock, "list", cmd_stock_list, "stock items with what they are related to", listing=True)
    relate = command(stock, "relate", cmd_stock_relate, "relate a stock item to a model or one asset")
    relate.add_argument("part_code")
    owner = relate.add_mutually_exclusive_group(required=True)
    owner.add_argument("--model")
    owner.add_argument("--asset", type=int)

    assets = _subparsers(sub.choices["assets"])  # the fleet CLI's `assets` group gains manual matching
    ln = command(assets, "link", cmd_link, "match a serial from the dealer's system to an asset, by hand")
    ln.add_argument("serial")
    ln.add_argument("asset", type=int)
    un = command(assets, "unlink", cmd_unlink, "this serial matches no asset automatically any more")
    un.add_argument("serial")

    conflicts = group("matching", "serial matching")
    command(conflicts, "conflicts", cmd_conflicts, "serials several assets answer; assets with two contracts",
            listing=True)

    tokens = sub.add_parser("erp", help="the ERP API").add_subparsers(dest="what", metavar="WHAT", required=True)
    token = tokens.add_parser("token", help="API tokens").add_subparsers(dest="action", metavar="ACTION", required=True)
    ta = command(token, "add", cmd_token_add, "a new token (shown once)")
    ta.add_argument("name")
    command(token, "list", cmd_token_list, "tokens", listing=True)
    tr = command(token, "revoke", cmd_token_revoke, "revoke a token")
    tr.add_argument("name")


def _dump(document) -> None:
    print(json.dumps(document, indent=2))


def cmd_import(args) -> int:
    _, engine = ready_engine(args)
    try:
        with args.file.open(newline="", encoding="utf-8-sig") as stream, engine.begin() as conn:
            result = import_csv(conn, args.kind, stream, dry_run=args.dry_run, skip_bad=args.skip_bad)
    except OSError as exc:
        raise CliError(f"import: {args.file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CliError(f"import: {args.file}: not UTF-8 text") from None
    except ImportRefused as exc:
        raise CliError(f"import: {args.file}: {exc}") from None
    if args.json:
        _dump(result.to_json() | {"dry_run": args.dry_run})
    else:
        for line in result.errors:
            print(f"{args.file}: {printable(line)}", file=sys.stderr)
        for line in result.notes:
            print(printable(line))
        verb = "would store" if args.dry_run else "stored"
        print(f"{args.kind}: {result.rows} row(s), {verb} {result.stored}, {len(result.errors)} bad")
        if result.errors and not args.skip_bad and not args.dry_run:
            print("nothing stored: fix the rows above, or store the good ones with --skip-bad", file=sys.stderr)
    return 1 if result.errors and not args.skip_bad else 0


def cmd_export(args) -> int:
    _, engine = ready_engine(args)
    with engine.connect() as conn:
        if args.output:
            with args.output.open("w", newline="", encoding="utf-8") as stream:
                count = export_csv(conn, args.kind, stream)
            print(f"{count} {args.kind} row(s) written to {args.output}", file=sys.stderr)
        else:
            export_csv(conn, args.kind, sys.stdout)
    return 0


def _print_or_dump(args, rows: list[dict], key: str, header: tuple[str, ...], cells) -> int:
    if args.json:
        _dump({key: rows})
    elif not rows:
        print(f"no {key}")
    else:
        print_table([header] + [tuple("-" if c is None else str(c) for c in cells(r)) for r in rows])
    return 0


def cmd_jobs_list(args) -> int:
    _, engine = ready_engine(args)
    with engine.connect() as conn:
        rows = rules.list_jobs(conn, args.client, args.status)
    return _print_or_dump(args, rows, "jobs", ("JOB", "STATUS", "CLIENT", "ASSET", "SERIAL", "MODEL", "LINES", "CREATED"),
                          lambda r: (r["job"], r["status"].replace("_", "-"), r["client"], r["asset_id"], r["serial"],
                                     r["model"], r["lines"], r["created_at"]))


def cmd_jobs_show(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.connect() as conn:
            job = rules.show_job(conn, args.job)
    except rules.JobError as exc:
        raise CliError(f"jobs show: {exc}") from None
    if args.json:
        _dump(job)
        return 0
    print(printable(f"job {job['job']} ({job['status'].replace('_', '-')}) client {job['client']}, asset "
                    f"{job['asset_id']} {job['model'] or ''} serial {job['serial'] or '-'}"))
    dash = lambda v: "-" if v is None else str(v)  # noqa: E731
    print_table([("SUPPLY", "COLOUR", "STOCK", "FROM", "YIELD", "LEVEL %", "DAYS LEFT", "PAGES LEFT", "LAST JOB")] +
                [(l["supply"], dash(l["colour"]), dash(l["part_code"]), dash(l["stock_source"]), dash(l["yield_pages"]),
                  dash(l["level_percent"]), dash(l["days_left"]), dash(l["pages_left"]), dash(l["last_job"]))
                 for l in job["lines"]])
    for comment in job["comments"]:
        print(printable(f"  {comment['at']}  {comment['text']}"))
    return 0


def cmd_jobs_set_status(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            rules.set_status(conn, args.job, args.status)
    except rules.JobError as exc:
        raise CliError(f"jobs set-status: {exc}") from None
    print(f"job {args.job}: {args.status.replace('_', '-')}")
    return 0


def cmd_jobs_sync(args) -> int:
    _, engine = ready_engine(args)
    with engine.begin() as conn:
        result = queue.sync(conn)
    if args.json:
        _dump({"actioned": result.actioned, "jobs_created": result.jobs_created, "conflicts": result.conflicts})
        return 0
    print(f"{result.actioned} request(s) actioned, {result.jobs_created} new job(s)")
    for conflict in result.conflicts:
        print(printable(f"conflict: {conflict}"), file=sys.stderr)
    return 0


def cmd_requests_list(args) -> int:
    _, engine = ready_engine(args)
    with engine.connect() as conn:
        rows = queue.list_requests(conn, args.status)
    return _print_or_dump(args, rows, "requests", ("ID", "STATUS", "CLIENT", "SERIAL", "SUPPLY", "SOURCE", "JOB", "COMMENT"),
                          lambda r: (r["id"], r["status"], r["client"], r["serial"], r["supply"], r["source"], r["job"],
                                     r["comment"]))


def cmd_requests_add(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            request_id = queue.add_request_by_serial(conn, args.serial, args.supply, "dealer", requested_by=args.by)
    except queue.RequestError as exc:
        raise CliError(f"requests add: {exc}") from None
    if args.json:
        _dump({"id": request_id})
    else:
        print(f"request {request_id} outstanding; the next sync (or: fleetmeter-server jobs sync) places it on a job")
    return 0


def cmd_contracts_list(args) -> int:
    _, engine = ready_engine(args)
    with engine.connect() as conn:
        rows = [contract_domain.contract_json(r) for r in contract_domain.list_contracts(conn, args.status)]
    return _print_or_dump(args, rows, "contracts", ("NUMBER", "SERIAL", "ASSET", "STATUS", "MONITOR", "THRESHOLD %"),
                          lambda r: (r["number"], r["serial"], r["asset_id"], r["status"],
                                     "on" if r["monitor"] else "off", r["threshold_override_percent"]))


def cmd_contracts_show(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.connect() as conn:
            row = contract_domain.contract_json(contract_domain.get_contract(conn, args.number))
    except contract_domain.ContractError as exc:
        raise CliError(f"contracts show: {exc}") from None
    if args.json:
        _dump(row)
    else:
        for key, value in row.items():
            print(printable(f"{key}: {value}"))
    return 0


def cmd_contracts_set(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            contract_domain.set_contract(conn, args.number, args.key, args.value)
    except contract_domain.ContractError as exc:
        raise CliError(f"contracts set: {exc}") from None
    print(printable(f"contract {args.number}: {args.key} = {args.value if args.value is not None else '(cleared)'}"))
    return 0


def cmd_stock_list(args) -> int:
    _, engine = ready_engine(args)
    with engine.connect() as conn:
        rows = stock_domain.list_stock(conn)
    return _print_or_dump(args, rows, "stock", ("PART", "DESCRIPTION", "COLOUR", "CLASS", "YIELD", "RELATED"),
                          lambda r: (r["part_code"], r["description"], r["colour"], r["class"], r["yield_pages"],
                                     "; ".join(r["related"])))


def cmd_stock_relate(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            added = stock_domain.relate_stock(conn, args.part_code, model=args.model, asset_id=args.asset)
    except stock_domain.StockError as exc:
        raise CliError(f"stock relate: {exc}") from None
    owner = f"asset {args.asset}" if args.asset is not None else f"model {args.model}"
    print(printable(f"{args.part_code} {'related to' if added else 'was already related to'} {owner}"))
    return 0


def cmd_link(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            moved = matching.link(conn, args.serial, args.asset)
    except ValueError as exc:
        raise CliError(f"assets link: {exc}") from None
    print(printable(f"serial {matching.normalise(args.serial)} -> asset {args.asset} ({moved} contract(s) follow)"))
    return 0


def cmd_unlink(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            moved = matching.link(conn, args.serial, None)
    except ValueError as exc:
        raise CliError(f"assets unlink: {exc}") from None
    print(printable(f"serial {matching.normalise(args.serial)} unlinked ({moved} contract(s) now unmatched)"))
    return 0


def cmd_conflicts(args) -> int:
    _, engine = ready_engine(args)
    with engine.connect() as conn:
        rows = [c.to_json() for c in matching.conflicts(conn)]
    return _print_or_dump(args, rows, "conflicts", ("KIND", "SERIAL", "CANDIDATES", "DETAIL"),
                          lambda r: (r["kind"], r["serial"], ", ".join(r["candidates"]), r["detail"]))


def cmd_token_add(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            token = erp.add_token(conn, args.name)
    except erp.TokenError as exc:
        raise CliError(f"erp token add: {exc}") from None
    print(f"ERP token {args.name} (shown only now; send it as 'Authorization: Bearer TOKEN'):\n  {token}")
    return 0


def cmd_token_list(args) -> int:
    _, engine = ready_engine(args)
    with engine.connect() as conn:
        rows = erp.list_tokens(conn)
    return _print_or_dump(args, rows, "tokens", ("NAME", "CREATED", "LAST USED"),
                          lambda r: (r["name"], r["created_at"], r["last_used_at"]))


def cmd_token_revoke(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            erp.revoke_token(conn, args.name)
    except erp.TokenError as exc:
        raise CliError(f"erp token revoke: {exc}") from None
    print(f"ERP token {args.name} revoked")
    return 0
