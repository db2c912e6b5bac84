"""Secrets at rest on the agent (SNMP communities and v3 keys from the server's configuration).

They are encrypted with AES-256-GCM (cryptography's AESGCM). The key is protected by the operating system:
on Windows it is sealed with DPAPI for the machine (CryptProtectData through ctypes: only this machine can
unseal it), on Linux and other POSIX systems it is a 0600 file under the agent's data directory, readable
only by the service's user (systemd's StateDirectory is 0700 as well). A copied data directory without the
machine (Windows) or without root access to it (Linux) does not reveal the credentials.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from agent.certs.files import write_private

KEY_FILE = "vault.key"
PREFIX = b"fmv1:"


class VaultError(Exception):
    """The sealed data or the key cannot be used (a one-line explanation)."""


class Vault:
    def __init__(self, data_dir: Path) -> None:
        self.key_file = data_dir / KEY_FILE
        self._aead: AESGCM | None = None

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            self._aead = AESGCM(self._load_or_create_key())
        return self._aead

    def _load_or_create_key(self) -> bytes:
        if self.key_file.exists():
            return _unprotect(self.key_file.read_bytes())
        key = AESGCM.generate_key(bit_length=256)
        self.key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(self.key_file, _protect(key))
        return key

    def seal(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        return PREFIX + base64.b64encode(nonce + self._cipher().encrypt(nonce, plaintext, PREFIX))

    def open(self, sealed: bytes) -> bytes:
        if not sealed.startswith(PREFIX):
            raise VaultError("sealed data has an unknown format")
        raw = base64.b64decode(sealed[len(PREFIX):])
        try:
            return self._cipher().decrypt(raw[:12], raw[12:], PREFIX)
        except InvalidTag:
            raise VaultError(f"sealed data does not open with the key in {self.key_file} (key replaced or data "
                             "copied from another machine); the server's configuration is fetched again on the "
                             "next heartbeat") from None


def _protect(key: bytes) -> bytes:
    return _dpapi(key, protect=True) if sys.platform == "win32" else key


def _unprotect(stored: bytes) -> bytes:
    return _dpapi(stored, protect=False) if sys.platform == "win32" else stored


def _dpapi(data: bytes, protect: bool) -> bytes:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    class Blob(ctypes.Structure):
        _fields_ = [("cbData", wintypes.DWORD), ("pbData", ctypes.POINTER(ctypes.c_char))]

    crypt32, kernel32 = ctypes.windll.crypt32, ctypes.windll.kernel32
    buffer = ctypes.create_string_buffer(data, len(data))
    blob_in, blob_out = Blob(len(data), buffer), Blob()
    CRYPTPROTECT_UI_FORBIDDEN, CRYPTPROTECT_LOCAL_MACHINE = 0x1, 0x4
    flags = CRYPTPROTECT_UI_FORBIDDEN | CRYPTPROTECT_LOCAL_MACHINE
    call = crypt32.CryptProtectData if protect else crypt32.CryptUnprotectData
    args = (ctypes.byref(blob_in), "fleetmeter" if protect else None, None, None, None, flags,
            ctypes.byref(blob_out))
    if not call(*args):
        raise VaultError(f"DPAPI {'protect' if protect else 'unprotect'} failed (error {kernel32.GetLastError()})")
    try:
        return ctypes.string_at(blob_out.pbData, blob_out.cbData)
    finally:
        kernel32.LocalFree(blob_out.pbData)
