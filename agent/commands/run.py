"""`fleetmeter-agent run`: run the service in the foreground (systemd and the Windows service call this).

Stops cleanly on SIGTERM or SIGINT (Ctrl+C), and on a Windows service stop request.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from agent.home import agent_paths
from agent.scheduler.config import ConfigError
from agent.scheduler.logs import setup_logging
from agent.scheduler.service import Service
from agent.vault import VaultError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run the agent service in the foreground",
                                   description="Collect readings on schedule, send heartbeats, apply the "
                                               "server's configuration and deliver the outbox, until stopped.")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    parser.add_argument("--quiet", action="store_true", help="log to the file only, not to stderr")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    paths = agent_paths().ensure()
    redactor = setup_logging(paths.logs, args.log_level, console=not args.quiet)
    try:
        service = Service(paths, redactor)
    except (ConfigError, VaultError) as exc:
        print(f"fleetmeter-agent: {exc}", file=sys.stderr)
        return 2
    return serve(service)


def serve(service: Service, on_loop=None) -> int:
    """Run until a stop signal; `on_loop(loop, service)` lets the Windows service hook its stop request."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(signum, service.request_stop)
            except (NotImplementedError, RuntimeError):  # Windows: signal.signal instead
                signal.signal(signum, lambda *_: loop.call_soon_threadsafe(service.request_stop))
        if on_loop is not None:
            on_loop(loop, service)
        await service.run()

    asyncio.run(main())
    return 0
