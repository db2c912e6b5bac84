"""Monthly partitions of the history tables on PostgreSQL (server_stub.db.partitions, migration 0010): readings
land in the partition of their month, the worker's `partitions` task moves a month out of the default partition,
retention drops a whole expired month and leaves the others; upgrading a database with data from the
previous head keeps every row (and the readings' id sequence). SQLite keeps plain tables: the upgrade test
runs there too."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from alembic.config import Config
from sqlalchemy import func, select, text

from fleet_peers import add_agent, count, ingest, reading
from server_stub.db import migrate
from server_stub.db.engine import make_engine
from server_stub.db.partitions import PARTITIONED, ensure_partitions, monthly, partition_name
from server_stub.db.tables import meter_reads, readings, supply_observations
from server_stub.ingest.history import expire_readings
from trust_peers import DATABASES, Database

MONTHS = [datetime(2026, m, 15, 9, 0, tzinfo=timezone.utc) for m in (7, 8, 9)]
NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)


@pytest.fixture(params=DATABASES)
def engine(request, tmp_path):
    db = Database(request.param, tmp_path)
    engine = make_engine(db.url)
    yield engine
    engine.dispose()
    db.drop()


def where_rows_are(engine, table: str) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(text(f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1")).all())


def test_readings_land_in_their_months_and_retention_drops_the_oldest_month(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("partitions are PostgreSQL's; SQLite retention deletes rows (tests/test_fleet_*.py)")
    migrate.upgrade(engine)
    agent = add_agent(engine, "north", "Acme")
    for at in MONTHS:  # months before the ones made ahead: they wait in the default partition
        assert ingest(engine, agent, [reading("W492KB03439", at=at, total=1000 + at.month)]) == 1
    with engine.begin() as conn:
        assert ensure_partitions(conn, NOW) >= len(MONTHS) * len(PARTITIONED)
    for table in ("readings", "meter_reads", "supply_observations"):
        assert where_rows_are(engine, table) == {
            partition_name(table, at.date().replace(day=1)): 3 if table == "meter_reads" else
            (2 if table == "supply_observations" else 1) for at in MONTHS}, table

    with engine.begin() as conn:  # cutoff inside August: July's partition ends before it, August's does not
        removed = expire_readings(conn, timedelta(days=10), now=datetime(2026, 8, 11, tzinfo=timezone.utc))
        kept = monthly(conn, "readings")
    assert removed == 1
    assert partition_name("readings", MONTHS[0].date().replace(day=1)) not in kept.values()
    assert where_rows_are(engine, "readings") == {partition_name("readings", at.date().replace(day=1)): 1
                                                  for at in MONTHS[1:]}
    assert count(engine, meter_reads) == 3 * len(MONTHS)  # derived history stays
    assert count(engine, supply_observations) == 2 * len(MONTHS)
    assert ingest(engine, agent, [reading("W492KB03439", at=MONTHS[0] + timedelta(hours=1))]) == 1  # default again
    assert where_rows_are(engine, "readings")["readings_default"] == 1


def test_upgrade_from_the_previous_head_keeps_every_row(engine):
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        # the revision before the partitioning one: today's ingest writes every column that exists there
        command.upgrade(config, ScriptDirectory.from_config(config).get_revision("0010").down_revision)
    agent = add_agent(engine, "north", "Acme")
    for at in MONTHS:
        ingest(engine, agent, [reading(f"SER{at.month}{i}", at=at + timedelta(hours=i)) for i in range(3)])
    tables = (readings, meter_reads, supply_observations)
    with engine.connect() as conn:
        before = {t.name: sorted(map(tuple, conn.execute(select(t)).all())) for t in tables}
        top = conn.execute(select(func.max(readings.c.id))).scalar_one()
    migrate.upgrade(engine)
    assert migrate.is_current(engine)
    with engine.connect() as conn:
        after = {t.name: sorted(map(tuple, conn.execute(select(t)).all())) for t in tables}
    assert after == before and len(before["readings"]) == 3 * len(MONTHS)
    if engine.dialect.name == "postgresql":
        for table in before:
            placed = where_rows_are(engine, table)
            assert set(placed) == {partition_name(table, at.date().replace(day=1)) for at in MONTHS}, table
    ingest(engine, agent, [reading("NEW1", at=MONTHS[-1] + timedelta(days=1))])  # the id sequence goes on
    with engine.connect() as conn:
        assert conn.execute(select(func.max(readings.c.id))).scalar_one() == top + 1
