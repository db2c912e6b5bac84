"""The device listing: each device's latest reading (time, meters, supplies), per agent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from server_stub.db.tables import agents, readings


@dataclass(frozen=True)
class DeviceRow:
    agent: str
    client: str
    device_key: str
    collected_at: datetime
    readings: int
    document: dict

    def to_json(self) -> dict:
        identity = self.document.get("identity") or {}
        return {
            "client": self.client, "agent": self.agent, "device": self.device_key,
            "address": self.document.get("address"), "manufacturer": identity.get("manufacturer"),
            "model": identity.get("model"), "serial": identity.get("serial"),
            "latest_reading_at": self.collected_at.isoformat().replace("+00:00", "Z"), "readings": self.readings,
            "counters": {k: v for k, v in (self.document.get("counters") or {}).items() if v is not None},
            "supplies": [{k: s.get(k) for k in ("description", "type", "color", "percent", "state")}
                         for s in self.document.get("supplies") or []],
        }


def list_devices(conn: Connection) -> list[DeviceRow]:
    latest = (select(readings.c.agent_id, readings.c.device_key,
                     func.max(readings.c.collected_at).label("latest"), func.count().label("n"))
              .group_by(readings.c.agent_id, readings.c.device_key).subquery())
    query = (select(agents.c.name, agents.c.client, readings.c.device_key, readings.c.collected_at,
                    readings.c.document, latest.c.n)
             .join(latest, and_(readings.c.agent_id == latest.c.agent_id,
                                readings.c.device_key == latest.c.device_key,
                                readings.c.collected_at == latest.c.latest))
             .join(agents, agents.c.id == readings.c.agent_id)
             .order_by(agents.c.client, agents.c.name, readings.c.device_key))
    return [DeviceRow(r.name, r.client, r.device_key, r.collected_at, r.n, r.document)
            for r in conn.execute(query)]
