"""The migrations produce exactly the tables the code declares (no drift), on SQLite and PostgreSQL, and new
revisions can be generated the ordinary way (`alembic` at the repository root)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from server_stub.db import migrate
from server_stub.db.engine import make_engine
from server_stub.db.schema import metadata
from trust_peers import DATABASES, Database

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=DATABASES)
def database(request, tmp_path):
    db = Database(request.param, tmp_path)
    yield db
    db.drop()


def test_migrations_match_the_declared_tables(database):
    engine = make_engine(database.url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            drift = compare_metadata(MigrationContext.configure(conn), metadata)
            tables = set(conn.dialect.get_table_names(conn))
    finally:
        engine.dispose()
    assert drift == []
    assert tables - {"alembic_version"} == set(metadata.tables)


def test_alembic_command_works_from_the_repository(database):
    env = {**os.environ, "FLEETMETER_DB": database.url, "FLEETMETER_HOME": str(Path(database.url).parent)}
    alembic = [sys.executable, "-m", "alembic"]
    upgraded = subprocess.run([*alembic, "upgrade", "head"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr
    checked = subprocess.run([*alembic, "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0 and "No new upgrade operations detected" in checked.stdout + checked.stderr
