"""`fleetmeter-server supply backtest HISTORY.jsonl --out DIR [--policy FILE] [--lead-days N]`: the arguments
here, the work in server_stub.supply.backtest (loaded only when the command runs)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from server_stub.cli.lazy import lazy

backtest = lazy("server_stub.supply.backtest")


def backtest_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("history", type=Path, metavar="HISTORY.jsonl")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument("--policy", type=Path, metavar="FILE", help="policy file (TOML or JSON); default: the "
                                                                    "default preset")
    parser.add_argument("--lead-days", type=int, metavar="N", help="delivery lead time (default: the policy's, 5)")
    return parser


def register(sub: Any) -> None:
    """`supply backtest` under the server CLI's subcommands."""
    supply = sub.add_parser("supply", help="supply forecasts and reorder policy")
    actions = supply.add_subparsers(dest="action", metavar="ACTION", required=True)
    backtest_arguments(actions.add_parser("backtest", help="replay a recorded history through the reorder policy")
                       ).set_defaults(handler=lambda args: backtest.handle(args))
