"""`fleetmeter-agent service install|uninstall [--dry-run]`: run the agent as a system service.

Linux: a dedicated `fleetmeter` user, the hardened systemd unit (packaging/systemd), enabled and started.
Windows: a service registered with the Service Control Manager through pywin32.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("service", help="install or remove the agent as a system service")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = sub.add_parser("install", help="create the service user, install, enable and start the service")
    install.add_argument("--no-start", action="store_true", help="enable at boot but do not start now")
    uninstall = sub.add_parser("uninstall", help="stop and remove the service (keeps its state unless --purge)")
    uninstall.add_argument("--purge", action="store_true", help="also delete keys, outbox, logs and the user")
    for action in (install, uninstall):
        action.add_argument("--dry-run", action="store_true", help="print the steps, change nothing")
        action.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if sys.platform == "win32":
        return _windows(args)
    from agent.install import linux

    steps = (linux.install_steps(start=not args.no_start) if args.action == "install"
             else linux.uninstall_steps(purge=args.purge))
    if args.dry_run:
        for step in steps:
            print(step.show())
        return 0
    try:
        linux.preflight()
        for step in steps:
            print(step.show().splitlines()[0])
            step.do()
    except linux.InstallError as exc:
        print(f"fleetmeter-agent: {exc}", file=sys.stderr)
        return 1
    if args.action == "install":
        print(f"installed. Enrol it once, as its user:\n  sudo -u {linux.USER} env FLEETMETER_HOME={linux.STATE_DIR} "
              f"{linux.agent_command()} enroll --server https://SERVER --key KEY\n"
              f"logs: {linux.STATE_DIR}/agent/logs/agent.log and journalctl -u {linux.UNIT_NAME}")
    return 0


def _windows(args: argparse.Namespace) -> int:  # pragma: no cover - Windows only
    from agent.install import windows

    steps = windows.install_steps(not args.no_start) if args.action == "install" else windows.uninstall_steps()
    if args.dry_run:
        print("\n".join(steps))
        return 0
    try:
        windows.install(not args.no_start) if args.action == "install" else windows.uninstall()
    except windows.InstallError as exc:
        print(f"fleetmeter-agent: {exc}", file=sys.stderr)
        return 1
    print("\n".join(steps))
    return 0
