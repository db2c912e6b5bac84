"""Encryption at rest for what the server must give back in clear (SNMP communities, SNMPv3 keys).

The key is a Fernet key (AES-128-CBC + HMAC-SHA256, `cryptography`): FLEETMETER_SECRET_KEY when set (every
server process sharing one PostgreSQL needs the same one), else `secret.key` (0600) beside the CA, created
by `fleetmeter-server init`. A sealed value is stored as {"sealed": "<Fernet token>"}.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from fleetmeter_contract.files import write_private

ENV = "FLEETMETER_SECRET_KEY"
KEY_FILE = "secret.key"
SEALED = "sealed"


class SecretKeyError(Exception):
    """No usable key, or a value sealed with another key."""


class SecretBox:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise SecretKeyError(f"the secret key is not a Fernet key (32 url-safe base64 bytes); make one with: "
                                 f"python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key()"
                                 f".decode())'") from None

    @classmethod
    def load(cls, ca_dir: Path) -> SecretBox | None:
        """FLEETMETER_SECRET_KEY, else secret.key in the CA directory, else None."""
        env = os.environ.get(ENV, "").strip()
        if env:
            return cls(env.encode())
        path = ca_dir / KEY_FILE
        return cls(path.read_bytes().strip()) if path.exists() else None

    @staticmethod
    def create_key_file(ca_dir: Path) -> bool:
        """Write secret.key (0600) unless it exists or the environment provides the key; True if written."""
        path = ca_dir / KEY_FILE
        if os.environ.get(ENV, "").strip() or path.exists():
            return False
        write_private(path, Fernet.generate_key() + b"\n")
        return True

    def seal(self, value: Any) -> dict:
        return {SEALED: self._fernet.encrypt(json.dumps(value).encode()).decode()}

    def open(self, value: Any) -> Any:
        if not is_sealed(value):
            return value
        try:
            return json.loads(self._fernet.decrypt(value[SEALED].encode()))
        except InvalidToken:
            raise SecretKeyError(f"a stored credential was sealed with another key; set the original "
                                 f"{ENV} (or {KEY_FILE} beside the CA)") from None


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {SEALED} and isinstance(value[SEALED], str)
