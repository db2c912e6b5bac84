"""The database engine, the dialect-aware INSERT and the one clock (UTC) the server's rows use."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from fleetmeter_contract.files import create_private, keep_private


def make_engine(url: str) -> Engine:
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "do_connect", _sqlite_private_files)
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


_CONNECTING = threading.Lock()


def _sqlite_private_files(dialect, _record, cargs, cparams):
    """The database file 0600 before SQLite opens it, whatever the umask, and files from before (or another
    umask) set to 0600 too. Connections are opened under one lock so that no connection of this process
    takes SQLite's locks while the file is being created (see create_private)."""
    database = cargs[0] if cargs else None
    with _CONNECTING:
        if database and database != ":memory:" and not str(database).startswith("file:"):
            path = Path(database)
            if path.parent.is_dir():
                create_private(path)
            for suffix in ("-wal", "-shm", "-journal"):
                keep_private(Path(f"{path}{suffix}"))
        return dialect.connect(*cargs, **cparams)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def upsert_insert(conn: Connection, table: Table):
    """INSERT with the dialect's ON CONFLICT support (PostgreSQL or SQLite)."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
