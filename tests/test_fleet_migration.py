"""Upgrading a database that holds readings from revision 0003 (before the fleet model) to head keeps every
reading, gives each agent's client a row, and `init`'s backfill derives assets and history for the old
readings; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, select, text

from fleet_peers import T0, reading
from server_stub.db import migrate
from server_stub.db.engine import make_engine, utcnow
from server_stub.db.tables import agents, asset_latest, assets, clients, meter_reads, readings
from server_stub.ingest.history import backfill
from trust_peers import DATABASES, Database


@pytest.fixture(params=DATABASES)
def engine(request, tmp_path):
    db = Database(request.param, tmp_path)
    engine = make_engine(db.url)
    yield engine
    engine.dispose()
    db.drop()


def upgrade_to(engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def test_upgrade_from_0003_keeps_readings_and_backfills_assets(engine):
    upgrade_to(engine, "0003")
    now = utcnow()
    # as the 0003 code stored them: device_key by the old identity rule, no asset
    documents = [(1, "serial:ricoh:W492KB03439", reading("W492KB03439", at=T0 + timedelta(hours=h), total=100 + h))
                 for h in range(3)]
    documents += [(2, "serial:hewlett-packard:CNB1234567",
                   reading("CNB1234567", manufacturer="Hewlett-Packard", at=T0)),
                  (2, "serial:hp:CNB1234567", reading("CNB1234567", manufacturer="HP", at=T0 + timedelta(hours=1)))]
    with engine.begin() as conn:
        for agent_id, name, client in ((1, "old-1", "Acme"), (2, "old-2", "Globex")):
            conn.execute(text("INSERT INTO agents (id, name, client, state, created_at) "
                              "VALUES (:id, :name, :client, 'enrolled', :now)"),
                         {"id": agent_id, "name": name, "client": client, "now": now})
        for agent_id, key, document in documents:
            conn.execute(text("INSERT INTO readings (agent_id, device_key, collected_at, received_at, document) "
                              "VALUES (:a, :k, :at, :now, :doc)"),
                         {"a": agent_id, "k": key, "at": document["collected_at"].replace("Z", "+00:00")
                          if engine.dialect.name == "postgresql" else document["collected_at"][:19].replace("T", " "),
                          "now": now, "doc": json.dumps(document)})

    migrate.upgrade(engine)
    assert migrate.is_current(engine)
    with engine.begin() as conn:
        assert backfill(conn) == len(documents)
        assert backfill(conn) == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(readings)).scalar_one() == len(documents)
        assert conn.execute(select(func.count()).select_from(readings).where(readings.c.asset_id.is_(None))).scalar_one() == 0
        linked = dict(conn.execute(select(agents.c.name, clients.c.name).join(clients, clients.c.id == agents.c.client_id)).all())
        assert linked == {"old-1": "Acme", "old-2": "Globex"}
        per_agent = dict(conn.execute(select(readings.c.agent_id, func.count(func.distinct(readings.c.asset_id)))
                                      .group_by(readings.c.agent_id)).all())
        assert per_agent == {1: 1, 2: 1}  # the HP spelled two ways is one asset
        assert conn.execute(select(func.count()).select_from(assets)).scalar_one() == 2
        latest = dict(conn.execute(select(asset_latest.c.asset_id, asset_latest.c.readings)).all())
        assert sorted(latest.values()) == [2, 3]
        assert conn.execute(select(func.count()).select_from(meter_reads).where(meter_reads.c.meter == "total")).scalar_one() == 5
