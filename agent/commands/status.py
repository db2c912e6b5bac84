"""`fleetmeter-agent status`: enrolment, server, certificate expiry, last upload, queued readings."""

from __future__ import annotations

import argparse
import dataclasses
import json

from agent.certs.store import agent_store
from agent.outbox import agent_outbox
from agent.upload import revoked_message


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("status", help="show enrolment, certificate and last upload")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    store = agent_store()
    outbox = agent_outbox()
    enrolment, last, queued, rejected = store.enrolment(), store.last_upload(), len(outbox), outbox.rejected()
    state = "not enrolled" if enrolment is None else ("revoked" if enrolment.revoked_at else "enrolled")
    if args.json:
        print(json.dumps({"state": state, "enrolment": enrolment and dataclasses.asdict(enrolment),
                          "last_upload": last and dataclasses.asdict(last), "queued": queued,
                          "rejected": rejected}, indent=2))
        return 0
    if enrolment is None:
        print("state:        not enrolled (fleetmeter-agent enroll --server URL --key KEY)")
    else:
        print(f"state:        {state}")
        print(f"agent:        {enrolment.agent} (client {enrolment.client})")
        print(f"server:       {enrolment.server}" + (f" via proxy {enrolment.proxy}" if enrolment.proxy else ""))
        print(f"certificate:  sha256 {enrolment.fingerprint[:16]}..., {enrolment.key_type}, "
              f"valid until {enrolment.not_after}")
        if enrolment.revoked_at:
            print(f"revoked:      {revoked_message(enrolment)}")
    if last is not None:
        print(f"last upload:  {last.at} {'ok' if last.ok else 'FAILED'}: {last.message}")
    print(f"queued:       {queued} reading(s)")
    if rejected:
        print(f"rejected:     {rejected} reading(s) the server refused (outbox.db, table rejected)")
    return 0
