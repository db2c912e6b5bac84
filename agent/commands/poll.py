"""`fleetmeter-agent poll HOST`: read one printer and print its reading."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from agent.certs.store import agent_store
from agent.commands.snmp_options import add_snmp_options, credentials_from_args
from agent.home import agent_paths
from agent.outbox import agent_outbox
from agent.printer.settings import ReadSettings, load_read_settings
from agent.render import render_reading
from agent.scheduler.config import local_supply_low_percent
from agent.snmp.client import SnmpClient
from agent.snmp.reader import read_device
from agent.upload import deliver, not_enrolled
from fleetmeter_contract.reading import DeviceReading


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
    parser.add_argument("--upload", action="store_true",
                        help="also send the reading to the server now (needs enrolment; kept if it fails)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.upload and agent_store().enrolment() is None:
        raise not_enrolled()  # say so before spending a poll
    credentials = credentials_from_args(args)
    paths = agent_paths()
    settings = load_read_settings(paths.config, paths.cache, local_supply_low_percent(paths),
                                  Path(args.config) if args.config else None)
    reading = asyncio.run(_poll(args.host, args.port, credentials, args.timeout, args.retries, settings))
    print(reading.dumps() if args.json else render_reading(reading))
    return upload_now(reading) if args.upload else 0


def upload_now(reading: DeviceReading) -> int:
    """Queue the reading and deliver the queue; the outcome goes to stderr (stdout stays the reading)."""
    store = agent_store()
    outbox = agent_outbox()
    outbox.put(reading.to_json())
    result = deliver(store, outbox)
    print(f"fleetmeter-agent: upload {'ok' if result.ok else 'failed'}: {result.message}", file=sys.stderr)
    return 0 if result.ok else (2 if result.status is None else 1)


async def _poll(host, port, credentials, timeout, retries, settings: ReadSettings = ReadSettings()) -> DeviceReading:
    client = SnmpClient()
    try:
        session = client.session(host, port, credentials, timeout=timeout, retries=retries)
        return await read_device(session, settings)
    finally:
        client.close()
