"""SNMP credentials (v1, v2c, v3 USM) and their translation to pysnmp's auth objects."""

from __future__ import annotations

from dataclasses import dataclass, field

# Protocol names -> pysnmp's constant names (pysnmp itself is imported only when SNMPv3 is used: it
# costs about half a second of start-up).
AUTH_PROTOCOLS = {
    "MD5": "USM_AUTH_HMAC96_MD5",
    "SHA": "USM_AUTH_HMAC96_SHA",
    "SHA224": "USM_AUTH_HMAC128_SHA224",
    "SHA256": "USM_AUTH_HMAC192_SHA256",
    "SHA384": "USM_AUTH_HMAC256_SHA384",
    "SHA512": "USM_AUTH_HMAC384_SHA512",
}
PRIV_PROTOCOLS = {
    "DES": "USM_PRIV_CBC56_DES",
    "3DES": "USM_PRIV_CBC168_3DES",
    "AES": "USM_PRIV_CFB128_AES",
    "AES128": "USM_PRIV_CFB128_AES",
    "AES192": "USM_PRIV_CFB192_AES",
    "AES256": "USM_PRIV_CFB256_AES",
}


class CredentialError(ValueError):
    """Credentials that cannot work (a usage error: exit code 2)."""


@dataclass(frozen=True)
class Credentials:
    version: str = "2c"  # "1", "2c" or "3"
    community: str = field(default="public", repr=False)  # secrets stay out of reprs and tracebacks
    user: str | None = None
    auth_proto: str | None = None
    auth_key: str | None = field(default=None, repr=False)
    priv_proto: str | None = None
    priv_key: str | None = field(default=None, repr=False)
    context: str = ""

    def __post_init__(self) -> None:
        if self.version not in ("1", "2c", "3"):
            raise CredentialError(f"SNMP version must be 1, 2c or 3, not {self.version!r}")
        if self.version != "3":
            return
        if not self.user:
            raise CredentialError("SNMPv3 needs a user name (--v3-user)")
        if self.auth_proto and self.auth_proto.upper() not in AUTH_PROTOCOLS:
            raise CredentialError(
                f"unknown SNMPv3 auth protocol {self.auth_proto!r}; use one of {', '.join(AUTH_PROTOCOLS)}")
        if self.priv_proto and self.priv_proto.upper() not in PRIV_PROTOCOLS:
            raise CredentialError(
                f"unknown SNMPv3 privacy protocol {self.priv_proto!r}; use one of {', '.join(PRIV_PROTOCOLS)}")
        if self.auth_key is not None and len(self.auth_key) < 8:
            raise CredentialError("SNMPv3 auth key must be at least 8 characters (RFC 3414)")
        if self.priv_key is not None and len(self.priv_key) < 8:
            raise CredentialError("SNMPv3 privacy key must be at least 8 characters (RFC 3414)")
        if self.priv_key and not self.auth_key:
            raise CredentialError("SNMPv3 privacy needs authentication too (--auth-key)")

    @property
    def security_level(self) -> str:
        if self.version != "3":
            return "community"
        if self.priv_key:
            return "authPriv"
        return "authNoPriv" if self.auth_key else "noAuthNoPriv"

    def describe(self) -> str:
        """Which credential this is, without the secret: safe for logs and output."""
        if self.version == "3":
            return f"v3 user {self.user} ({self.security_level})"
        return f"v{self.version} community #{_fingerprint(self.community)}"

    def auth_data(self):
        """pysnmp's USM user for this SNMPv3 credential (community requests do not use pysnmp)."""
        from pysnmp.hlapi.v3arch.asyncio import UsmUserData
        from pysnmp.hlapi.v3arch.asyncio import auth

        kwargs: dict[str, object] = {}
        if self.auth_key:
            kwargs["authKey"] = self.auth_key
            kwargs["authProtocol"] = getattr(auth, AUTH_PROTOCOLS[(self.auth_proto or "SHA").upper()])
        if self.priv_key:
            kwargs["privKey"] = self.priv_key
            kwargs["privProtocol"] = getattr(auth, PRIV_PROTOCOLS[(self.priv_proto or "AES").upper()])
        return UsmUserData(self.user, **kwargs)


def _fingerprint(secret: str) -> str:
    import hashlib

    return hashlib.sha256(secret.encode()).hexdigest()[:6]
