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
from agent.snmp.client import SnmpClient, SnmpTimeout
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
    records, holes = asyncio.run(_record(args.host, args.port, credentials_from_args(args),
                                         args.timeout, args.retries))
    if not args.no_scrub:
        records = scrub(records)
    output = Path(args.output)
    output.write_text(dumps(records), encoding="ascii")
    note = " (scrubbed)" if not args.no_scrub else ""
    print(f"wrote {len(records)} objects from {args.host} to {output}{note}; replay with snmpsim, "
          f"community {output.name.removesuffix('.snmprec')!r}", file=sys.stderr)
    for after, resumed in holes:
        print(f"fleetmeter-agent: no answer after {after}; skipped to {resumed or 'the end'} "
              "(objects in between are missing from the recording)", file=sys.stderr)
    return 0


async def _record(host, port, credentials, timeout, retries) -> tuple[list[Record], list[tuple[str, str | None]]]:
    """Walk everything; where the device stops answering (an object it cannot encode), skip ahead to the
    next sibling subtree, widening until it answers again, so the rest of the device is recorded too."""
    client = SnmpClient()
    values: dict[str, object] = {}
    holes: list[tuple[str, str | None]] = []
    try:
        session = client.session(host, port, credentials, timeout=timeout, retries=retries)
        walked = await session.walk([ROOT], typed=True)
        values.update(walked.columns[ROOT])
        while walked.incomplete:
            after = f"{ROOT}.{max(values, key=_arcs)}" if values else ROOT
            for start in _skips(after):
                try:
                    walked = await session.walk([ROOT], typed=True, resume={ROOT: start})
                except SnmpTimeout:  # the first request after this point fails too: skip further
                    continue
                if walked.columns[ROOT] or not walked.incomplete:
                    holes.append((after, start))
                    values.update(walked.columns[ROOT])
                    break
            else:
                holes.append((after, None))
                break
    finally:
        client.close()
    records = [to_record(f"{ROOT}.{suffix}", value) for suffix, value in values.items()]
    return [r for r in records if r is not None], holes


def _skips(oid: str) -> list[str]:
    """Resume points after a stuck OID: its next sibling, then its parent's next sibling, and so on
    (1.3.6.1.2.1.25.3.2.1.2.6 -> ...2.1.2.7, ...2.1.3, ...2.2, ...3.3, ...)."""
    arcs = [int(x) for x in oid.split(".")]
    depth = len(ROOT.split("."))
    return [".".join(map(str, arcs[:n - 1] + [arcs[n - 1] + 1])) for n in range(len(arcs), depth, -1)]


def _arcs(suffix: str) -> tuple[int, ...]:
    return tuple(int(x) for x in suffix.split("."))
