"""`fleetmeter-agent run`: run the service in the foreground (systemd and the Windows service call this).

Stops cleanly on SIGTERM or SIGINT (Ctrl+C), and on a Windows service stop request.
"""

from __future__ import annotations

import argparse
import sys

from agent.home import agent_paths
from agent.metrics import AgentCollector, serve_metrics
from agent.scheduler.config import ConfigError
from agent.scheduler.foreground import serve
from agent.scheduler.logs import setup_logging
from agent.scheduler.service import Service
from agent.vault import VaultError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run the agent service in the foreground",
                                   description="Collect readings on schedule, send heartbeats, apply the "
                                               "server's configuration and deliver the outbox, until stopped.")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    parser.add_argument("--quiet", action="store_true", help="log to the file only, not to stderr")
    parser.add_argument("--metrics-port", type=int, metavar="N",
                        help="serve Prometheus metrics (devices read, failures, outbox depth, last upload) on "
                             "this TCP port")
    parser.add_argument("--metrics-address", default="127.0.0.1", metavar="ADDRESS",
                        help="where --metrics-port listens (default 127.0.0.1: this machine only)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    paths = agent_paths().ensure()
    redactor = setup_logging(paths.logs, args.log_level, console=not args.quiet)
    try:
        service = Service(paths, redactor)
    except (ConfigError, VaultError) as exc:
        print(f"fleetmeter-agent: {exc}", file=sys.stderr)
        return 2
    if args.metrics_port is None:
        return serve(service)
    if not 0 < args.metrics_port < 65536:
        print(f"fleetmeter-agent: --metrics-port {args.metrics_port} is not in 1..65535", file=sys.stderr)
        return 2
    try:
        metrics = serve_metrics(AgentCollector(service.counts, service.outbox, service.store),
                                args.metrics_address, args.metrics_port)
    except OSError as exc:
        print(f"fleetmeter-agent: cannot serve metrics on {args.metrics_address}:{args.metrics_port}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        return serve(service)
    finally:
        metrics.shutdown()
