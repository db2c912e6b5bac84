"""Is the database at the code's schema? Answered without importing Alembic (every CLI command asks it first;
Alembic's import costs more than a listing command may take): the head is the revision of
server_stub/db/migrations/versions that no other revision names as its down_revision, and the database's
revision is the alembic_version row. tests/test_migrations.py checks the head against Alembic's own.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ProgrammingError, OperationalError

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


def is_current(engine: Engine) -> bool:
    with engine.connect() as connection:
        try:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except (ProgrammingError, OperationalError):  # no alembic_version table: never migrated
            return False
    return rows == [head_revision()]
