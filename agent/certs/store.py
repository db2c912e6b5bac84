"""What enrolment leaves on the agent machine, under <agent data dir>/certs:

    key.pem          the private key (0600; never leaves the machine)
    cert.pem         the certificate the server issued for it
    ca.pem           the server's agent CA, pinned at first enrolment
    tls-ca.pem       the trust anchor for the server's TLS certificate (from --ca-file), if one was given
    enrolment.json   server URL, proxy, agent name, certificate fingerprint and expiry, revocation
    last-upload.json the result of the last upload attempt
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from agent.certs.files import write_atomic, write_private
from agent.certs.keys import PrivateKey, load_private, private_pem
from agent.home import agent_paths


@dataclass
class Enrolment:
    server: str
    agent: str
    client: str
    fingerprint: str
    not_after: str
    enrolled_at: str
    key_type: str
    ca_fingerprint: str
    proxy: str | None = None
    allow_http: bool = False
    revoked_at: str | None = None
    revoked_reason: str | None = None


@dataclass
class UploadResult:
    at: str
    ok: bool
    message: str
    status: int | None = None  # HTTP status, None when the server was not reached
    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    queued: int = 0
    delivered: bool = False  # the queue was sent to its end and acknowledged (some readings may be set aside)


class CertStore:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.key_file = directory / "key.pem"
        self.cert_file = directory / "cert.pem"
        self.ca_file = directory / "ca.pem"
        self.tls_ca_file = directory / "tls-ca.pem"
        self.enrolment_file = directory / "enrolment.json"
        self.upload_file = directory / "last-upload.json"

    def _ensure(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def enrolment(self) -> Enrolment | None:
        if not self.enrolment_file.exists():
            return None
        return Enrolment(**json.loads(self.enrolment_file.read_text()))

    def save_enrolment(self, enrolment: Enrolment) -> None:
        self._ensure()
        write_atomic(self.enrolment_file, json.dumps(dataclasses.asdict(enrolment), indent=2).encode())

    def save_identity(self, key: PrivateKey, cert_pem: str, ca_pem: str, tls_ca_pem: bytes | None) -> None:
        """Key, certificate and CA replace the old ones together, only after the server issued them."""
        self._ensure()
        write_private(self.key_file, private_pem(key))
        write_atomic(self.cert_file, cert_pem.encode())
        write_atomic(self.ca_file, ca_pem.encode())
        if tls_ca_pem is not None:
            write_atomic(self.tls_ca_file, tls_ca_pem)

    def private_key(self) -> PrivateKey:
        return load_private(self.key_file.read_bytes())

    def pinned_ca(self) -> bytes | None:
        return self.ca_file.read_bytes() if self.ca_file.exists() else None

    def tls_verify(self) -> str | bool:
        """requests' `verify`: the pinned TLS anchor when there is one, else the system's trust store."""
        return str(self.tls_ca_file) if self.tls_ca_file.exists() else True

    def last_upload(self) -> UploadResult | None:
        if not self.upload_file.exists():
            return None
        fields = {f.name for f in dataclasses.fields(UploadResult)}
        return UploadResult(**{k: v for k, v in json.loads(self.upload_file.read_text()).items() if k in fields})

    def save_last_upload(self, result: UploadResult) -> None:
        self._ensure()
        write_atomic(self.upload_file, json.dumps(dataclasses.asdict(result), indent=2).encode())


def agent_store() -> CertStore:
    return CertStore(agent_paths().data / "certs")
