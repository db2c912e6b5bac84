"""What the fleet tests share: a migrated database (SQLite or PostgreSQL), agents of clients, and readings
stored through the same function live ingest uses (server_stub.ingest.store.store_readings)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from fleetmeter_contract.reading import Alert, CounterSource, DeviceReading, Identity, Supply, validate_wire
from server_stub.db.engine import utcnow
from server_stub.db.tables import agents
from server_stub.fleet.clients import link_agent
from server_stub.ingest.store import store_readings
from server_stub.trust import enrolment as registry

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)


def reading(serial: str | None, *, at: datetime = T0, total: int = 1000, manufacturer: str = "Ricoh",
            mac: str | None = None, address: str = "10.0.0.36", black: float = 40.0,
            alerts: tuple[str, ...] = ()) -> dict:
    doc = DeviceReading(address=address, port=161, collected_at=at.isoformat(), is_printer=True,
                        identity=Identity(serial=serial, manufacturer=manufacturer, model="MP C3002", mac=mac),
                        supplies=[Supply(index=1, description="Black Toner", type="toner", color="black",
                                         class_="consumed", unit="percent", level=int(black), max_capacity=100,
                                         percent=black, state="ok"),
                                  Supply(index=2, description="Waste", type="waste_toner", color=None,
                                         class_="receptacle", unit="percent", level=-3, max_capacity=100,
                                         percent=None, state="some_remaining")],
                        alerts=[Alert(index=i, severity="warning", code=code, description=code)
                                for i, code in enumerate(alerts, 1)])
    doc.counters.update(total=total, mono=total - 10, color=10)
    doc.counter_sources["total"] = CounterSource(oid="1.3.6.1.2.1.43.10.2.1.4.1.1", origin="rfc3805")
    return doc.to_json()


def add_agent(engine, name: str, client: str) -> int:
    with engine.begin() as conn:
        registry.add_agent(conn, name, client, timedelta(days=1))
        link_agent(conn, name, client)
        return conn.execute(select(agents.c.id).where(agents.c.name == name)).scalar_one()


def ingest(engine, agent_id: int, documents: list[dict]) -> int:
    """One upload's readings, validated as the server validates them, stored and derived in one transaction."""
    raw = [json.dumps(d) for d in documents]
    with engine.begin() as conn:
        return store_readings(conn, agent_id, [validate_wire(r) for r in raw], '{"readings":[' + ",".join(raw) + "]}",
                              utcnow())


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
