"""`fleetmeter-server config ...` and `fleetmeter-server alerts list`: agent configuration and agent alerts.

    fleetmeter-server config set (--global | --client C | --agent A) KEY VALUE   (VALUE "-": read stdin)
    fleetmeter-server config unset (--global | --client C | --agent A) KEY
    fleetmeter-server config show [--global | --client C | --agent A] [--json]
    fleetmeter-server alerts list [--all] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

from sqlalchemy import select

from server_stub.cli.common import CliError, age, print_table, ready_engine
from server_stub.cli.lazy import lazy
from server_stub.db.tables import agents

agent_config = lazy("server_stub.fleet.remote_config")
agent_heartbeat = lazy("server_stub.fleet.state")
trust_secrets = lazy("server_stub.trust.secrets")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    config = sub.add_parser("config", help="ranges, credentials, schedules and thresholds for agents")
    config_sub = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    scope = argparse.ArgumentParser(add_help=False)
    group = scope.add_mutually_exclusive_group()
    group.add_argument("--global", dest="global_", action="store_true", help="every agent (and server.* settings)")
    group.add_argument("--client", metavar="CLIENT", help="every agent of this client (defaults)")
    group.add_argument("--agent", metavar="AGENT", help="one agent (overrides its client's defaults)")

    put = config_sub.add_parser("set", parents=[common, scope], help="set one key",
                                description="KEY is a dotted path (ranges, credentials, schedules.alerts.interval, "
                                            "schedules.meters.cron, schedules.discovery.enabled, thresholds."
                                            "supply_low_percent, heartbeat, server.disconnected_after, ...); VALUE "
                                            "is JSON or plain text; '-' reads it from stdin (keeps secrets out of "
                                            "the process list and shell history). Agents apply it on their next "
                                            "heartbeat.")
    put.add_argument("key")
    put.add_argument("value")
    put.set_defaults(handler=cmd_config_set)
    unset = config_sub.add_parser("unset", parents=[common, scope], help="remove one key (the default applies)")
    unset.add_argument("key")
    unset.set_defaults(handler=cmd_config_unset)
    show = config_sub.add_parser("show", parents=[common, scope], help="entries (secrets masked); with --agent "
                                                                       "also the document the agent receives")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_config_show)

    alerts = sub.add_parser("alerts", help="alerts about agents (stopped reporting, configuration refused)")
    alerts_sub = alerts.add_subparsers(dest="action", metavar="ACTION", required=True)
    lst = alerts_sub.add_parser("list", parents=[common], help="open alerts (raises those that are due first)")
    lst.add_argument("--all", action="store_true", help="also alerts cleared by the agent reporting again")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_alerts_list)


def _scope(args) -> tuple[str, str]:
    if args.agent:
        return "agent", args.agent
    if args.client:
        return "client", args.client
    return "global", ""


def cmd_config_set(args) -> int:

    paths, engine = ready_engine(args)
    text = sys.stdin.read().strip() if args.value == "-" else args.value
    scope, target = _scope(args)
    if not (args.global_ or args.client or args.agent):
        raise CliError("say where the key applies: --global, --client CLIENT or --agent AGENT", 2)
    try:
        with engine.begin() as conn:
            agent_config.set_entry(conn, scope, target, args.key, agent_config.parse_value(text),
                                   trust_secrets.SecretBox.load(paths.ca_dir))
    except (agent_config.ConfigProblem, trust_secrets.SecretKeyError) as exc:
        raise CliError(f"config set: {exc}", 2) from None
    where = "all agents" if scope == "global" else f"{scope} {target}"
    print(f"{args.key} set for {where}; agents apply it on their next heartbeat")
    return 0


def cmd_config_unset(args) -> int:

    _, engine = ready_engine(args)
    scope, target = _scope(args)
    with engine.begin() as conn:
        removed = agent_config.unset_entry(conn, scope, target, args.key)
    if not removed:
        raise CliError(f"{args.key} is not set at {scope} {target}".rstrip(), 1)
    print(f"{args.key} removed at {scope} {target}".rstrip())
    return 0


def cmd_config_show(args) -> int:

    paths, engine = ready_engine(args)
    scope, target = _scope(args)
    chosen = args.global_ or args.client or args.agent
    box = trust_secrets.SecretBox.load(paths.ca_dir)  # secrets are masked below; opened to show the other fields
    with engine.connect() as conn:
        rows = agent_config.entries(conn, scope if chosen else None, target if chosen else None, box)
        every = agent_config.entries(conn, box=box)
        agent = args.agent and conn.execute(select(agents.c.name, agents.c.client)
                                            .where(agents.c.name == args.agent)).first()
        if args.agent and agent is None:
            raise CliError(f"no agent named {args.agent!r}; see: fleetmeter-server agents list")
        try:
            document = agent_config.agent_document(conn, agent.name, agent.client, box) if agent else None
        except trust_secrets.SecretKeyError as exc:
            raise CliError(f"config show: {exc}") from None
    effective = None
    if agent:
        effective = {key: agent_config.mask(key, value) for key, value in document.items()}
        rows = [e for e in every if e.scope == "global" or
                (e.scope, e.target) in (("client", agent.client), ("agent", agent.name))]
    if args.json:
        print(json.dumps({"entries": [e.to_json() for e in rows], "effective": effective}, indent=2))
        return 0
    table = [("SCOPE", "TARGET", "KEY", "VALUE")] + [
        (e.scope, e.target or "-", e.key, json.dumps(agent_config.mask(e.key, e.value))) for e in rows]
    print_table(table)
    if effective is not None:
        print(f"\nagent {args.agent} receives (secrets masked):\n{json.dumps(effective, indent=2)}")
    return 0


def cmd_alerts_list(args) -> int:

    _, engine = ready_engine(args)
    with engine.begin() as conn:
        agent_heartbeat.raise_silence_alerts(conn)
        rows = agent_heartbeat.list_alerts(conn, include_cleared=args.all)
    if args.json:
        print(json.dumps({"alerts": [row.to_json() for row in rows]}, indent=2))
        return 0
    if not rows:
        print("no open alerts")
        return 0
    print_table([("RAISED (UTC)", "CLIENT", "AGENT", "KIND", "CLEARED", "MESSAGE")] + [
        (age(r.raised_at), r.client, r.agent, r.kind, age(r.cleared_at), r.message) for r in rows])
    return 0
