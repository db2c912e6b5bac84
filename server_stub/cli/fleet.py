"""The dealer's fleet on the command line (thin: parse, call the domain, print):

    fleetmeter-server clients add NAME [--prefix P] [--tax-id T] [--language L] [--currency C] [--address A]
    fleetmeter-server clients list|show [NAME] [--json]
    fleetmeter-server sites add CLIENT NAME [--address A] [--coordinator NAME] [--inactive] | sites list [--client C]
    fleetmeter-server coordinators add CLIENT NAME [--email E] [--phone P] [--main] | coordinators list [--client C]
    fleetmeter-server assets list [--client C] [--all] | show ID | set ID KEY [VALUE] | set ID --site S
    fleetmeter-server assets merge KEEP OTHER | split ID IDENTITY
    fleetmeter-server devices list [--client C] [--site S] [--json] | export --csv [--client C] [--site S]
    fleetmeter-server devices to-complete [--client C] [--json] | activate ID... | delete ID...
    fleetmeter-server readings import FILE.jsonl --agent NAME [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from server_stub.cli.common import CliError, Commands, age, print_table, printable, ready_connection, ready_engine
from server_stub.cli.lazy import lazy
from server_stub.fleet import device_listing

asset_registry = lazy("server_stub.assets.registry")
fleet = lazy("server_stub.fleet.clients")
devices = lazy("server_stub.fleet.devices")
history = lazy("server_stub.ingest.history")

ACTOR = "cli"


def _text(limit: int):
    def parse(value: str) -> str:
        if not value.strip() or len(value) > limit or "\x00" in value:
            raise argparse.ArgumentTypeError(f"{value!r}: 1-{limit} characters expected")
        return value.strip()
    return parse


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    commands = Commands(sub, common)
    group, command = commands.group, commands.command

    name, short, address = _text(200), _text(64), _text(2000)
    clients = group("clients", "the dealer's customers")
    add = command(clients, "add", cmd_clients_add, "add a client", listing=True)
    add.add_argument("name", type=name)
    add.add_argument("--prefix", type=_text(32))
    add.add_argument("--tax-id", type=short)
    add.add_argument("--language", type=_text(16))
    add.add_argument("--currency", type=_text(3))
    add.add_argument("--address", type=address)
    command(clients, "list", cmd_clients_list, "clients", listing=True)
    show = command(clients, "show", cmd_clients_show, "a client with sites, coordinators, agents, assets", listing=True)
    show.add_argument("name")

    sites = group("sites", "a client's sites (where printers stand)")
    add = command(sites, "add", cmd_sites_add, "add a site", listing=True)
    add.add_argument("client")
    add.add_argument("name", type=name)
    add.add_argument("--address", type=address)
    add.add_argument("--coordinator", help="one of the client's coordinators")
    add.add_argument("--inactive", action="store_true")
    lst = command(sites, "list", cmd_sites_list, "sites", listing=True)
    lst.add_argument("--client")

    coordinators = group("coordinators", "a client's contacts (one main coordinator per client)")
    add = command(coordinators, "add", cmd_coordinators_add, "add a coordinator", listing=True)
    add.add_argument("client")
    add.add_argument("name", type=name)
    add.add_argument("--email", type=_text(320))
    add.add_argument("--phone", type=short)
    add.add_argument("--main", action="store_true", help="the client's main coordinator (replaces the previous one)")
    lst = command(coordinators, "list", cmd_coordinators_list, "coordinators", listing=True)
    lst.add_argument("--client")

    assets = group("assets", "the dealer's printers: custom fields, merge, split")
    lst = command(assets, "list", cmd_assets_list, "assets with state and custom fields", listing=True)
    lst.add_argument("--client")
    lst.add_argument("--all", action="store_true", help="also deleted and merged assets")
    show = command(assets, "show", cmd_assets_show, "one asset: identities, fields, latest state, audit", listing=True)
    show.add_argument("id", type=int)
    put = command(assets, "set", cmd_assets_set, "set a custom field (no VALUE: remove it) or the site")
    put.add_argument("id", type=int)
    put.add_argument("key", nargs="?", help="e.g. floor, department, inventory, contract_end")
    put.add_argument("value", nargs="?")
    put.add_argument("--site", help="move the asset to this site of its client ('' for none)")
    merge = command(assets, "merge", cmd_assets_merge, "OTHER is the same printer as KEEP: fold it in")
    merge.add_argument("keep", type=int)
    merge.add_argument("other", type=int)
    split = command(assets, "split", cmd_assets_split, "IDENTITY of asset ID is another printer: make it one")
    split.add_argument("id", type=int)
    split.add_argument("identity", help="one of the identities `assets show ID` lists")

    devices = group("devices", "devices and their latest state")
    lst = command(devices, "list", cmd_devices_list, "active assets and devices to complete, latest state",
                  listing=True)
    lst.add_argument("--client")
    lst.add_argument("--site")
    export = command(devices, "export", cmd_devices_export, "the device listing as CSV on stdout")
    export.add_argument("--csv", action="store_true", required=True)
    export.add_argument("--client")
    export.add_argument("--site")
    todo = command(devices, "to-complete", cmd_devices_to_complete, "printers found, not yet activated or deleted",
                   listing=True)
    todo.add_argument("--client")
    for verb, handler, help in (("activate", cmd_devices_activate, "make devices to complete active assets"),
                                ("delete", cmd_devices_delete, "refuse devices (not billed, not listed)")):
        parser = command(devices, verb, handler, help)
        parser.add_argument("ids", type=int, nargs="+", metavar="ID")

    readings = group("readings", "raw readings")
    imp = command(readings, "import", cmd_readings_import, "import fleetmeter.device/1 documents, one per line",
                  listing=True)
    imp.add_argument("file", type=Path)
    imp.add_argument("--agent", required=True, help="the agent (of the client) the readings are stored for")


def _run(args, function, *params, write: bool = True):
    _, engine = ready_engine(args)
    try:
        with (engine.begin() if write else engine.connect()) as conn:
            return function(conn, *params)
    except (fleet.FleetError, asset_registry.AssetError) as exc:
        raise CliError(str(exc)) from None


def _dump(document) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))


def cmd_clients_add(args) -> int:
    client = _run(args, lambda c: fleet.add_client(c, args.name, prefix=args.prefix, tax_id=args.tax_id,
                                                   language=args.language, currency=args.currency,
                                                   address=args.address))
    if args.json:
        _dump(client.to_json())
    else:
        print(f"client added: {printable(client.name)} (id {client.id})")
    return 0


def cmd_clients_list(args) -> int:
    rows = _run(args, fleet.list_clients, write=False)
    if args.json:
        _dump({"clients": [c.to_json() for c in rows]})
        return 0
    print_table([("CLIENT", "PREFIX", "TAX ID", "LANGUAGE", "CURRENCY", "ADDRESS")] +
                [(c.name, c.prefix or "-", c.tax_id or "-", c.language or "-", c.currency or "-",
                  (c.address or "-").replace("\n", ", ")) for c in rows])
    return 0


def cmd_clients_show(args) -> int:
    summary = _run(args, fleet.client_summary, args.name, write=False)
    if args.json:
        _dump(summary)
        return 0
    for key in ("name", "prefix", "tax_id", "language", "currency", "address"):
        print(f"{key + ':':10} {printable(str(summary[key]) if summary[key] is not None else '-')}")
    print(f"{'sites:':10} {printable(', '.join(s['name'] for s in summary['sites']) or '-')}")
    print(f"{'contacts:':10} {printable(', '.join(c['name'] + (' (main)' if c['is_main'] else '') for c in summary['coordinators']) or '-')}")
    print(f"{'agents:':10} {printable(', '.join(summary['agents']) or '-')}")
    print(f"{'assets:':10} {', '.join(f'{n} {s}' for s, n in sorted(summary['assets'].items())) or '-'}")
    return 0


def cmd_sites_add(args) -> int:
    site = _run(args, lambda c: fleet.add_site(c, args.client, args.name, address=args.address,
                                               coordinator=args.coordinator, active=not args.inactive))
    if args.json:
        _dump(site.to_json())
    else:
        print(f"site added: {printable(site.name)} (client {printable(site.client)})")
    return 0


def cmd_sites_list(args) -> int:
    rows = _run(args, fleet.list_sites, args.client, write=False)
    if args.json:
        _dump({"sites": [s.to_json() for s in rows]})
        return 0
    print_table([("CLIENT", "SITE", "ADDRESS", "COORDINATOR", "ACTIVE")] +
                [(s.client, s.name, (s.address or "-").replace("\n", ", "), s.coordinator or "-",
                  "yes" if s.active else "no") for s in rows])
    return 0


def cmd_coordinators_add(args) -> int:
    person = _run(args, lambda c: fleet.add_coordinator(c, args.client, args.name, email=args.email,
                                                        phone=args.phone, main=args.main))
    if args.json:
        _dump(person.to_json())
    else:
        print(f"coordinator added: {printable(person.name)}{' (main)' if person.is_main else ''}")
    return 0


def cmd_coordinators_list(args) -> int:
    rows = _run(args, fleet.list_coordinators, args.client, write=False)
    if args.json:
        _dump({"coordinators": [c.to_json() for c in rows]})
        return 0
    print_table([("CLIENT", "COORDINATOR", "MAIN", "E-MAIL", "PHONE")] +
                [(c.client, c.name, "yes" if c.is_main else "", c.email or "-", c.phone or "-") for c in rows])
    return 0


def cmd_assets_list(args) -> int:
    states = ("active", "to_complete", "deleted", "merged") if args.all else devices.LISTED_STATES
    rows = _run(args, lambda c: devices.list_devices(c, client=args.client, states=states, with_fields=True), write=False)
    if args.json:
        _dump({"assets": [r.to_json() for r in rows]})
        return 0
    print_table([("ASSET", "CLIENT", "SITE", "STATE", "MODEL", "SERIAL", "FIELDS")] +
                [(str(r.asset_id), r.client, r.site or "-", r.state,
                  f"{r.manufacturer or ''} {r.model or ''}".strip() or "-", r.serial or "-",
                  " ".join(f"{k}={v}" for k, v in (r.fields or {}).items()) or "-") for r in rows])
    return 0


def cmd_assets_show(args) -> int:
    shown = _run(args, asset_registry.show, args.id, write=False)
    if args.json:
        _dump(shown)
        return 0
    for key in ("id", "client", "site", "state", "manufacturer", "model", "serial", "mac", "address",
                "first_seen_at", "last_seen_at"):
        print(f"{key + ':':15} {printable(str(shown[key]) if shown[key] is not None else '-')}")
    print(f"{'identities:':15} {printable(', '.join(shown['identities']) or '-')}")
    for key, value in shown["fields"].items():
        print(f"{'field ' + printable(key) + ':':15} {printable(value)}")
    for line in shown["audit"]:
        print(f"audit {line['at']}: {printable(line['detail'])}")
    return 0


def cmd_assets_set(args) -> int:
    if args.site is not None:
        _run(args, asset_registry.set_site, args.id, args.site or None, ACTOR)
        print(f"asset {args.id}: site {printable(args.site) or 'removed'}")
        return 0
    if not args.key:
        raise CliError("assets set: give KEY [VALUE] or --site SITE", 2)
    _run(args, asset_registry.set_field, args.id, args.key, args.value, ACTOR)
    print(f"asset {args.id}: {printable(args.key)} " + ("removed" if args.value is None else f"= {printable(args.value)}"))
    return 0


def cmd_assets_merge(args) -> int:
    _run(args, asset_registry.merge, args.keep, args.other, ACTOR)
    print(f"asset {args.other} merged into {args.keep}")
    return 0


def cmd_assets_split(args) -> int:
    new_id = _run(args, asset_registry.split, args.id, args.identity, ACTOR)
    print(f"identity {printable(args.identity)} split from asset {args.id} into new asset {new_id}")
    return 0


def _supplies(supplies: list[dict]) -> str:
    return " ".join(f"{s.get('color') or s.get('type')}:{'?' if s.get('percent') is None else round(s['percent'])}%"
                    for s in supplies[:6]) or "-"


def cmd_devices_list(args) -> int:
    if args.json:  # streamed as the database sends it, through the plain driver: no SQLAlchemy at start-up
        with ready_connection(args) as (connection, dialect):
            sys.stdout.writelines(device_listing.devices_json_chunks(connection, dialect, args.client, args.site))
        print()
        return 0
    rows = _run(args, lambda c: devices.list_devices(c, client=args.client, site=args.site), write=False)
    print_table([("ASSET", "CLIENT", "SITE", "STATE", "MODEL", "SERIAL", "ADDRESS", "LATEST (UTC)", "TOTAL",
                  "SUPPLIES")] +
                [(str(r.asset_id), r.client, r.site or "-", r.state,
                  f"{r.manufacturer or ''} {r.model or ''}".strip() or "-", r.serial or "-", r.address or "-",
                  age(r.collected_at), str(r.counters.get("total", "-")), _supplies(r.supplies)) for r in rows])
    return 0


def cmd_devices_export(args) -> int:
    rows = _run(args, lambda c: devices.list_devices(c, client=args.client, site=args.site), write=False)
    devices.write_devices_csv(sys.stdout, rows)
    return 0


def cmd_devices_to_complete(args) -> int:
    rows = _run(args, asset_registry.to_complete, args.client, write=False)
    if args.json:
        _dump({"devices": [r.to_json() for r in rows]})
        return 0
    print_table([("ASSET", "CLIENT", "SITE", "MODEL", "SERIAL", "MAC", "ADDRESS", "AGENT", "FIRST SEEN", "LAST SEEN")] +
                [(str(r.asset_id), r.client, r.site or "-", f"{r.manufacturer or ''} {r.model or ''}".strip() or "-",
                  r.serial or "-", r.mac or "-", r.address or "-", r.agent or "-", age(r.first_seen_at),
                  age(r.last_seen_at)) for r in rows])
    return 0


def _each(args, function, verb: str) -> int:
    def run(conn):
        for asset_id in args.ids:
            function(conn, asset_id, ACTOR)
    _run(args, run)
    print(f"{verb}: {', '.join(map(str, args.ids))}")
    return 0


def cmd_devices_activate(args) -> int:
    return _each(args, asset_registry.activate, "activated")


def cmd_devices_delete(args) -> int:
    return _each(args, asset_registry.delete_asset, "deleted")


def cmd_readings_import(args) -> int:
    _, engine = ready_engine(args)
    try:
        size = args.file.stat().st_size
        stream = args.file.open("rb")
    except OSError as exc:
        raise CliError(f"readings import: cannot read {args.file}: {exc.strerror}") from None
    progress = None
    if sys.stderr.isatty() and not os.environ.get("NO_PROGRESS"):
        def progress(done: int) -> None:
            filled = int(30 * done / size) if size else 30
            print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done * 100 // max(size, 1):3d}%", end="",
                  file=sys.stderr, flush=True)
    try:
        with stream:
            result = history.import_readings(engine, args.agent, stream, progress)
    except history.UnknownAgent:
        raise CliError(f"no agent named {args.agent!r}; create it: fleetmeter-server agents add NAME --client C") \
            from None
    if progress:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print(f"{result.received} received, {result.stored} stored, {result.duplicates} already there, "
              f"{len(result.rejected)} rejected")
        for bad in result.rejected:
            print(f"line {bad['line']}: {printable(bad['error'])}", file=sys.stderr)
    return 1 if result.rejected else 0
