"""`fleetmeter-sim`: the project's simulated printers.

    fleetmeter-sim serve --devices N [--base-address 127.0.10.1 [--port 161] | --port-base P]
                         [--speed F] [--seed S] [--community C] [--list-json FILE]
                         [--usage-from DATE]
    fleetmeter-sim history --devices N --days D --out FILE.jsonl [--seed S] [--start DATE]

Exit codes: 0 ok, 1 failure, 2 usage error. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from fleetmeter_sim.fleet import FleetError, SimDevice, plan_fleet
from fleetmeter_sim import usage_state
from fleetmeter_sim.live import DeviceState, PlaceholderState, SimClock
from fleetmeter_sim.models import ModelError
from fleetmeter_sim.server import Counts, serve

PROG = "fleetmeter-sim"


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def utc_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give a UTC offset (e.g. 2026-01-05T08:00:00Z)")
    return value.astimezone(timezone.utc)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Fleetmeter's simulated printers (SNMP on loopback)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    s = commands.add_parser("serve", help="serve N printers whose meters and supplies move with simulated time")
    s.add_argument("--devices", type=positive_int, required=True)
    s.add_argument("--base-address", default="127.0.10.1",
                   help="first loopback address (one address per device), or the one address with --port-base")
    s.add_argument("--port", type=int, default=161, help="the UDP port of every address (default 161)")
    s.add_argument("--port-base", type=int, help="one port per device from P on --base-address")
    s.add_argument("--speed", type=positive_float, default=1.0,
                   help="simulated seconds per real second (1440: a day a minute)")
    s.add_argument("--start", type=utc_time, help="simulated time now (ISO, UTC; default: the real time)")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--community", default="public", help="SNMPv1/v2c community of every device")
    s.add_argument("--list-json", type=Path, help="write the devices (address, port, serial, model) here "
                   "once every one listens")
    s.add_argument("--quiet", action="store_true", help="do not print one line per device")
    s.add_argument("--usage-from", type=date.fromisoformat, metavar="DATE",
                   help="serve the usage model's fleet whose history starts at DATE (as written by `history "
                        "--start DATE` with the same --devices and --seed): its printers carry on from it")
    s.set_defaults(handler=cmd_serve)
    h = commands.add_parser("history", help="write the same fleet's past as fleetmeter.device/1 readings")
    h.add_argument("--devices", type=positive_int, required=True)
    h.add_argument("--days", type=positive_int, required=True)
    h.add_argument("--out", type=Path, required=True)
    h.add_argument("--seed", type=int, default=1)
    h.add_argument("--start", type=date.fromisoformat, metavar="DATE",
                   help="first day of the history (default: --days before today, so it ends today)")
    h.set_defaults(handler=cmd_history)
    return parser


def listing(fleet: list[SimDevice], clock: SimClock) -> dict:
    return {"speed": clock.speed, "start": clock.start.isoformat().replace("+00:00", "Z"),
            "devices": [d.to_json() for d in fleet]}


def write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def cmd_serve(args: argparse.Namespace) -> int:
    layout = {"base_address": args.base_address, "port": args.port, "port_base": args.port_base,
              "community": args.community}
    clock = SimClock(args.speed, args.start)
    states: list[DeviceState]
    if args.usage_from is None:
        fleet = plan_fleet(args.devices, args.seed, **layout)
        states = [PlaceholderState(device, args.seed, clock.start) for device in fleet]
    else:
        if not usage_state.available():
            return fail("the usage model (fleetmeter_sim.usage) is not part of this build", 1)
        if args.usage_from > clock.start.date():
            return fail(f"--usage-from {args.usage_from} is after the simulated start {clock.start.date()}", 2)
        fleet, days = usage_state.usage_fleet(args.devices, args.seed, args.usage_from, **layout)
        states = [usage_state.UsageState(device, days, args.seed, clock.start) for device in fleet]
    counts = Counts()

    async def run() -> None:
        transports = await serve(fleet, states, clock, counts)
        if args.list_json:
            write_atomically(args.list_json, json.dumps(listing(fleet, clock), indent=1) + "\n")
        if not args.quiet:
            sys.stdout.write("".join(f"{d.host}:{d.port}\t{d.serial}\t{d.model.name}\n" for d in fleet))
        print(f"{PROG}: serving {len(fleet)} printers, community {args.community!r}, speed {args.speed:g}x "
              f"(simulated time starts {listing(fleet, clock)['start']}); Ctrl-C stops", file=sys.stderr, flush=True)
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        for transport in transports:
            transport.close()
        print(f"{PROG}: stopped; answered {counts.answered} requests, refused {counts.refused}, "
              f"malformed {counts.malformed}", file=sys.stderr)

    asyncio.run(run())
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    try:
        from fleetmeter_sim.history import write_history
    except ImportError:
        return fail("the history writer (fleetmeter_sim.history) is not part of this build", 1)
    start = args.start or datetime.now(timezone.utc).date() - timedelta(days=args.days)
    write_history(args.out, seed=args.seed, devices=args.devices, days=args.days, start=start)
    return 0


def fail(message: str, code: int) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args)
    except (FleetError, ModelError) as error:
        return fail(str(error), 2)
    except KeyboardInterrupt:
        return fail("interrupted", 1)
    except OSError as error:
        return fail(error.strerror or str(error), 1)


if __name__ == "__main__":
    sys.exit(main())
