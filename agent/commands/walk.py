"""`fleetmeter-agent walk HOST [OID]`: a bulk walk printed with MIB names where compiled MIBs know them.

Not a poll: MIB lookups are fine here. OID may be numeric or MODULE::object (e.g.
PWG-IMAGING-COUNTER-MIB::icImpressionTable); MIBs come from mibs/ and <config>/mibs (see agent.mibs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from agent.commands.snmp_options import add_snmp_options, credentials_from_args
from agent.home import agent_paths
from agent.snmp.client import SnmpClient
from agent.snmp.snmprec import Record, to_record

DEFAULT_ROOT = "1.3.6.1"
TYPE_NAMES = {"2": "INTEGER", "4": "STRING", "5": "NULL", "6": "OID", "64": "IpAddress", "65": "Counter32",
              "66": "Gauge32", "67": "Timeticks", "68": "Opaque", "70": "Counter64"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("walk", help="walk a device (GETBULK) and print OIDs with MIB names",
                                   description="Walk everything under OID (default 1.3.6.1) and print each "
                                               "object with its MIB name where a compiled MIB knows it.")
    parser.add_argument("host", help="IP address or host name of the device")
    parser.add_argument("oid", nargs="?", default=DEFAULT_ROOT,
                        help="numeric OID or MODULE::object to start from (default 1.3.6.1)")
    parser.add_argument("--numeric", action="store_true", help="no MIB names (faster)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    add_snmp_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    paths = agent_paths()
    from agent.mibs import resolver_for  # pysmi costs half a second: only for this command

    resolver = resolver_for(paths.config, paths.cache)
    root = resolver.oid_of(args.oid)
    records = asyncio.run(_walk(args.host, args.port, credentials_from_args(args), args.timeout, args.retries,
                                root))
    if not records:
        print(f"fleetmeter-agent: no objects under {root} on {args.host}:{args.port} "
              "(for one instance, walk its parent)", file=sys.stderr)
        return 1
    if not args.numeric:
        resolver.load_all()
    rows = [_row(record, None if args.numeric else resolver.name_of(record.oid)) for record in records]
    if args.json:
        print(json.dumps({"host": args.host, "root": root, "objects": rows}, indent=2, ensure_ascii=False))
    else:
        for row in rows:
            name = f"  {row['name']}" if row["name"] else ""
            print(f"{row['oid']}{name} = {row['type']}: {row['value']}")
    return 0


async def _walk(host, port, credentials, timeout, retries, root: str) -> list[Record]:
    client = SnmpClient()
    try:
        session = client.session(host, port, credentials, timeout=timeout, retries=retries)
        walked = await session.walk([root], typed=True)
    finally:
        client.close()
    records = [to_record(f"{root}.{suffix}", value) for suffix, value in walked.columns[root].items()]
    return [r for r in records if r is not None]


def _row(record: Record, name: str | None) -> dict:
    data = record.data
    if isinstance(data, bytes):
        text = data.decode("utf-8", "replace") if record.tag == "4" and all(
            b >= 0x20 or b in (9, 10, 13) for b in data) else None
        if record.tag == "64" and len(data) == 4:
            value = ".".join(str(b) for b in data)
            kind = "IpAddress"
        elif text is not None:
            value, kind = text, "STRING"
        else:
            value, kind = " ".join(f"{b:02X}" for b in data), "Hex-STRING"
    else:
        value, kind = data, TYPE_NAMES.get(record.tag, record.tag)
    return {"oid": record.oid, "name": name, "type": kind, "value": value}
