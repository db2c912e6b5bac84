"""The server's certificate authority: it signs agent certificates (from CSRs) and, optionally, the
server's own TLS certificate. Key P-256, stored 0600 next to its self-signed certificate."""

from __future__ import annotations

import hashlib
import ipaddress
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fleetmeter_contract.files import write_private

CA_KEY = "ca-key.pem"
CA_CERT = "ca.pem"
TLS_KEY = "tls-key.pem"
TLS_CERT = "tls.pem"


class CsrError(ValueError):
    """The CSR cannot be signed (malformed, bad self-signature, key type not accepted)."""


@dataclass(frozen=True)
class IssuedCertificate:
    pem: str
    fingerprint: str
    serial: str
    not_before: datetime
    not_after: datetime


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


class CertificateAuthority:
    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, directory: Path) -> None:
        self.key = key
        self.directory = directory  # also holds the server's secret key (server_stub.trust.secrets)
        self.cert = cert
        self.pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        self.fingerprint = fingerprint(cert)

    @classmethod
    def load(cls, directory: Path) -> CertificateAuthority:
        key = serialization.load_pem_private_key((directory / CA_KEY).read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
        return cls(key, cert, directory)

    @classmethod
    def create(cls, directory: Path, common_name: str, years: int = 10) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fleetmeter")])
        now = datetime.now(timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=365 * years))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False, key_agreement=False,
                                             key_cert_sign=True, crl_sign=True, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        write_private(directory / CA_KEY, key.private_bytes(serialization.Encoding.PEM,
                                                            serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))
        (directory / CA_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(key, cert, directory)

    def _builder(self, subject: x509.Name, public_key, days: int) -> x509.CertificateBuilder:
        now = datetime.now(timezone.utc)
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject)
                .public_key(public_key).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                               critical=False))

    def sign_csr(self, csr_pem: str, agent: str, client: str, days: int) -> IssuedCertificate:
        """An agent certificate for the key in the CSR; the subject is ours (agent, client), not the CSR's."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError as exc:
            raise CsrError(f"csr is not a PEM certificate signing request ({exc})") from None
        if not csr.is_signature_valid:
            raise CsrError("csr signature does not match its public key")
        public_key = csr.public_key()
        if not (isinstance(public_key, ed25519.Ed25519PublicKey)
                or (isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name == "secp256r1")):
            raise CsrError("csr key must be Ed25519 or ECDSA P-256")
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, agent),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, client or "-")])
        cert = (self._builder(subject, public_key, days)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False, key_agreement=False,
                                             key_cert_sign=False, crl_sign=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(self.key, hashes.SHA256()))
        return IssuedCertificate(cert.public_bytes(serialization.Encoding.PEM).decode(), fingerprint(cert),
                                 format(cert.serial_number, "x"), cert.not_valid_before_utc,
                                 cert.not_valid_after_utc)

    def issued_by_me(self, cert: x509.Certificate) -> bool:
        try:
            cert.verify_directly_issued_by(self.cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True

    def create_tls(self, directory: Path, hosts: list[str], days: int = 825) -> tuple[Path, Path]:
        """A TLS server certificate for `hosts` (names or IP addresses), signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else socket.gethostname())])
        cert = (self._builder(subject, key.public_key(), days)
                .add_extension(x509.SubjectAlternativeName(names), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(self.key, hashes.SHA256()))
        key_path, cert_path = directory / TLS_KEY, directory / TLS_CERT
        write_private(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert_path, key_path
