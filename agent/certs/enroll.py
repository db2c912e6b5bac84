"""Enrolment: a fresh key pair here, a CSR and the one-time agent key to the server, the issued
certificate and the server's CA stored. Files are replaced only once the server has issued the certificate,
so a refused enrolment leaves a working earlier identity untouched."""

from __future__ import annotations

import socket
from pathlib import Path

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes

from agent.certs import keys
from agent.certs.errors import TrustError
from agent.certs.store import CertStore, Enrolment
from agent.certs.transport import TIMEOUT, check_server_url, server_problem, session, unreachable
from fleetmeter_contract.reading import utc_now_iso


def enrol(store: CertStore, server: str, agent_key: str, *, proxy: str | None = None,
          ca_file: Path | None = None, allow_http: bool = False, key_type: str = "ed25519") -> Enrolment:
    server = check_server_url(server, allow_http)
    tls_ca = ca_file.read_bytes() if ca_file else None
    verify: str | bool = str(ca_file) if ca_file else store.tls_verify()
    key = keys.generate(key_type)
    hostname = socket.gethostname()
    body = {"key": agent_key, "csr": keys.csr_pem(key, hostname), "hostname": hostname}
    try:
        response = session(proxy, verify).post(f"{server}/v1/enroll", json=body, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise unreachable(server, exc) from None
    if response.status_code != 201:
        raise TrustError(f"enrolment refused by {server}: {server_problem(response)}")
    issued = response.json()
    cert = x509.load_pem_x509_certificate(issued["certificate"].encode())
    ca = x509.load_pem_x509_certificate(issued["ca_certificate"].encode())
    _check_issued(store, cert, ca, key)
    store.save_identity(key, issued["certificate"], issued["ca_certificate"], tls_ca)
    enrolment = Enrolment(server=server, agent=issued["agent"], client=issued["client"],
                          fingerprint=issued["fingerprint"], not_after=issued["not_after"],
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
