"""Where the server keeps its state: FLEETMETER_HOME/server when set, else the platform's directories.

The database is a SQLite file there unless `--db URL` or FLEETMETER_DB names another (PostgreSQL).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

APP = "fleetmeter"


@dataclass(frozen=True)
class ServerPaths:
    data: Path  # database (SQLite), CA, TLS certificate

    @property
    def ca_dir(self) -> Path:
        return self.data / "ca"

    @property
    def sqlite_file(self) -> Path:
        return self.data / "fleetmeter.db"

    def ensure(self) -> ServerPaths:
        """The data directory and the CA directory, 0700 whatever the umask (also when they existed)."""
        self.data.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.data.chmod(0o700)
        self.ca_dir.mkdir(mode=0o700, exist_ok=True)
        self.ca_dir.chmod(0o700)
        return self


def server_paths() -> ServerPaths:
    home = os.environ.get("FLEETMETER_HOME")
    if home:
        return ServerPaths(Path(home).expanduser() / "server" / "data")
    import platformdirs  # ~10 ms of a listing command's start-up: only without FLEETMETER_HOME

    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    base = platformdirs.site_data_dir(APP) if is_root else platformdirs.user_data_dir(APP)
    return ServerPaths(Path(base) / "server")


def database_url(explicit: str | None, paths: ServerPaths | None = None) -> str:
    """--db, else FLEETMETER_DB, else the SQLite file in the data directory (of `paths`, default server_paths())."""
    url = explicit or os.environ.get("FLEETMETER_DB")
    if not url:
        return f"sqlite:///{(paths or server_paths()).sqlite_file}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


_PASSWORD = re.compile(r"^([\w+.-]+://[^:/@]*:)[^/]*@")


def hide_password(url: str) -> str:
    """A database URL fit to show: its password as ***."""
    return _PASSWORD.sub(r"\1***@", url, count=1)
