"""`fleetmeter-agent discover TARGET...`: find the printers on a network."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from agent.commands.snmp_options import add_snmp_options, credential_sets_from_args
from agent.home import agent_paths
from agent.network.known_devices import KnownDevices
from agent.network.neighbours import read_neighbours
from agent.network.scan import DiscoveryResult, OtherSources, discover
from agent.network.sweep import DEFAULT_CONCURRENCY, DEFAULT_RATE, SweepSettings, SweepStats
from fleetmeter_contract.ranges import TargetError, TargetSet

STORE_NAME = "known_devices.sqlite"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "discover", help="find printers in address ranges (SNMP sweep)",
        description="Sweep CIDR blocks, ranges (a-b or a-N) and hosts with SNMP, trying each credential set "
                    "in order (SNMPv3 user, v2c communities, v1), identify the printers, and remember them "
                    "by serial/MAC so a printer that changed address stays the same device.")
    parser.add_argument("targets", nargs="+", metavar="TARGET",
                        help="10.0.0.0/24, 10.0.0.10-10.0.0.50, 10.0.0.10-50, or a host")
    parser.add_argument("--exclude", action="append", default=[], metavar="TARGET",
                        help="addresses to leave alone, same forms (repeatable)")
    add_snmp_options(parser, repeatable=True)
    sweep = parser.add_argument_group("sweep")
    sweep.add_argument("--rate", type=float, default=DEFAULT_RATE,
                       help=f"request packets per second, retries included (default {DEFAULT_RATE:g})")
    sweep.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                       help=f"addresses probed at once (default {DEFAULT_CONCURRENCY})")
    other = parser.add_argument_group("other sources")
    other.add_argument("--mdns", type=float, default=0.0, metavar="SECONDS",
                       help="also browse mDNS/DNS-SD print services for SECONDS (e.g. 3); announced "
                            "printers are swept too, and read over IPP when SNMP does not answer")
    other.add_argument("--mdns-interface", action="append", default=[], metavar="ADDRESS",
                       help="local address to browse on (repeatable; default all interfaces)")
    other.add_argument("--neighbours", action="store_true",
                       help="also sweep the hosts in this machine's neighbour (ARP) table and take MACs from it")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        targets = TargetSet.parse(args.targets, args.exclude)
    except TargetError as exc:
        print(f"fleetmeter-agent: {exc}", file=sys.stderr)
        return 2
    if args.rate <= 0 or args.concurrency < 1 or args.timeout <= 0 or args.retries < 0 or args.mdns < 0:
        print("fleetmeter-agent: --rate, --concurrency and --timeout must be positive, --retries and --mdns >= 0",
              file=sys.stderr)
        return 2
    settings = SweepSettings(credential_sets_from_args(args), tuple(dict.fromkeys(args.port or [161])),
                             args.timeout, args.retries, args.rate, args.concurrency)
    sources = OtherSources(args.mdns, tuple(args.mdns_interface),
                           read_neighbours() if args.neighbours else {}, ipp_timeout=max(args.timeout, 2.0))
    store = KnownDevices(agent_paths().data / STORE_NAME)
    progress = _Progress() if sys.stderr.isatty() else None
    try:
        result = asyncio.run(discover(targets, settings, store, progress, sources))
    finally:
        store.close()
        if progress:
            progress.done()
    print(json.dumps(result.to_json(), indent=2, ensure_ascii=False) if args.json else render(result))
    return 0


class _Progress:
    """One status line on the terminal (stderr), redrawn at most ten times a second."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, stats: SweepStats) -> None:
        import time

        now = time.monotonic()
        if now - self.last < 0.1 and stats.scanned < stats.targets:
            return
        self.last = now
        sys.stderr.write(f"\rscanned {stats.scanned}/{stats.targets}  answered {stats.answered}  "
                         f"printers {stats.printers}  ")
        sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write("\n")


def render(result: DiscoveryResult) -> str:
    lines = []
    for device in result.devices:
        identity = device.identity
        kind = "printer" if device.is_printer else "other  "
        name = " ".join(x for x in (identity.manufacturer, identity.model) if x) or (identity.sys_descr or "")[:50]
        moved = f"  (moved from {result.moved[device.address]})" if device.address in result.moved else ""
        lines.append(f"{device.address:>15}:{device.port:<5} {kind} {name:<40} serial {identity.serial or '-':<16} "
                     f"mac {identity.mac or '-':<17} {device.credential or device.source}{moved}")
    if result.to_complete:
        lines.append("")
        lines.append("Devices to complete (known printers that did not answer):")
        for known in result.to_complete:
            name = " ".join(x for x in (known.manufacturer, known.model) if x) or "-"
            lines.append(f"{known.address:>15}:{known.port:<5} {name:<40} serial {known.serial or '-':<16} "
                         f"last seen {known.last_seen}")
    stats = result.stats
    lines.append("")
    printers = sum(d.is_printer for d in result.devices)
    lines.append(f"{stats['devices']} devices ({printers} printers) on {stats['targets']} address/port "
                 f"pairs in {stats['elapsed_s']:.1f} s; {stats['packets']} probe packets")
    return "\n".join(lines)
