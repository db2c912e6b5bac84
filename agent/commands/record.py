"""`fleetmeter-agent record HOST -o device.snmprec`: a whole-device recording a dealer can send to support.

The file replays with snmpsim (community = file stem) and polls to the same reading. Contact, name,
location, IPv4 and MAC addresses are scrubbed unless --no-scrub (see agent.snmp.snmprec).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from agent.commands.snmp_options import add_snmp_options, credentials_from_args
from agent.snmp.client import SnmpClient
from agent.snmp.snmprec import Record, dumps, scrub, to_record

ROOT = "1.3.6.1"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "record", help="record a device in snmpsim format (.snmprec) for support",
        description="Walk the whole device (1.3.6.1) and write an snmpsim .snmprec file that replays it. "
                    "sysContact, sysName, sysLocation, IPv4 and MAC addresses are replaced unless --no-scrub.")
    parser.add_argument("host", help="IP address or host name of the printer")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="the .snmprec file to write (its name without .snmprec is the snmpsim community)")
    parser.add_argument("--no-scrub", action="store_true",
                        help="keep contact, name, location, IP and MAC addresses as the device sent them")
    add_snmp_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    records, incomplete = asyncio.run(_record(args.host, args.port, credentials_from_args(args),
                                              args.timeout, args.retries))
    if not args.no_scrub:
        records = scrub(records)
    output = Path(args.output)
    output.write_text(dumps(records), encoding="ascii")
    note = " (scrubbed)" if not args.no_scrub else ""
    print(f"wrote {len(records)} objects from {args.host} to {output}{note}", file=sys.stderr)
    if incomplete:
        print(f"fleetmeter-agent: the device stopped answering after {records[-1].oid if records else ROOT}; "
              "the recording is partial", file=sys.stderr)
    return 0


async def _record(host, port, credentials, timeout, retries) -> tuple[list[Record], bool]:
    client = SnmpClient()
    try:
        session = client.session(host, port, credentials, timeout=timeout, retries=retries)
        walked = await session.walk([ROOT], convert=lambda value: value)
    finally:
        client.close()
    records = [to_record(f"{ROOT}.{suffix}", value) for suffix, value in walked.columns[ROOT].items()]
    return [r for r in records if r is not None], bool(walked.incomplete)
