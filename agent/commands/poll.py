"""`fleetmeter-agent poll HOST`: read one printer and print its reading."""

from __future__ import annotations

import argparse
import asyncio

from agent.commands.snmp_options import add_snmp_options, credentials_from_args
from agent.reading import DeviceReading
from agent.render import render_reading
from agent.snmp.client import SnmpClient
from agent.snmp.reader import read_device


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("poll", help="read one printer over SNMP and print its reading",
                                   description="Read identity, meters, supplies, trays, status and alerts "
                                               "of one device over SNMP.")
    parser.add_argument("host", help="IP address or host name of the printer")
    add_snmp_options(parser)
    parser.add_argument("--json", action="store_true", help="print the fleetmeter.device/1 JSON document")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    credentials = credentials_from_args(args)
    reading = asyncio.run(_poll(args.host, args.port, credentials, args.timeout, args.retries))
    print(reading.dumps() if args.json else render_reading(reading))
    return 0


async def _poll(host, port, credentials, timeout, retries) -> DeviceReading:
    client = SnmpClient()
    try:
        return await read_device(client.session(host, port, credentials, timeout=timeout, retries=retries))
    finally:
        client.close()
