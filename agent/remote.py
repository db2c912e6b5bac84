"""The heartbeat: tell the server this agent is alive (and how its network and USB parts do), and get the
configuration the server holds for it back. Signed like uploads (RFC 9421), over the same session, proxy
and TLS anchor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import requests

from agent.certs.errors import TrustError
from agent.certs.signing import request_signer
from agent.certs.store import CertStore
from agent.certs.transport import TIMEOUT, proxy_for, server_problem, session, unreachable
from agent.upload import heartbeat, not_enrolled, revoked_message


@dataclass(frozen=True)
class HeartbeatAnswer:
    config: dict  # the server's configuration for this agent (client defaults merged with its own)
    config_version: str
    state: str


def send_heartbeat(store: CertStore, queue_depth: int, parts: dict[str, dict], config_version: str | None
                   ) -> HeartbeatAnswer:
    """Raises TrustError (one line) when the server cannot be reached or refuses."""
    enrolment = store.enrolment()
    if enrolment is None:
        raise not_enrolled()
    if enrolment.revoked_at:
        raise TrustError(revoked_message(enrolment))
    body = json.dumps({"agent": heartbeat(enrolment.server, queue_depth), "parts": parts,
                       "config_version": config_version}, separators=(",", ":")).encode()
    http = session(proxy_for(enrolment.server, enrolment.proxy), store.tls_verify())
    try:
        response = http.post(f"{enrolment.server}/v1/heartbeat", data=body, timeout=TIMEOUT,
                             auth=request_signer(store, enrolment.fingerprint),
                             headers={"Content-Type": "application/json"})
    except requests.RequestException as exc:
        raise unreachable(enrolment.server, exc) from None
    finally:
        http.close()
    if response.status_code != 200:
        error, detail = server_problem(response)
        raise TrustError(f"heartbeat refused by {enrolment.server}: {error}" + (f": {detail}" if detail else ""))
    answer = response.json()
    return HeartbeatAnswer(answer.get("config") or {}, str(answer.get("config_version") or ""),
                           str(answer.get("state") or ""))
