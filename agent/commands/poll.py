"""`fleetmeter-agent poll HOST`: read one printer and print its reading."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from agent.commands.snmp_options import add_snmp_options, credentials_from_args
from agent.home import agent_paths
from agent.reading import DeviceReading
from agent.render import render_reading
from agent.snmp.client import SnmpClient
from agent.snmp.meter_config import CONFIG_NAME, ConfiguredMeters, load_meter_config
from agent.snmp.reader import read_device


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("poll", help="read one printer over SNMP and print its reading",
                                   description="Read identity, meters, supplies, trays, status and alerts "
                                               "of one device over SNMP.")
    parser.add_argument("host", help="IP address or host name of the printer")
    add_snmp_options(parser)
    parser.add_argument("--json", action="store_true", help="print the fleetmeter.device/1 JSON document")
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="extra meters by OID or MIB symbol (default: meters.toml in the agent's "
                             "configuration directory, when present)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    credentials = credentials_from_args(args)
    configured = _configured_meters(args.config)
    reading = asyncio.run(_poll(args.host, args.port, credentials, args.timeout, args.retries, configured))
    print(reading.dumps() if args.json else render_reading(reading))
    return 0


def _configured_meters(option: str | None) -> ConfiguredMeters | None:
    """The user's meters file (MIB symbols resolved now, so the poll reads numeric OIDs only)."""
    paths = agent_paths()
    path = Path(option) if option else paths.config / CONFIG_NAME
    if option is None and not path.exists():
        return None
    from agent.snmp.mibs import resolver_for  # pysmi only when there is a file to read
    return load_meter_config(path, resolver_for(paths.config, paths.cache))


async def _poll(host, port, credentials, timeout, retries, configured=None) -> DeviceReading:
    client = SnmpClient()
    try:
        session = client.session(host, port, credentials, timeout=timeout, retries=retries)
        return await read_device(session, configured)
    finally:
        client.close()
