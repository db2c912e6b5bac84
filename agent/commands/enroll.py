"""`fleetmeter-agent enroll --server URL --key KEY`: get this agent a certificate from the server."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from agent.certs.enroll import enrol
from agent.certs.keys import KEY_TYPES
from agent.certs.store import agent_store
from agent.outbox import agent_outbox
from agent.upload import deliver


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("enroll", help="enrol this agent with the server (one-time agent key)",
                                   description="Generate a key pair here, send a certificate request with the "
                                               "one-time agent key, store the issued certificate and pin the "
                                               "server's CA. Readings kept from an earlier enrolment are then "
                                               "delivered.")
    parser.add_argument("--server", required=True, metavar="URL", help="server base URL, https://HOST[:PORT]")
    parser.add_argument("--key", default=os.environ.get("FLEETMETER_AGENT_KEY"), metavar="KEY",
                        help="one-time agent key from the dealer (or FLEETMETER_AGENT_KEY)")
    parser.add_argument("--proxy", metavar="URL", help="HTTP(S) proxy for all traffic to the server")
    parser.add_argument("--ca-file", type=Path, metavar="PEM",
                        help="CA certificate that signed the server's TLS certificate (pinned for later use)")
    parser.add_argument("--allow-http", action="store_true",
                        help="allow a plain-HTTP server URL to a non-loopback host (TLS-terminating proxy)")
    parser.add_argument("--key-type", choices=KEY_TYPES, default="ed25519")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.key:
        print("fleetmeter-agent: enroll needs --key KEY (or FLEETMETER_AGENT_KEY)", file=sys.stderr)
        return 2
    store = agent_store()
    enrolment = enrol(store, args.server, args.key, proxy=args.proxy, ca_file=args.ca_file,
                      allow_http=args.allow_http, key_type=args.key_type)
    print(f"enrolled as {enrolment.agent} (client {enrolment.client}) with {enrolment.server}; "
          f"certificate valid until {enrolment.not_after}")
    outbox = agent_outbox()
    if len(outbox):
        result = deliver(store, outbox)
        print(("kept readings: " if result.ok else "kept readings not yet delivered: ") + result.message)
    return 0
