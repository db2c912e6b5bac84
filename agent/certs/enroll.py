"""Enrolment: a fresh key pair here, a CSR and the one-time agent key to the server, the issued
certificate and the server's CA stored. Files are replaced only once the server has issued the certificate,
so a refused enrolment leaves a working earlier identity untouched."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.certs import keys
from agent.certs.errors import TrustError
from agent.certs.store import CertStore, Enrolment
from agent.certs.transport import check_server_url, post, server_problem, session
from fleetmeter_contract.reading import utc_now_iso

MAX_ANSWER = 256 * 1024  # a certificate, the CA's and a few names


class Issued(BaseModel):
    """The server's answer to an enrolment (POST /v1/enroll, 201)."""

    model_config = ConfigDict(strict=True, extra="ignore")
    agent: str = Field(min_length=1, max_length=200)
    client: str = Field(max_length=200)
    certificate: str = Field(max_length=64 * 1024)
    ca_certificate: str = Field(max_length=64 * 1024)
    fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$")
    not_after: str = Field(max_length=64)


def enrol(store: CertStore, server: str, agent_key: str, *, proxy: str | None = None,
          ca_file: Path | None = None, allow_http: bool = False, key_type: str = "ed25519") -> Enrolment:
    server = check_server_url(server, allow_http)
    tls_ca = ca_file.read_bytes() if ca_file else None
    verify: str | bool = str(ca_file) if ca_file else store.tls_verify()
    key = keys.generate(key_type)
    hostname = socket.gethostname()
    body = {"key": agent_key, "csr": keys.csr_pem(key, hostname), "hostname": hostname}
    http = session(proxy, verify)
    try:
        answer = post(http, f"{server}/v1/enroll", json.dumps(body).encode(), max_bytes=MAX_ANSWER, server=server)
    finally:
        http.close()
    if answer.status != 201:
        raise TrustError(f"enrolment refused by {server}: {server_problem(answer)}")
    try:
        issued = Issued.model_validate_json(answer.body)
        cert = x509.load_pem_x509_certificate(issued.certificate.encode())
        ca = x509.load_pem_x509_certificate(issued.ca_certificate.encode())
    except (ValidationError, ValueError):
        raise TrustError(f"malformed enrolment answer from {server} (not the agent, certificate, CA, "
                         "fingerprint and expiry); enrolment not saved") from None
    _check_issued(store, cert, ca, key)
    store.save_identity(key, issued.certificate, issued.ca_certificate, tls_ca)
    enrolment = Enrolment(server=server, agent=issued.agent, client=issued.client,
                          fingerprint=issued.fingerprint, not_after=issued.not_after,
                          enrolled_at=utc_now_iso(), key_type=key_type, ca_fingerprint=_sha256(ca),
                          proxy=proxy, allow_http=allow_http)
    store.save_enrolment(enrolment)
    return enrolment


def _check_issued(store: CertStore, cert: x509.Certificate, ca: x509.Certificate, key: keys.PrivateKey) -> None:
    if not keys.same_public_key(cert, key):
        raise TrustError("the server returned a certificate for a different key; enrolment not saved")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise TrustError("the certificate does not chain to the CA the server sent; enrolment not saved") from None
    pinned = store.pinned_ca()
    if pinned is not None and _sha256(x509.load_pem_x509_certificate(pinned)) != _sha256(ca):
        raise TrustError(f"the server's CA differs from the one pinned at first enrolment ({store.ca_file}); if "
                         "the dealer really replaced its CA, delete that file and enrol again")


def _sha256(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()
