"""`fleetmeter-agent scan-now [inspection|alerts|discovery]`: ask the running service to run a job now."""

from __future__ import annotations

import argparse
import json
import sys

from agent.home import agent_paths
from agent.scheduler.control import ControlError, request
from agent.scheduler.service import SCAN_NOW


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("scan-now", help="make the running service run a job now",
                                   description="Runs one of the service's jobs at once (inspection = meters "
                                               "and supplies), through the service's local control channel.")
    parser.add_argument("job", nargs="?", default="inspection", choices=SCAN_NOW)
    parser.add_argument("--wait", action="store_true", help="wait until the job finished and print its result")
    parser.add_argument("--timeout", type=float, default=3600, metavar="S", help="with --wait: give up after S s")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        answer = request(agent_paths().data, {"command": "scan", "job": args.job, "wait": args.wait},
                         args.timeout if args.wait else 15)
    except ControlError as exc:
        print(f"fleetmeter-agent: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer))
    elif not answer.get("ok"):
        print(f"fleetmeter-agent: scan-now {args.job}: {answer.get('error', 'refused')}", file=sys.stderr)
    elif args.wait:
        print(answer["summary"])
    else:
        print(f"{args.job} started; the service log says when it finished")
    return 0 if answer.get("ok") else 1
