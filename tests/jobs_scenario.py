"""What the jobs tests share: a migrated database on SQLite or PostgreSQL, CMYK printers reported by an agent
(stored through live ingest's own function), and CSV text for the importer."""

from __future__ import annotations

import io
from datetime import datetime

import pytest

from fleet_peers import T0, add_agent, ingest
from fleetmeter_contract.reading import DeviceReading, Identity, Supply
from server_stub.db import migrate
from server_stub.db.engine import make_engine
from server_stub.jobs.csvio import import_csv
from trust_peers import DATABASES, Database

COLOURS = ("black", "cyan", "magenta", "yellow")  # supply index 1..4 in that order


def cmyk_reading(serial: str, *, at: datetime = T0, levels: tuple[float, ...] = (40, 50, 60, 70),
                 model: str = "MP C3002", manufacturer: str = "Ricoh") -> dict:
    doc = DeviceReading(address="10.0.0.36", port=161, collected_at=at.isoformat(), is_printer=True,
                        identity=Identity(serial=serial, manufacturer=manufacturer, model=model),
                        supplies=[Supply(index=i, description=f"{c.title()} Toner", type="toner", color=c,
                                         class_="consumed", unit="percent", level=int(p), max_capacity=100,
                                         percent=p, state="ok")
                                  for i, (c, p) in enumerate(zip(COLOURS, levels), 1)])
    doc.counters["total"] = 1000
    return doc.to_json()


def _migrated(kind: str, tmp_path):
    db = Database(kind, tmp_path)
    engine = make_engine(db.url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    db.drop()


@pytest.fixture(params=DATABASES)
def engine(request, tmp_path):
    yield from _migrated(request.param, tmp_path)


@pytest.fixture
def pg_engine(tmp_path):
    """PostgreSQL only: what several server processes sharing one database do at once."""
    yield from _migrated("postgresql", tmp_path)


def reported(engine, client: str, *serials: str, model: str = "MP C3002", manufacturer: str = "Ricoh") -> list[int]:
    """Printers an agent of `client` reported: their asset ids, in order."""
    from sqlalchemy import select

    from server_stub.db.tables import readings

    agent = add_agent(engine, f"agent-{client}-{len(serials)}-{serials[0]}", client)
    ingest(engine, agent, [cmyk_reading(s, model=model, manufacturer=manufacturer) for s in serials])
    with engine.connect() as conn:
        by_key = dict(conn.execute(select(readings.c.device_key, readings.c.asset_id)
                                   .where(readings.c.agent_id == agent)).all())
    return [next(a for k, a in by_key.items() if k.endswith(":" + s)) for s in serials]


def load(engine, kind: str, text: str, **options):
    with engine.begin() as conn:
        return import_csv(conn, kind, io.StringIO(text), **options)
