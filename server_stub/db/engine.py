"""The database engine, the dialect-aware INSERT and the one clock (UTC) the server's rows use."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine


def make_engine(url: str) -> Engine:
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "do_connect", _sqlite_private_files)
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_private_files(dialect, _record, cargs, _cparams) -> None:
    """The database file 0600 before SQLite opens it, whatever the umask: SQLite gives its -wal and -shm files
    the database file's mode. Files from before (or another umask) are set to 0600 too."""
    database = cargs[0] if cargs else None
    if not database or database == ":memory:" or str(database).startswith("file:"):
        return
    path = Path(database)
    if path.parent.is_dir():
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        if file.exists() and file.stat().st_mode & 0o777 != 0o600:
            file.chmod(0o600)


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
