"""What the supply engine detected, kept for people: replacements (with what the removed cartridge still held,
whether that was premature, the pages wasted and the order it fulfilled) and alarms. The worker's run
(server_stub.supply.live) records them as the engine reports them; the console's device page lists them. The
engine itself never reads them back (its state is server_stub.supply.state)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import desc, select
from sqlalchemy.engine import Connection

from server_stub.db.engine import upsert_insert
from server_stub.supply.replacement import Alarm, Replacement
from server_stub.supply.tables import supply_alarms, supply_replacements

SHOWN = 100


def record_replacements(conn: Connection, found: list[tuple[int, Replacement, int | None, bool]]) -> None:
    """(asset id, event, order id, premature) each once, in one statement."""
    rows = [{"asset_id": asset_id, "supply_key": event.supply, "at": event.at, "cause": event.cause,
             "left_percent": None if event.left_percent is None else round(event.left_percent, 1),
             "premature": premature, "wasted_pages": event.wasted_pages, "removed_pages": event.removed_pages,
             "new_percent": event.new_percent, "new_serial": event.new_serial, "order_id": order_id}
            for asset_id, event, order_id, premature in found]
    if rows:
        conn.execute(upsert_insert(conn, supply_replacements)
                     .on_conflict_do_nothing(index_elements=["asset_id", "supply_key", "at"]), rows)


def record_alarms(conn: Connection, alarms: Iterable[Alarm], asset_of: dict[str, int]) -> None:
    """Each alarm once (the engine may raise the same flag at each decision of a day), in one statement."""
    rows = {}
    for alarm in alarms:
        if alarm.device in asset_of:
            key = (asset_of[alarm.device], alarm.supply, alarm.at, alarm.kind)
            rows.setdefault(key, {"asset_id": key[0], "supply_key": alarm.supply, "at": alarm.at,
                                  "kind": alarm.kind, "detail": {k: v for k, v in alarm.as_json().items()
                                                                 if k not in ("device", "supply", "at", "kind")}})
    if rows:
        conn.execute(upsert_insert(conn, supply_alarms)
                     .on_conflict_do_nothing(index_elements=["asset_id", "supply_key", "at", "kind"]),
                     list(rows.values()))


def replacements(conn: Connection, asset_id: int, limit: int = SHOWN) -> list:
    return conn.execute(select(supply_replacements).where(supply_replacements.c.asset_id == asset_id)
                        .order_by(desc(supply_replacements.c.at)).limit(limit)).all()


def alarms(conn: Connection, asset_id: int, limit: int = SHOWN) -> list:
    return conn.execute(select(supply_alarms).where(supply_alarms.c.asset_id == asset_id)
                        .order_by(desc(supply_alarms.c.at), desc(supply_alarms.c.id)).limit(limit)).all()
