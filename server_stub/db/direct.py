"""A plain DB-API connection (psycopg2 or sqlite3) to the server's database, for a read-only command that must
start fast: importing SQLAlchemy costs more than `devices list --json` may take in all (bench/devices_list.py).
Everything else goes through server_stub.db.engine (SQLAlchemy on psycopg 3).

PostgreSQL is reached here through psycopg2, libpq's other Python driver, because of start-up alone: it imports
in ~30 ms where psycopg 3 takes ~100 ms (its asyncio support, its error classes, a package-metadata scan), a
third of the 300 ms the whole 10,000-device listing may take. Both drivers speak to the database through libpq
with the same connection URI, and the commands here run plain SQL text through the DB-API (server_stub.db.
schema_version.at_head, server_stub.fleet.device_listing), so nothing depends on which one it is.

The URL is the one the engine would get (server_stub.paths.database_url): `postgresql+psycopg://...` is given
to libpq as the same URI without `+psycopg`, `sqlite:///FILE` opens FILE; any other URL (another driver, SQLite
URI options) is opened by the engine and its DB-API connection used.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PSYCOPG = "postgresql+psycopg://"
SQLITE = "sqlite:///"
SQLITE_BUSY_TIMEOUT_S = 10  # as the engine's busy_timeout pragma (server_stub.db.engine)


@contextmanager
def connect(url: str) -> Iterator[tuple[Any, str]]:
    """The DB-API connection to `url` and its dialect ("postgresql", "sqlite"), in a transaction that is rolled
    back at the end (nothing here writes). A SQLite file must exist (the caller checks: connecting would make
    it)."""
    if url.startswith(PSYCOPG):
        import psycopg2

        connection, dialect = psycopg2.connect("postgresql://" + url[len(PSYCOPG):]), "postgresql"
    elif url.startswith(SQLITE) and "?" not in url:
        import sqlite3

        connection, dialect = sqlite3.connect(url[len(SQLITE):], timeout=SQLITE_BUSY_TIMEOUT_S), "sqlite"
    else:
        from server_stub.db.engine import make_engine

        engine = make_engine(url)
        try:
            with engine.connect() as pooled:
                yield pooled.connection.driver_connection, engine.dialect.name
        finally:
            engine.dispose()
        return
    try:
        yield connection, dialect
    finally:
        connection.rollback()
        connection.close()


def unusable(exc: BaseException) -> str | None:
    """Why the database cannot be used (the first line of the driver's message) when `exc` says it cannot: an
    OperationalError of SQLAlchemy, psycopg, psycopg2 or sqlite3 (connection refused, authentication, a file that cannot
    be opened); None for any other exception. Only the modules already imported are asked."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.OperationalError):
        exc = exc.orig or exc
    elif not any(isinstance(exc, driver.OperationalError)
                 for driver in map(sys.modules.get, ("psycopg", "psycopg2", "sqlite3")) if driver is not None):
        return None
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
