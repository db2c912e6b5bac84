"""Checking an agent's signed request (RFC 9421 HTTP Message Signatures, RFC 9530 Content-Digest).

Accepted only if: the key id names a certificate this server issued (it chains to our CA and is within its
validity), the signature covers @method, @path and content-digest and verifies with that certificate's key,
`created` is within the window (either side: a fast or slow agent clock), a nonce is present, the digest
matches the body, and the certificate is not revoked. The nonce is then claimed in its own committed
transaction (trust.nonces.Replayed if it was seen): whatever the request's answer later (429, 400, a failed
store), the same signed request is never accepted again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import http_sf
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from http_message_signatures import HTTPMessageVerifier, HTTPSignatureKeyResolver, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from requests_http_signature import HTTPSignatureAuth
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from server_stub.trust.ca import CertificateAuthority
from server_stub.trust.nonces import claim_nonce
from server_stub.db.tables import agents, certificates

REQUIRED_COMPONENTS = ("@method", "@path", "content-digest")


class Rejected(Exception):
    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(f"{error}: {detail}")
        self.status, self.error, self.detail = status, error, detail


@dataclass(frozen=True)
class Signer:
    agent_id: int
    agent: str
    fingerprint: str
    nonce: str


class _KeyResolver(HTTPSignatureKeyResolver):
    def __init__(self, key_id: str, public_key) -> None:
        self.key_id, self.public_key = key_id, public_key

    def resolve_public_key(self, key_id: str):
        if key_id != self.key_id:
            raise Rejected(401, "invalid signature", "keyid changed between lookup and verification")
        return self.public_key

    def resolve_private_key(self, key_id: str):
        raise NotImplementedError


class RequestVerifier:
    def __init__(self, engine: Engine, ca: CertificateAuthority, window: timedelta) -> None:
        self.engine, self.ca, self.window = engine, ca, window
        verifier = type("WindowVerifier", (HTTPMessageVerifier,), {"max_clock_skew": window})
        self._auth = type("WindowAuth", (HTTPSignatureAuth,), {"verifier_class": verifier})
        self._chain_ok: dict[str, x509.Certificate] = {}  # fingerprint -> parsed cert that chains to our CA

    def verify(self, method: str, url: str, headers: dict[str, str], body: bytes,
               conn: Connection | None = None) -> Signer:
        """The request's signer, its nonce claimed and committed. `conn`: a connection with no transaction open
        (the route's, which then stores in the same checkout); default: one of the engine's."""
        if conn is None:
            with self.engine.connect() as own:
                return self.verify(method, url, headers, body, own)
        key_id, created = _signature_params(headers)
        if abs(time.time() - created) > self.window.total_seconds():
            raise Rejected(401, "signature outside time window",
                           f"signature created {int(time.time() - created)} s from server time; allowed "
                           f"±{int(self.window.total_seconds())} s: check the agent machine's clock (NTP)")
        with conn.begin():  # committed at the end: a nonce once seen stays seen, whatever the answer
            row = conn.execute(select(certificates.c.pem, certificates.c.revoked_at, certificates.c.agent_id,
                                      agents.c.name).join(agents, agents.c.id == certificates.c.agent_id)
                               .where(certificates.c.fingerprint == key_id)).first()
            if row is None:
                raise Rejected(401, "unknown certificate", "no certificate issued by this server has that key id; "
                                                           "enrol the agent (fleetmeter-agent enroll)")
            cert = self._certificate(key_id, row.pem)
            now = datetime.now(timezone.utc)
            if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                raise Rejected(401, "certificate expired", f"the agent certificate expired at "
                                                           f"{cert.not_valid_after_utc}; enrol again with a new key")
            public_key = cert.public_key()
            algorithm = algorithms.ED25519 if isinstance(public_key, ed25519.Ed25519PublicKey) \
                else algorithms.ECDSA_P256_SHA256
            message = requests.Request(method, url, headers=headers, data=body).prepare()
            try:
                result = self._auth.verify(message, require_components=REQUIRED_COMPONENTS,
                                           signature_algorithm=algorithm,
                                           key_resolver=_KeyResolver(key_id, public_key), max_age=self.window)
            except HTTPMessageSignaturesException as exc:
                raise Rejected(401, "invalid signature", str(exc)) from None
            if not result.nonce:
                raise Rejected(401, "invalid signature", "the signature has no nonce parameter")
            if row.revoked_at is not None:
                raise Rejected(403, "certificate revoked",
                               f"certificate of agent {row.name!r} was revoked at {row.revoked_at:%Y-%m-%d %H:%M} "
                               "UTC; enrol again with a new agent key")
            claim_nonce(conn, result.nonce)
        return Signer(row.agent_id, row.name, key_id, result.nonce)

    def _certificate(self, fingerprint: str, pem: str) -> x509.Certificate:
        cert = self._chain_ok.get(fingerprint)
        if cert is None:
            cert = x509.load_pem_x509_certificate(pem.encode())
            if not self.ca.issued_by_me(cert):
                raise Rejected(401, "unknown certificate", "certificate does not chain to this server's CA")
            key = cert.public_key()
            if not isinstance(key, (ed25519.Ed25519PublicKey, ec.EllipticCurvePublicKey)):
                raise Rejected(401, "unknown certificate", "certificate key type not accepted")
            self._chain_ok[fingerprint] = cert
        return cert


def _signature_params(headers: dict[str, str]) -> tuple[str, int]:
    """keyid and created of the (single) signature, read before verification to find the key."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "signature-input" not in lowered or "signature" not in lowered:
        raise Rejected(401, "request not signed", "Signature and Signature-Input headers are required (RFC 9421)")
    try:
        parsed = http_sf.parse(lowered["signature-input"].encode(), tltype="dictionary")
    except (http_sf.StructuredFieldError, ValueError) as exc:
        raise Rejected(401, "invalid signature", f"Signature-Input: {exc}") from None
    if len(parsed) != 1:
        raise Rejected(401, "invalid signature", "exactly one signature expected")
    member = next(iter(parsed.values()))
    params = member[1] if isinstance(member, tuple) and len(member) == 2 and isinstance(member[1], dict) else {}
    key_id, created = params.get("keyid"), params.get("created")
    if not isinstance(key_id, str) or not isinstance(created, int):
        raise Rejected(401, "invalid signature", "signature parameters keyid and created are required")
    return key_id, created
