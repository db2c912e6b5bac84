"""The heartbeat: tell the server this agent is alive (and how its network and USB parts do), and get the
configuration the server holds for it back. Signed like uploads (RFC 9421), over the same session, proxy
and TLS anchor.

The answer is checked (`HeartbeatAck`) before anything uses it; whether the configuration in it can be
applied is the service's decision (agent.scheduler.service), before it is cached.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.certs.errors import TrustError
from agent.certs.signing import request_signer
from agent.certs.store import CertStore
from agent.certs.transport import post, proxy_for, server_problem, session
from agent.upload import heartbeat, not_enrolled, revoked_message

MAX_ANSWER = 4 * 1024 * 1024  # the configuration: ranges and credentials of one site


class HeartbeatAck(BaseModel):
    """The server's answer to a heartbeat (POST /v1/heartbeat, 200). `config` is the server's document as
    sent (any JSON value): a document the agent cannot use is refused and reported, not a failed heartbeat."""

    model_config = ConfigDict(strict=True, extra="ignore")
    config: Any = None
    config_version: str = Field(default="", max_length=64)
    state: str = Field(default="", max_length=32)


def send_heartbeat(store: CertStore, queue_depth: int, parts: dict[str, dict], config_version: str | None,
                   config_refused: dict | None = None) -> HeartbeatAck:
    """Raises TrustError (one line) when the server cannot be reached, refuses, or answers in another shape."""
    enrolment = store.enrolment()
    if enrolment is None:
        raise not_enrolled()
    if enrolment.revoked_at:
        raise TrustError(revoked_message(enrolment))
    body = json.dumps({"agent": heartbeat(enrolment.server, queue_depth, config_refused), "parts": parts,
                       "config_version": config_version}, separators=(",", ":")).encode()
    http = session(proxy_for(enrolment.server, enrolment.proxy), store.tls_verify())
    try:
        answer = post(http, f"{enrolment.server}/v1/heartbeat", body, max_bytes=MAX_ANSWER,
                      server=enrolment.server, auth=request_signer(store, enrolment.fingerprint))
    finally:
        http.close()
    if answer.status != 200:
        raise TrustError(f"heartbeat refused by {enrolment.server}: {server_problem(answer)}")
    try:
        return HeartbeatAck.model_validate_json(answer.body)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise TrustError(f"malformed heartbeat answer from {enrolment.server} "
                         f"({'.'.join(map(str, first['loc'])) or 'document'}: {first['msg']})") from None
