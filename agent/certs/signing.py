"""Signing uploads: RFC 9421 HTTP Message Signatures over @method, @path and the RFC 9530 Content-Digest of
the body, with created and a fresh nonce, keyed by the certificate's SHA-256 fingerprint."""

from __future__ import annotations

from requests_http_signature import HTTPSignatureAuth

from agent.certs import keys
from agent.certs.store import CertStore

COVERED = ("@method", "@path")  # content-digest is added (and covered) by the signer for every body


def request_signer(store: CertStore, key_id: str) -> HTTPSignatureAuth:
    key = store.private_key()
    return HTTPSignatureAuth(signature_algorithm=keys.signature_algorithm(key), key=keys.private_pem(key),
                             key_id=key_id, covered_component_ids=COVERED, use_nonce=True)
