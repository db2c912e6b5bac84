"""`fleetmeter-server`: the receiving server's command line.

    fleetmeter-server init [--tls-host NAME ...]
    fleetmeter-server serve [--host H] [--port P] [--tls-cert PEM --tls-key PEM]
    fleetmeter-server agents add NAME --client CLIENT [--expires 7d] [--json]
    fleetmeter-server agents list [--json]
    fleetmeter-server agents revoke NAME
    fleetmeter-server agents add NAME --client CLIENT [--site SITE] ...
    fleetmeter-server clients|sites|coordinators|assets|devices|readings ...   (server_stub/cli/fleet.py)
    fleetmeter-server config set|unset|show ...   (server_stub/cli/service.py)
    fleetmeter-server worker [--once] | worker status [--json]   (server_stub/cli/worker.py)
    fleetmeter-server alerts list [--all] [--json]
    fleetmeter-server supply backtest HISTORY.jsonl --out DIR [--policy FILE] [--lead-days N]
    fleetmeter-server import|export|jobs|requests|contracts|matching|erp ...   (server_stub/cli/jobs.py)
    fleetmeter-server billing ... | invoices ...   (server_stub/cli/billing.py)
    fleetmeter-server portal users|reports|projects ...   (server_stub/cli/portal.py)
    fleetmeter-server users add|list|disable|enable ...    (server_stub/cli/users.py: console users)
    fleetmeter-server demo [--once] [--home DIR] [--port P]   (server_stub/demo/orchestrator.py)

Every command takes --db URL (or FLEETMETER_DB); default: a SQLite file under FLEETMETER_HOME/server or
the platform's data directory. Exit codes: 0 ok, 1 failure, 2 usage error or database unreachable.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import socket
import sys
from datetime import timedelta

from fleetmeter_contract.files import reader_may_leave
from server_stub.cli.common import (CliError, age, agent_name, bounded, duration, duration_between, engine_for, printable,
                                    print_table, ready_engine, safe_url)
from server_stub.cli.lazy import lazy
from server_stub.db.direct import unusable
from server_stub.ingest.limits import HARD_MAX_READINGS
from server_stub.paths import server_paths

# Loaded by the commands that use them (start-up of the listing commands: server_stub/cli/lazy.py).
migrate = lazy("server_stub.db.migrate")
fleet_clients = lazy("server_stub.fleet.clients")
ingest_history = lazy("server_stub.ingest.history")
agent_state = lazy("server_stub.fleet.state")
registry = lazy("server_stub.trust.enrolment")
trust_ca = lazy("server_stub.trust.ca")
trust_secrets = lazy("server_stub.trust.secrets")
remote_config = lazy("server_stub.fleet.remote_config")

# The modules that register each top-level command besides init, serve, agents and db, in registration order
# (jobs after fleet: it adds `assets link|unlink`). A command line naming one of these commands builds only
# its modules' parsers, so `devices list` never imports the billing, jobs, portal or supply domains; --help
# and unknown commands build them all. tests/test_cli_startup.py checks this table against the
# parser built from every module, so a command added to a module and not listed here only costs start-up.
CLI_MODULES = ("service", "worker", "backtest", "fleet", "jobs", "billing", "portal", "supply", "notify", "users",
               "demo")
COMMAND_MODULES = {
    "config": ("service",), "alerts": ("service",), "worker": ("worker",), "supply": ("backtest",),
    "clients": ("fleet",), "sites": ("fleet",), "coordinators": ("fleet",), "assets": ("fleet", "jobs"),
    "devices": ("fleet",), "readings": ("fleet",),
    **dict.fromkeys(("import", "export", "jobs", "requests", "contracts", "stock", "matching", "erp"),
                    ("fleet", "jobs")),  # the jobs module registers onto fleet's `assets`
    "billing": ("billing",), "invoices": ("billing",), "portal": ("portal",),
    "orders": ("supply",), "supplies": ("supply",), "policy": ("supply",),
    "notify": ("notify",), "users": ("users",), "demo": ("demo",),
}
BUILT_IN = ("init", "serve", "agents", "db")


def cli_modules(argv: list[str] | None) -> tuple[str, ...]:
    """The command-line modules whose parsers `argv` needs (server_stub.cli.NAME; demo: server_stub.demo)."""
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else None
    if command in BUILT_IN or command == "--version":
        return ()
    if command in COMMAND_MODULES:
        return tuple(name for name in CLI_MODULES if name in COMMAND_MODULES[command])
    return CLI_MODULES


class _Version(argparse.Action):
    """argparse's version action, reading the version (package metadata: ~20 ms) only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show program's version number and exit") -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from fleetmeter_contract.version import __version__

        print(f"fleetmeter-server {__version__}")
        parser.exit()


def build_parser(argv: list[str] | None = None, modules: tuple[str, ...] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv` (default sys.argv[1:]): the built-in commands and those of `modules` (default:
    cli_modules(argv))."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", help="database URL (postgresql://... or sqlite:///file); "
                                                     "default FLEETMETER_DB, else SQLite in the data directory")
    parser = argparse.ArgumentParser(prog="fleetmeter-server", description="Fleetmeter receiving server")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    init = sub.add_parser("init", parents=[common], help="create the CA and the database (idempotent)")
    init.add_argument("--tls-host", action="append", default=[], metavar="NAME",
                      help="also issue a TLS server certificate for this host name or IP (repeatable)")
    init.set_defaults(handler=cmd_init)

    serve = sub.add_parser("serve", parents=[common], help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=bounded(1, 65535), default=8443)
    serve.add_argument("--tls-cert", metavar="PEM", help="TLS certificate chain (without: plain HTTP, for use "
                                                         "behind a TLS-terminating proxy)")
    serve.add_argument("--tls-key", metavar="PEM", help="TLS private key")
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                       help="proxies whose X-Forwarded-For is trusted for the agent's address")
    serve.add_argument("--max-body", type=bounded(1024, 1 << 30), default=4 * 1024 * 1024, metavar="BYTES")
    serve.add_argument("--max-readings", type=bounded(1, HARD_MAX_READINGS), default=500, metavar="N", help="readings per batch")
    serve.add_argument("--rate-limit", type=bounded(0, 100_000), default=120, metavar="N",
                       help="uploads per agent per minute (0: unlimited)")
    serve.add_argument("--heartbeat-limit", type=bounded(0, 100_000), default=12, metavar="N",
                       help="heartbeats per agent per minute (0: unlimited)")
    serve.add_argument("--enrol-limit", type=bounded(0, 100_000), default=30, metavar="N",
                       help="enrolment attempts per remote address per minute (0: unlimited); 5 per key")
    serve.add_argument("--signature-window", type=duration_between(10, 3600), default=timedelta(minutes=5), metavar="DURATION")
    serve.add_argument("--cert-days", type=bounded(1, 3650), default=365, help="validity of issued agent certificates")
    serve.add_argument("--worker", action="store_true",
                       help="also run the periodic tasks here (always on with SQLite; with PostgreSQL run it in "
                            "one or more serve --worker or fleetmeter-server worker processes)")
    serve.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"),
                       help="uvicorn log level ('warning' drops the per-request access log)")
    serve.set_defaults(handler=cmd_serve)

    agents = sub.add_parser("agents", help="enrolment keys, listing, revocation")
    agents_sub = agents.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = agents_sub.add_parser("add", parents=[common], help="create an agent (or a new key for one) and "
                                                              "print its one-time key")
    add.add_argument("name", type=agent_name)
    add.add_argument("--client", required=True, help="the dealer's customer this agent belongs to (made when new)")
    add.add_argument("--site", help="the client's site the agent is at; the printers it finds start there")
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

    db = sub.add_parser("db", help="schema migrations")
    db_sub = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    revision = db_sub.add_parser("revision", parents=[common], help="write a new migration autogenerated from "
                                                                    "the tables the code declares (developers)")
    revision.add_argument("-m", "--message", required=True)
    revision.set_defaults(handler=cmd_db_revision)
    for name in cli_modules(argv) if modules is None else modules:
        module = importlib.import_module("server_stub.demo.orchestrator" if name == "demo" else f"server_stub.cli.{name}")
        if name == "backtest":
            module.register(sub)  # fleetmeter-server supply backtest ...
        else:
            module.register(sub, common)
    return parser


def cmd_init(args) -> int:
    paths = server_paths().ensure()
    if (paths.ca_dir / trust_ca.CA_CERT).exists():
        ca, made = trust_ca.CertificateAuthority.load(paths.ca_dir), "kept"
    else:
        ca, made = trust_ca.CertificateAuthority.create(paths.ca_dir, f"Fleetmeter agent CA {socket.gethostname()}"), \
            "created"
    key_made = trust_secrets.SecretBox.create_key_file(paths.ca_dir)
    engine = engine_for(args, paths)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        sealed = remote_config.seal_stored(conn, trust_secrets.SecretBox.load(paths.ca_dir))
    derived = 0
    while True:  # readings stored before assets existed (migration 0004) get their assets and history
        with engine.begin() as conn:
            done = ingest_history.backfill(conn)
        if not done:
            break
        derived += done
    if derived:
        print(f"assets and history derived for {derived} earlier reading(s)")
    print(f"CA {made}: {paths.ca_dir / trust_ca.CA_CERT} (sha256 {ca.fingerprint})")
    if key_made:
        print(f"secret key created: {paths.ca_dir / trust_secrets.KEY_FILE} (0600; encrypts stored credentials: back it up "
              "with the CA)")
    if sealed:
        print(f"{sealed} credential entr{'y' if sealed == 1 else 'ies'} stored in clear now encrypted")
    print(f"database ready: {safe_url(engine)}")
    if args.tls_host:
        cert, key = ca.create_tls(paths.ca_dir, args.tls_host)
        print(f"TLS certificate for {', '.join(args.tls_host)}: --tls-cert {cert} --tls-key {key}")
        print(f"agents trust it with: fleetmeter-agent enroll --ca-file {paths.ca_dir / trust_ca.CA_CERT} ...")
    return 0


def cmd_db_revision(args) -> int:
    path = migrate.revision(engine_for(args, server_paths()), args.message)
    print(f"migration written: {path}; review it, then: fleetmeter-server init")
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from server_stub.api import heap
    from server_stub.api.app import Limits, create_app

    paths, engine = ready_engine(args)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise CliError("--tls-cert and --tls-key go together", 2)
    if not (paths.ca_dir / trust_ca.CA_CERT).exists():
        raise CliError(f"no CA in {paths.ca_dir}; run: fleetmeter-server init")
    limits = Limits(max_body=args.max_body, max_readings=args.max_readings, rate_per_minute=args.rate_limit,
                    heartbeats_per_minute=args.heartbeat_limit, enrolments_per_minute=args.enrol_limit,
                    signature_window=args.signature_window, cert_days=args.cert_days)
    app = create_app(engine, trust_ca.CertificateAuthority.load(paths.ca_dir), limits,
                     run_worker=args.worker or engine.dialect.name == "sqlite")
    if not args.tls_cert and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"fleetmeter-server: serving plain HTTP on {args.host}; agents refuse it unless a TLS-terminating "
              "proxy is in front (or they enrol with --allow-http)", file=sys.stderr)
    heap.settle()
    uvicorn.run(app, host=args.host, port=args.port, ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key,
                proxy_headers=True, forwarded_allow_ips=args.forwarded_allow_ips, log_level=args.log_level)
    return 0


def cmd_agents_add(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            new = registry.add_agent(conn, args.name, args.client, args.expires)
            fleet_clients.link_agent(conn, args.name, args.client, args.site)
    except (registry.AgentOfAnotherClient, fleet_clients.FleetError) as exc:
        raise CliError(f"agents add: {exc}") from None
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


def cmd_agents_list(args) -> int:
    _, engine = ready_engine(args)
    with engine.connect() as conn:
        rows = registry.list_agents(conn)
        states = agent_state.agent_states(conn)  # connection state (new/connected/ambiguous/disconnected) and parts
    if args.json:
        print(json.dumps({"agents": [row.to_json() | {"connection": states[row.name][0], "parts": [
            dataclasses.asdict(p) | {"last_run_at": p.last_run_at and p.last_run_at.isoformat()}
            for p in states[row.name][1]]} for row in rows]}, indent=2))
        return 0
    header = ("CLIENT", "AGENT", "STATE", "CONNECTION", "LAST SEEN (UTC)", "VERSION", "HOST", "ADDRESS", "QUEUE",
              "CERTIFICATE", "CONFIG")
    table = [header] + [(r.client, r.name, r.state, states[r.name][0], age(r.last_seen_at), r.version or "-", r.hostname or "-",
                         r.remote_ip or "-", "-" if r.queue_depth is None else str(r.queue_depth),
                         (r.fingerprint or "-")[:16], "REFUSED" if r.config_refused else "ok") for r in rows]
    print_table(table)
    for r in rows:
        if r.config_refused:
            print(printable(f"{r.name}: refused configuration {r.config_refused.get('version')} (keeps its last good "
                            f"one): {r.config_refused.get('error')}"))
    return 0


def cmd_agents_revoke(args) -> int:
    _, engine = ready_engine(args)
    try:
        with engine.begin() as conn:
            count = registry.revoke_agent(conn, args.name)
    except registry.AgentNotFound:
        raise CliError(f"no agent named {args.name!r}; see: fleetmeter-server agents list") from None
    print(f"agent {args.name}: {count} certificate(s) revoked; its next upload is refused. "
          f"To re-enrol: fleetmeter-server agents add {args.name} --client ... and enrol with the new key")
    return 0


def main(argv: list[str] | None = None) -> int:
    with reader_may_leave():  # `... | head` ends the command quietly
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args)
    except CliError as exc:
        print(f"fleetmeter-server: {exc}", file=sys.stderr)
        return exc.code
    except trust_secrets.SecretKeyError as exc:
        print(f"fleetmeter-server: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 1
    except Exception as exc:  # SQLAlchemy and the drivers are imported only by the commands that use them
        reason = unusable(exc)
        if reason is None:
            raise
        print(f"fleetmeter-server: cannot use the database: {reason}; check --db / FLEETMETER_DB",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
