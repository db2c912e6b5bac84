"""`fleetmeter-agent`: the on-premises agent's command line.

Exit codes: 0 ok, 1 failure, 2 usage error or device unreachable. Expected failures print one line on
stderr ("fleetmeter-agent: ..."), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from agent import __version__
from agent.certs.errors import TrustError
from agent.commands import discover, enroll, poll, record, run, scan_now, service, status, usb, walk
from agent.errors import UserConfigError
from agent.snmp.client import SnmpError
from agent.snmp.credentials import CredentialError
from fleetmeter_contract.config import ConfigError
from fleetmeter_contract.files import reader_may_leave

COMMANDS = (poll, discover, walk, record, usb, enroll, status, run, scan_now, service)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fleetmeter-agent",
                                     description="Fleetmeter printer data-collection agent")
    parser.add_argument("--version", action="version", version=f"fleetmeter-agent {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    with reader_may_leave():  # `... | head` ends the command quietly
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    os.umask(0o077)  # every file the agent writes (outbox, logs, keys, caches, sockets) is its user's alone
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args)
    except (CredentialError, ConfigError, UserConfigError) as exc:  # the user fixes a file: exit 2
        return _fail(str(exc), 2)
    except SnmpError as exc:
        return _fail(str(exc), exc.exit_code)
    except TrustError as exc:
        return _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return _fail("interrupted", 1)
    except OSError as exc:
        return _fail(f"{exc.strerror or exc} ({exc.filename or 'I/O'})", 1)


def _fail(message: str, code: int) -> int:
    print(f"fleetmeter-agent: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
