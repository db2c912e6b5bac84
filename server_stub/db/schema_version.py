"""Is the database at the code's schema? Answered without importing Alembic or SQLAlchemy (every CLI command asks
it first; their imports cost more than a listing command may take): the head is the revision of
server_stub/db/migrations/versions that no other revision names as its down_revision, and the database's
revision is the alembic_version row, read through the DB-API connection. tests/test_migrations.py checks the
head against Alembic's own.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

VERSIONS = Path(__file__).resolve().parent / "migrations" / "versions"
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*['\"]?([\w-]+)['\"]?", re.MULTILINE)


@cache
def head_revision() -> str:
    revisions, parents = set(), set()
    for path in VERSIONS.glob("*.py"):
        found = dict(_ASSIGNMENT.findall(path.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
            parents.add(found.get("down_revision"))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def at_head(connection) -> bool:
    """Whether the database of `connection` (a DB-API connection: psycopg, sqlite3) is at the head revision; a
    database never migrated (no alembic_version table) is not."""
    cursor = connection.cursor()
    try:
        cursor.execute("SELECT version_num FROM alembic_version")
        rows = [revision for (revision,) in cursor.fetchall()]
    except (connection.ProgrammingError, connection.OperationalError):  # no such table
        connection.rollback()
        return False
    finally:
        cursor.close()
    return rows == [head_revision()]


def is_current(engine: Engine) -> bool:
    with engine.connect() as connection:
        return at_head(connection.connection.driver_connection)
