"""Delivering queued readings: signed batches with a heartbeat, acknowledged only once the server has them.

A batch leaves the outbox only when the server's answer is a well-formed acknowledgement of exactly that
batch (`IngestAck`: received = the batch's size = stored + duplicates). Any other answer (a 200 of another
shape, not JSON, too large, too slow) is an error that keeps everything for the next attempt.

A 400 that names one reading (field `readings[i]...`) sets that reading aside (outbox table `rejected`) and
the others are sent again; a second such refusal in the same delivery ends it as a failure, everything else
kept: a server that names readings[0] of every batch cannot move the whole outbox aside at once.

A revoked certificate stops all uploads (the readings stay queued) until the agent is enrolled again.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import re
import socket
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent import __version__
from agent.certs.errors import TrustError
from agent.certs.signing import request_signer
from agent.certs.store import CertStore, Enrolment, UploadResult
from agent.certs.transport import ServerProblem, post, proxy_for, server_problem, session
from agent.outbox import Outbox, Queued
from fleetmeter_contract.reading import utc_now_iso

BATCH = 100
MAX_ANSWER = 64 * 1024  # an acknowledgement or a problem document is a few hundred bytes


class IngestAck(BaseModel):
    """The server's acknowledgement of one batch (POST /v1/ingest, 200)."""

    model_config = ConfigDict(strict=True, extra="ignore")
    received: int = Field(ge=0)
    stored: int = Field(ge=0)
    duplicates: int = Field(ge=0)

    @model_validator(mode="after")
    def _adds_up(self) -> IngestAck:
        if self.stored + self.duplicates != self.received:
            raise ValueError("stored + duplicates differs from received")
        return self


def acknowledgement(body: bytes, sent: int) -> IngestAck:
    """The acknowledgement of a batch of `sent` readings; ValueError (one line) for anything else."""
    try:
        ack = IngestAck.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{where + ': ' if where else ''}{first['msg']}") from None
    if ack.received != sent:
        raise ValueError(f"it acknowledges {ack.received} reading(s), {sent} were sent")
    return ack


def heartbeat(server: str, queue_depth: int, config_refused: dict | None = None) -> dict:
    """What the agent says about itself with every upload and heartbeat. `config_refused` ({"version",
    "error"}) reports a server configuration this agent would not apply."""
    info = {"version": __version__, "hostname": socket.gethostname(),
            "os": f"{platform.system()} {platform.release()}".strip() or "unknown",
            "ip_addresses": local_addresses(urlsplit(server).hostname or ""), "queue_depth": queue_depth}
    if config_refused:
        info["config_refused"] = config_refused
    return info


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

    def outcome(ok: bool, message: str, status: int | None, delivered: bool = False) -> UploadResult:
        return UploadResult(utc_now_iso(), ok, message, status, sent, stored, duplicates, len(outbox), delivered)

    try:
        while True:
            items = outbox.peek(batch_size)
            body = json.dumps({"agent": heartbeat(enrolment.server, len(outbox)),
                               "readings": [item.document for item in items]}, separators=(",", ":")).encode()
            try:
                answer = post(http, url, body, max_bytes=MAX_ANSWER, server=enrolment.server, auth=signer)
            except TrustError as exc:  # unreachable, too slow, too large: everything is kept
                result = outcome(False, str(exc), None)
                break
            if answer.status == 200:
                try:
                    ack = acknowledgement(answer.body, len(items))
                except ValueError as exc:
                    result = outcome(False, f"malformed acknowledgement from {enrolment.server} ({exc}); "
                                            f"{len(items)} reading(s) kept for the next attempt", 200)
                    break
                outbox.ack([item.id for item in items])
                sent, stored, duplicates = sent + len(items), stored + ack.stored, duplicates + ack.duplicates
                if len(items) < batch_size:
                    note = f"; {rejected} refused by the server and set aside (outbox.db, table rejected)" \
                        if rejected else ""
                    result = outcome(not rejected, f"{sent} reading(s) delivered ({stored} new, {duplicates} "
                                                   f"already there){note}", 200, delivered=True)
                    break
                continue
            problem = server_problem(answer)
            refused = _refused_reading(answer.status, problem, items)
            if refused is not None and not rejected:  # the server will never take this one: set it aside
                outbox.reject(refused.id, str(problem))
                rejected += 1
                continue
            if refused is not None:
                message = (f"upload refused by {enrolment.server} again, naming another reading ({problem}); "
                           f"1 reading set aside, the other {len(outbox)} kept for the next attempt")
            elif answer.status == 403 and problem.error == "certificate revoked":
                enrolment = dataclasses.replace(enrolment, revoked_at=utc_now_iso(), revoked_reason=problem.detail)
                store.save_enrolment(enrolment)
                message = revoked_message(enrolment)
            else:
                message = f"upload refused by {enrolment.server}: {problem}"
            result = outcome(False, message, answer.status)
            break
    finally:
        http.close()
    store.save_last_upload(result)
    return result
