"""The plain DB-API connection of the fast read-only commands (server_stub.db.direct) reaches the database the
engine reaches, from the same URL, on SQLite and PostgreSQL; the schema check answers through it."""

from __future__ import annotations

import pytest

from trust_peers import DATABASES, Database

from server_stub.db import direct, migrate
from server_stub.db.engine import make_engine
from server_stub.db.schema_version import at_head
from server_stub.paths import database_url


@pytest.fixture(params=DATABASES)
def database(request, tmp_path):
    db = Database(request.param, tmp_path)
    yield db
    db.drop()


def _marker(connection) -> str:
    cursor = connection.cursor()
    cursor.execute("SELECT marker FROM where_am_i")
    [(marker,)] = cursor.fetchall()
    cursor.close()
    return marker


def test_the_same_database_as_the_engine_and_the_schema_check(database):
    engine = make_engine(database.url)
    try:
        with direct.connect(database.url) as (connection, dialect):
            assert dialect == database.kind
            assert at_head(connection) is False  # never migrated: no alembic_version table
            cursor = connection.cursor()
            cursor.execute("SELECT 1")  # the failed look-up left the connection usable
            assert cursor.fetchall() == [(1,)]
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE where_am_i (marker VARCHAR(20))")
            conn.exec_driver_sql("INSERT INTO where_am_i VALUES ('engine wrote this')")
        with direct.connect(database.url) as (connection, _):
            assert at_head(connection) is True
            assert _marker(connection) == "engine wrote this"
    finally:
        engine.dispose()


def test_postgres_urls_as_the_user_writes_them(tmp_path):
    database = Database("postgresql", tmp_path)
    try:
        written = database.url.replace("postgresql+psycopg://", "postgresql://")  # as --db / FLEETMETER_DB take it
        with direct.connect(database_url(written)) as (connection, dialect):
            cursor = connection.cursor()
            cursor.execute("SELECT current_database()")
            assert (dialect, cursor.fetchall()) == ("postgresql", [(database.name,)])
    finally:
        database.drop()


def test_other_urls_go_through_the_engine(tmp_path):
    """A URL the direct path does not read itself (here SQLite with driver options) is opened by the engine."""
    url = f"sqlite:///{tmp_path / 'options.db'}?timeout=5"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE where_am_i (marker VARCHAR(20))")
        conn.exec_driver_sql("INSERT INTO where_am_i VALUES ('through options')")
    engine.dispose()
    with direct.connect(url) as (connection, dialect):
        assert (dialect, _marker(connection)) == ("sqlite", "through options")
