"""SNMP command-line options shared by every command that talks SNMP."""

from __future__ import annotations

import argparse
import os

from agent.snmp.credentials import AUTH_PROTOCOLS, PRIV_PROTOCOLS, Credentials


def add_snmp_options(parser: argparse.ArgumentParser, repeatable: bool = False) -> None:
    """The SNMP options; with `repeatable` (sweeps), --port, --community and --snmp-version may be
    given several times and every combination is tried (see `credential_sets_from_args`)."""
    group = parser.add_argument_group("SNMP")
    many = {"action": "append"} if repeatable else {}
    again = " (repeatable)" if repeatable else ""
    group.add_argument("--port", type=int, default=None if repeatable else 161,
                       help=f"UDP port (default 161){again}", **many)
    group.add_argument("--snmp-version", choices=("1", "2c", "3"), default=None,
                       help=f"SNMP version (default 2c, or 3 when --v3-user is given){again}", **many)
    group.add_argument("--community", default=None,
                       help=f"v1/v2c community (default 'public'; or env FLEETMETER_COMMUNITY){again}", **many)
    group.add_argument("--v3-user", help="SNMPv3 user name")
    group.add_argument("--auth-proto", type=str.upper, choices=sorted(AUTH_PROTOCOLS), help="SNMPv3 auth protocol")
    group.add_argument("--auth-key", help="SNMPv3 auth passphrase (or env FLEETMETER_AUTH_KEY)")
    group.add_argument("--priv-proto", type=str.upper, choices=sorted(PRIV_PROTOCOLS),
                       help="SNMPv3 privacy protocol")
    group.add_argument("--priv-key", help="SNMPv3 privacy passphrase (or env FLEETMETER_PRIV_KEY)")
    group.add_argument("--context", default="", help="SNMPv3 context name")
    group.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each answer (default 2)")
    group.add_argument("--retries", type=int, default=1, help="resends after a timeout (default 1)")


def credentials_from_args(args: argparse.Namespace) -> Credentials:
    """Credentials from options, with secrets optionally taken from the environment (not argv)."""
    version = args.snmp_version or ("3" if args.v3_user else "2c")
    return Credentials(
        version=version,
        community=args.community or os.environ.get("FLEETMETER_COMMUNITY") or "public",
        user=args.v3_user,
        auth_proto=args.auth_proto,
        auth_key=args.auth_key or os.environ.get("FLEETMETER_AUTH_KEY"),
        priv_proto=args.priv_proto,
        priv_key=args.priv_key or os.environ.get("FLEETMETER_PRIV_KEY"),
        context=args.context,
    )


def credential_sets_from_args(args: argparse.Namespace) -> tuple[Credentials, ...]:
    """Every credential set a sweep tries, in order: the SNMPv3 user first, then each community as v2c,
    then each community as v1. A --v3-user is always tried; communities are tried with the versions
    given by --snmp-version, else as v2c when communities are given or no v3 user is."""
    communities = args.community or [os.environ.get("FLEETMETER_COMMUNITY") or "public"]
    versions = set(args.snmp_version or ()) | ({"3"} if args.v3_user else set())
    if not args.snmp_version and (args.community or not args.v3_user):
        versions.add("2c")
    sets: list[Credentials] = []
    if "3" in versions:
        sets.append(credentials_from_args(argparse.Namespace(**{**vars(args), "snmp_version": "3",
                                                                 "community": None})))
    for version in ("2c", "1"):
        if version in versions:
            sets += [Credentials(version=version, community=c) for c in dict.fromkeys(communities)]
    return tuple(sets)
