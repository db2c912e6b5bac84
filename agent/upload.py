"""Delivering queued readings: signed batches with a heartbeat, acknowledged only once the server has them.

A revoked certificate stops all uploads (the readings stay queued) until the agent is enrolled again.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import re
import socket
from urllib.parse import urlsplit

import requests

from agent import __version__
from agent.certs.errors import TrustError
from agent.certs.signing import request_signer
from agent.certs.store import CertStore, Enrolment, UploadResult
from agent.certs.transport import TIMEOUT, ServerProblem, proxy_for, server_problem, session, unreachable
from agent.outbox import Outbox, Queued
from fleetmeter_contract.reading import utc_now_iso

BATCH = 100


def heartbeat(server: str, queue_depth: int) -> dict:
    return {"version": __version__, "hostname": socket.gethostname(),
            "os": f"{platform.system()} {platform.release()}".strip() or "unknown",
            "ip_addresses": local_addresses(urlsplit(server).hostname or ""), "queue_depth": queue_depth}


def local_addresses(server_host: str) -> list[str]:
    """This machine's addresses: the one it reaches the server from first, then the host name's others."""
    found: list[str] = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # connect() on UDP sends nothing
            probe.connect((server_host, 9))
            found.append(probe.getsockname()[0])
    except OSError:
        pass
    try:
        for *_, sockaddr in socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_TCP):
            address = sockaddr[0].split("%")[0]
            if address not in found and not address.startswith("127.") and address != "::1":
                found.append(address)
    except OSError:
        pass
    return found[:16]


def not_enrolled() -> TrustError:
    return TrustError("this agent is not enrolled; run: fleetmeter-agent enroll --server URL --key KEY")


def revoked_message(enrolment: Enrolment) -> str:
    return (f"the server revoked this agent's certificate ({enrolment.revoked_at}); uploads stopped, readings "
            f"are kept. Re-enrol with a new key from the dealer: fleetmeter-agent enroll --server "
            f"{enrolment.server} --key NEWKEY")


def _refused_reading(status: int, problem: ServerProblem, items: list[Queued]) -> Queued | None:
    """The queued reading a 400 names (field "readings[i]..."), if it names one."""
    match = re.match(r"readings\[(\d+)\]", problem.field or "") if status == 400 else None
    if match and int(match[1]) < len(items):
        return items[int(match[1])]
    return None


def deliver(store: CertStore, outbox: Outbox, batch_size: int = BATCH) -> UploadResult:
    """Send everything queued (at least one request: an empty batch is a heartbeat)."""
    enrolment = store.enrolment()
    if enrolment is None:
        raise not_enrolled()
    if enrolment.revoked_at:
        result = UploadResult(utc_now_iso(), False, revoked_message(enrolment), 403, queued=len(outbox))
        store.save_last_upload(result)
        return result
    http = session(proxy_for(enrolment.server, enrolment.proxy), store.tls_verify())
    signer = request_signer(store, enrolment.fingerprint)
    url = f"{enrolment.server}/v1/ingest"
    sent = stored = duplicates = rejected = 0
    while True:
        items = outbox.peek(batch_size)
        body = json.dumps({"agent": heartbeat(enrolment.server, len(outbox)),
                           "readings": [item.document for item in items]}, separators=(",", ":")).encode()
        try:
            response = http.post(url, data=body, auth=signer, timeout=TIMEOUT,
                                 headers={"Content-Type": "application/json"})
        except requests.RequestException as exc:
            result = UploadResult(utc_now_iso(), False, str(unreachable(enrolment.server, exc)), None, sent,
                                  stored, duplicates, len(outbox))
            break
        if response.status_code == 200:
            counts = response.json()
            outbox.ack([item.id for item in items])
            sent, stored = sent + len(items), stored + counts["stored"]
            duplicates += counts["duplicates"]
            if len(items) < batch_size:
                note = f"; {rejected} refused by the server and set aside (outbox.db, table rejected)" \
                    if rejected else ""
                result = UploadResult(utc_now_iso(), not rejected, f"{sent} reading(s) delivered ({stored} new, "
                                      f"{duplicates} already there){note}", 200, sent, stored, duplicates,
                                      len(outbox))
                break
            continue
        problem = server_problem(response)
        refused = _refused_reading(response.status_code, problem, items)
        if refused is not None:  # the server will never take this one: set it aside, send the others
            outbox.reject(refused.id, str(problem))
            rejected += 1
            continue
        if response.status_code == 403 and problem.error == "certificate revoked":
            enrolment = dataclasses.replace(enrolment, revoked_at=utc_now_iso(), revoked_reason=problem.detail)
            store.save_enrolment(enrolment)
            message = revoked_message(enrolment)
        else:
            message = f"upload refused by {enrolment.server}: {problem}"
        result = UploadResult(utc_now_iso(), False, message, response.status_code, sent, stored, duplicates,
                              len(outbox))
        break
    store.save_last_upload(result)
    return result
