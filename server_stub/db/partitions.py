"""Monthly partitions of the tables that grow with time, on PostgreSQL (SQLite keeps plain tables).

readings (collected_at), meter_reads (read_at) and supply_observations (observed_at) are partitioned by RANGE
on their time column, one partition a month named `<table>_pYYYY_MM`, plus `<table>_default` as a safety net
for a row outside every month made so far (an import of old history, a clock far ahead). The worker task
`partitions` (server_stub.worker.tasks) makes the current month and MONTHS_AHEAD following ones, and moves any
month found in a default partition into its own partition. Retention of raw readings drops whole expired
months (server_stub.ingest.history.expire_readings) instead of deleting rows.

Partitions are children of the tables the code declares, not tables of their own: the migrations drift check
leaves them out (`include_name`, used by the Alembic environment and tests/test_migrations.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, timezone

from sqlalchemy import text
from sqlalchemy.engine import Connection

PARTITIONED = {"readings": "collected_at", "meter_reads": "read_at", "supply_observations": "observed_at"}
MONTHS_AHEAD = 3
_MONTHLY = re.compile(r"^(?P<table>\w+)_p(?P<year>\d{4})_(?P<month>\d{2})$")


def month_of(at: datetime | date) -> date:
    if isinstance(at, datetime):
        at = at.astimezone(timezone.utc)
    return date(at.year, at.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month.year:04d}_{month.month:02d}"


def _bound(month: date) -> str:
    return f"{month.isoformat()} 00:00:00+00"


def is_partitioned(conn: Connection, table: str) -> bool:
    return conn.dialect.name == "postgresql" and bool(conn.execute(text(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = :t AND c.relnamespace = current_schema()::regnamespace"), {"t": table}).first())


def partitions(conn: Connection, table: str) -> list[str]:
    """The names of `table`'s partitions (none on SQLite)."""
    if conn.dialect.name != "postgresql":
        return []
    return list(conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t "
        "AND p.relnamespace = current_schema()::regnamespace ORDER BY c.relname"), {"t": table}).scalars())


def monthly(conn: Connection, table: str) -> dict[date, str]:
    """`table`'s monthly partitions by month."""
    found = {}
    for name in partitions(conn, table):
        match = _MONTHLY.match(name)
        if match and match["table"] == table:
            found[date(int(match["year"]), int(match["month"]), 1)] = name
    return found


def create_month(conn: Connection, table: str, month: date) -> bool:
    """Make `table`'s partition for `month` if missing; rows of that month waiting in the default partition
    move into it (PostgreSQL refuses a new partition whose rows sit in the default one). True if made."""
    if month in monthly(conn, table):
        return False
    column, name, default = PARTITIONED[table], partition_name(table, month), f"{table}_default"
    bounds = {"lo": _bound(month), "hi": _bound(next_month(month))}
    waiting = f"{column} >= CAST(:lo AS timestamptz) AND {column} < CAST(:hi AS timestamptz)"
    moved = conn.execute(text(f"SELECT count(*) FROM {default} WHERE {waiting}"), bounds).scalar_one()
    if moved:
        conn.execute(text(f"CREATE TEMPORARY TABLE partition_move ON COMMIT DROP AS "
                          f"SELECT * FROM {default} WHERE {waiting}"), bounds)
        conn.execute(text(f"DELETE FROM {default} WHERE {waiting}"), bounds)
    conn.execute(text(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ('{bounds['lo']}') "
                      f"TO ('{bounds['hi']}')"))
    if moved:
        conn.execute(text(f"INSERT INTO {table} SELECT * FROM partition_move"))
        conn.execute(text("DROP TABLE partition_move"))
    return True


def ensure_partitions(conn: Connection, now: datetime, extra_months: Iterable[date] = ()) -> int:
    """The current month and MONTHS_AHEAD following ones for every partitioned table, `extra_months`, and
    every month found in a default partition get their own partition (an advisory lock serialises this
    between processes). Returns how many partitions were made; 0 on SQLite."""
    if conn.dialect.name != "postgresql":
        return 0
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('fleetmeter.partitions'))"))
    wanted, month = set(extra_months), month_of(now)
    for _ in range(MONTHS_AHEAD + 1):
        wanted.add(month)
        month = next_month(month)
    made = 0
    for table, column in PARTITIONED.items():
        if not is_partitioned(conn, table):
            continue
        stray = conn.execute(text(f"SELECT DISTINCT date_trunc('month', {column} AT TIME ZONE 'UTC')::date "
                                  f"FROM {table}_default")).scalars()
        for month in sorted(wanted | set(stray)):
            made += create_month(conn, table, month)
    return made


def drop_months_before(conn: Connection, table: str, cutoff: datetime) -> int:
    """Drop `table`'s monthly partitions that end at or before `cutoff`; returns the rows they held."""
    removed = 0
    for month, name in sorted(monthly(conn, table).items()):
        if datetime.combine(next_month(month), datetime.min.time(), timezone.utc) > cutoff:
            break
        removed += conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
        conn.execute(text(f"DROP TABLE {name}"))
    return removed


def include_name(conn: Connection) -> Callable[[str | None, str, dict], bool]:
    """An Alembic `include_name` hook leaving the partitions out of autogenerate's comparison: they are
    children of a declared table (pg_class.relispartition), made at run time, not part of the schema."""
    children = set(conn.execute(text(
        "SELECT relname FROM pg_class WHERE relispartition AND relnamespace = current_schema()::regnamespace"
    )).scalars()) if conn.dialect.name == "postgresql" else set()

    def include(name: str | None, type_: str, _parents: dict) -> bool:
        return not (type_ == "table" and name in children)
    return include
