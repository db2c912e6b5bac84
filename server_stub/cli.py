"""`fleetmeter-server`: the receiving server's command line.

    fleetmeter-server init [--tls-host NAME ...]
    fleetmeter-server serve [--host H] [--port P] [--tls-cert PEM --tls-key PEM]
    fleetmeter-server agents add NAME --client CLIENT [--expires 7d] [--json]
    fleetmeter-server agents list [--json]
    fleetmeter-server agents revoke NAME
    fleetmeter-server devices list [--json]
    fleetmeter-server config set|unset|show ...   (server_stub/service_cli.py)
    fleetmeter-server alerts list [--all] [--json]
    fleetmeter-server supply backtest HISTORY.jsonl --out DIR [--policy FILE] [--lead-days N]

Every command takes --db URL (or FLEETMETER_DB); default: a SQLite file under FLEETMETER_HOME/server or
the platform's data directory. Exit codes: 0 ok, 1 failure, 2 usage error or database unreachable.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import socket
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from agent import __version__
from server_stub import agents as registry
from server_stub import migrate, service_cli
from server_stub.heartbeat import agent_states
from server_stub.ca import CA_CERT, CertificateAuthority
from server_stub.db import make_engine
from server_stub.devices import list_devices
from server_stub.paths import ServerPaths, database_url, server_paths
from server_stub.supply import backtest as supply_backtest


class CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)\s*([smhd])", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 30m, 12h or 7d")
    value, unit = int(match[1]), match[2]
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: value})


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", help="database URL (postgresql://... or sqlite:///file); "
                                                     "default FLEETMETER_DB, else SQLite in the data directory")
    parser = argparse.ArgumentParser(prog="fleetmeter-server", description="Fleetmeter receiving server")
    parser.add_argument("--version", action="version", version=f"fleetmeter-server {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    init = sub.add_parser("init", parents=[common], help="create the CA and the database (idempotent)")
    init.add_argument("--tls-host", action="append", default=[], metavar="NAME",
                      help="also issue a TLS server certificate for this host name or IP (repeatable)")
    init.set_defaults(handler=cmd_init)

    serve = sub.add_parser("serve", parents=[common], help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8443)
    serve.add_argument("--tls-cert", metavar="PEM", help="TLS certificate chain (without: plain HTTP, for use "
                                                         "behind a TLS-terminating proxy)")
    serve.add_argument("--tls-key", metavar="PEM", help="TLS private key")
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                       help="proxies whose X-Forwarded-For is trusted for the agent's address")
    serve.add_argument("--max-body", type=int, default=4 * 1024 * 1024, metavar="BYTES")
    serve.add_argument("--max-readings", type=int, default=500, metavar="N", help="readings per batch")
    serve.add_argument("--rate-limit", type=int, default=120, metavar="N",
                       help="uploads per agent per minute (0: unlimited)")
    serve.add_argument("--signature-window", type=duration, default=timedelta(minutes=5), metavar="DURATION")
    serve.add_argument("--cert-days", type=int, default=365, help="validity of issued agent certificates")
    serve.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"),
                       help="uvicorn log level ('warning' drops the per-request access log)")
    serve.set_defaults(handler=cmd_serve)

    agents = sub.add_parser("agents", help="enrolment keys, listing, revocation")
    agents_sub = agents.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = agents_sub.add_parser("add", parents=[common], help="create an agent (or a new key for one) and "
                                                              "print its one-time key")
    add.add_argument("name")
    add.add_argument("--client", required=True, help="the dealer's customer this agent belongs to")
    add.add_argument("--expires", type=duration, default=timedelta(days=7), metavar="DURATION",
                     help="how long the key can be used to enrol (default 7d)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=cmd_agents_add)
    lst = agents_sub.add_parser("list", parents=[common], help="agents with state, last seen, version, address")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_agents_list)
    revoke = agents_sub.add_parser("revoke", parents=[common], help="revoke the agent's certificate at once")
    revoke.add_argument("name")
    revoke.set_defaults(handler=cmd_agents_revoke)

    devices = sub.add_parser("devices", help="devices and their latest readings")
    devices_sub = devices.add_subparsers(dest="action", metavar="ACTION", required=True)
    dlist = devices_sub.add_parser("list", parents=[common], help="each device's latest reading")
    dlist.add_argument("--json", action="store_true")
    dlist.set_defaults(handler=cmd_devices_list)
    service_cli.register(sub, common)
    supply_backtest.register(sub)  # fleetmeter-server supply backtest ...
    return parser


def _engine(args, paths: ServerPaths) -> Engine:
    return make_engine(database_url(args.db, paths))


def _ready_engine(args) -> tuple[ServerPaths, Engine]:
    paths = server_paths()
    engine = _engine(args, paths)
    sqlite_file = engine.url.database if engine.dialect.name == "sqlite" else None
    if (sqlite_file and not Path(sqlite_file).exists()) or not migrate.is_current(engine):
        raise CliError(f"database {_safe_url(engine)} is not initialised or not up to date; "
                       "run: fleetmeter-server init")
    return paths, engine


def _safe_url(engine: Engine) -> str:
    return make_url(engine.url).render_as_string(hide_password=True)


def cmd_init(args) -> int:
    paths = server_paths().ensure()
    if (paths.ca_dir / CA_CERT).exists():
        ca, made = CertificateAuthority.load(paths.ca_dir), "kept"
    else:
        ca, made = CertificateAuthority.create(paths.ca_dir, f"Fleetmeter agent CA {socket.gethostname()}"), \
            "created"
    engine = _engine(args, paths)
    paths.data.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(engine)
    print(f"CA {made}: {paths.ca_dir / CA_CERT} (sha256 {ca.fingerprint})")
    print(f"database ready: {_safe_url(engine)}")
    if args.tls_host:
        cert, key = ca.create_tls(paths.ca_dir, args.tls_host)
        print(f"TLS certificate for {', '.join(args.tls_host)}: --tls-cert {cert} --tls-key {key}")
        print(f"agents trust it with: fleetmeter-agent enroll --ca-file {paths.ca_dir / CA_CERT} ...")
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from server_stub.app import Limits, create_app

    paths, engine = _ready_engine(args)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise CliError("--tls-cert and --tls-key go together", 2)
    if not (paths.ca_dir / CA_CERT).exists():
        raise CliError(f"no CA in {paths.ca_dir}; run: fleetmeter-server init")
    limits = Limits(max_body=args.max_body, max_readings=args.max_readings, rate_per_minute=args.rate_limit,
                    signature_window=args.signature_window, cert_days=args.cert_days)
    app = create_app(engine, CertificateAuthority.load(paths.ca_dir), limits)
    if not args.tls_cert and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"fleetmeter-server: serving plain HTTP on {args.host}; agents refuse it unless a TLS-terminating "
              "proxy is in front (or they enrol with --allow-http)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key,
                proxy_headers=True, forwarded_allow_ips=args.forwarded_allow_ips, log_level=args.log_level)
    return 0


def cmd_agents_add(args) -> int:
    _, engine = _ready_engine(args)
    new = registry.add_agent(engine, args.name, args.client, args.expires)
    expires = new.expires_at.isoformat().replace("+00:00", "Z")
    if args.json:
        print(json.dumps({"name": new.name, "key": new.key, "expires_at": expires}))
        return 0
    what = "new key for existing agent" if new.existing else "agent created"
    print(f"{what}: {new.name} (client {new.client})")
    if new.live_certificate:
        print(f"note: {new.name} is still enrolled on another machine; this key enrols only after "
              f"fleetmeter-server agents revoke {new.name}")
    print(f"one-time agent key (shown only now, expires {expires}):\n  {new.key}")
    print("on the agent machine: fleetmeter-agent enroll --server https://SERVER --key KEY")
    return 0


def _age(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def cmd_agents_list(args) -> int:
    _, engine = _ready_engine(args)
    rows = registry.list_agents(engine)
    states = agent_states(engine)  # connection state (new/connected/ambiguous/disconnected) and parts
    if args.json:
        print(json.dumps({"agents": [row.to_json() | {"connection": states[row.name][0], "parts": [
            dataclasses.asdict(p) | {"last_run_at": p.last_run_at and p.last_run_at.isoformat()}
            for p in states[row.name][1]]} for row in rows]}, indent=2))
        return 0
    header = ("CLIENT", "AGENT", "STATE", "CONNECTION", "LAST SEEN (UTC)", "VERSION", "HOST", "ADDRESS", "QUEUE",
              "CERTIFICATE")
    table = [header] + [(r.client, r.name, r.state, states[r.name][0], _age(r.last_seen_at), r.version or "-", r.hostname or "-",
                         r.remote_ip or "-", "-" if r.queue_depth is None else str(r.queue_depth),
                         (r.fingerprint or "-")[:16]) for r in rows]
    _print_table(table)
    return 0


def cmd_agents_revoke(args) -> int:
    _, engine = _ready_engine(args)
    try:
        count = registry.revoke_agent(engine, args.name)
    except registry.AgentNotFound:
        raise CliError(f"no agent named {args.name!r}; see: fleetmeter-server agents list") from None
    print(f"agent {args.name}: {count} certificate(s) revoked; its next upload is refused. "
          f"To re-enrol: fleetmeter-server agents add {args.name} --client ... and enrol with the new key")
    return 0


def cmd_devices_list(args) -> int:
    _, engine = _ready_engine(args)
    rows = list_devices(engine)
    if args.json:
        print(json.dumps({"devices": [row.to_json() for row in rows]}, indent=2, ensure_ascii=False))
        return 0
    table = [("CLIENT", "AGENT", "DEVICE", "MODEL", "LATEST (UTC)", "TOTAL", "SUPPLIES")]
    for row in rows:
        doc = row.to_json()
        supplies = " ".join(f"{s['color'] or s['type']}:{'?' if s['percent'] is None else round(s['percent'])}%"
                            for s in doc["supplies"][:6])
        table.append((row.client, row.agent, row.device_key, f"{doc['manufacturer'] or ''} {doc['model'] or ''}"
                      .strip() or "-", _age(row.collected_at), str(doc["counters"].get("total", "-")),
                      supplies or "-"))
    _print_table(table)
    return 0


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args)
    except CliError as exc:
        print(f"fleetmeter-server: {exc}", file=sys.stderr)
        return exc.code
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        print(f"fleetmeter-server: cannot use the database: {reason}; check --db / FLEETMETER_DB",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 1


if __name__ == "__main__":
    sys.exit(main())
