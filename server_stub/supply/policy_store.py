"""The reorder policy's three levels in the database: ("global", "") holds a whole policy file (preset,
global rules, rated yields, and any client/device tables it carries); ("client", name) and ("device", serial)
hold one level's rules, overriding the file's. Every write is checked with the policy's strict model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import Connection

from server_stub.db.engine import upsert_insert, utcnow
from server_stub.supply.policy import Policy, PolicyError, PolicyFile
from server_stub.supply.tables import supply_policy

Level = Literal["global", "client", "device"]


def _rows(conn: Connection) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r.level, r.key): r.document for r in conn.execute(select(supply_policy))}


def _assemble(rows: dict[tuple[str, str], dict[str, Any]]) -> PolicyFile:
    doc = dict(rows.get(("global", ""), {}))
    doc["clients"] = dict(doc.get("clients", {})) | {k: v for (lv, k), v in rows.items() if lv == "client"}
    doc["devices"] = dict(doc.get("devices", {})) | {k: v for (lv, k), v in rows.items() if lv == "device"}
    return PolicyFile.model_validate(doc)


def _message(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where + ': ' if where else ''}{err['msg'].removeprefix('Value error, ')}"


def policy_from_db(conn: Connection) -> Policy:
    return Policy(_assemble(_rows(conn)))


def set_level(conn: Connection, level: Level, key: str, document: dict[str, Any]) -> None:
    """Store one level after checking the whole assembled policy with it (PolicyError: one line)."""
    if not isinstance(document, dict):
        raise PolicyError("a policy level is a table of settings")
    rows = _rows(conn)
    rows[(level, key if level != "global" else "")] = document
    try:
        _assemble(rows)
    except ValidationError as exc:
        raise PolicyError(f"policy {level}{' ' + key if key else ''}: {_message(exc)}") from None
    values = {"document": document, "updated_at": utcnow()}
    conn.execute(upsert_insert(conn, supply_policy).values(level=level, key=key if level != "global" else "",
                                                           **values)
                 .on_conflict_do_update(index_elements=["level", "key"], set_=values))


def show(conn: Connection, level: Level, key: str | None) -> dict[str, Any]:
    """The stored level and the rules it resolves to (for a device: with its client's level)."""
    policy = policy_from_db(conn)
    stored = _rows(conn).get((level, key or ""), {})
    client = key if level == "client" else None
    device = key if level == "device" else None
    return {"level": level, "key": key, "stored": stored,
            "resolved": policy.rules(client, device).model_dump(mode="json")}
