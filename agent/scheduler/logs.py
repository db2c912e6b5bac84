"""The service's log: a rotating file under the agent log directory (and stderr when run by hand).

A `Redactor` on every handler replaces the values of configured secrets (communities, SNMPv3 keys) with
`***` wherever they would appear, as a second line of defence: the code logs credentials only through
`Credentials.describe()`, which never includes the secret.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from agent.snmp.credentials import Credentials

LOG_FILE = "agent.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5


class Redactor(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = ()

    def use(self, credentials: Iterable[Credentials]) -> None:
        found = {value for c in credentials for value in (c.community if c.version != "3" else None, c.auth_key,
                                                          c.priv_key) if value and len(value) >= 3}
        self.secrets = tuple(sorted(found, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


def setup_logging(log_dir: Path, level: str = "info", console: bool = True) -> Redactor:
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (log_dir / LOG_FILE).touch(mode=0o600)  # logs name devices and sites: the service's user reads them
    formatter = logging.Formatter("%(asctime)sZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    redactor = Redactor()
    handlers: list[logging.Handler] = [logging.handlers.RotatingFileHandler(
        log_dir / LOG_FILE, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")]
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(redactor)
        root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # its per-run INFO lines duplicate ours
    return redactor
