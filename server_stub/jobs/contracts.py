"""Contracts per asset and what they decide for it: monitoring, the request threshold, default stock.

`contract_settings(conn, asset_id)` is what forecasting and the reorder decision read for an asset: the
contract's monitor status (off: no automatic requests) and its request threshold override (request at this
level instead of the global default). The per-asset decision is the server's.

The agent's `thresholds.supply_low_percent` (when a low supply makes it upload an alert reading at once) is
one value per agent, not per printer, so `agent_supply_low_percent` gives the agent the highest override of
the monitored printers it reads: it then reports early enough for the most demanding one (others only
report a little earlier); the agent's document carries it from its next heartbeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from server_stub.db.engine import utcnow
from server_stub.db.tables import agents, assets
from server_stub.jobs.matching import active_contracts
from server_stub.jobs.tables import COLOURS, contracts, stock_items


class ContractError(ValueError):
    pass


@dataclass(frozen=True)
class ContractSettings:
    contract: str | None  # the active contract's number (None: no contract, the defaults apply)
    monitor: bool  # False: the reorder decision makes no automatic request for this asset
    threshold_override_percent: float | None  # None: the default threshold applies
    conflict: tuple[str, ...] = ()  # several active contracts: their numbers (jobs wait for the dealer)


def contract_settings(conn: Connection, asset_id: int) -> ContractSettings:
    """The settings the asset's active contract gives its forecasting and reorder decision."""
    rows = active_contracts(conn, asset_id)
    if not rows:
        return ContractSettings(None, True, None)
    if len(rows) > 1:
        return ContractSettings(None, True, None, tuple(r.number for r in rows))
    row = rows[0]
    return ContractSettings(row.number, row.monitor, row.threshold_override_percent)


def agent_supply_low_percent(conn: Connection, agent: str) -> float | None:
    """The highest request threshold override among the active, monitored contracts of the printers this agent
    last read (None: no override applies to it)."""
    return conn.execute(select(func.max(contracts.c.threshold_override_percent))
                        .join(assets, assets.c.id == contracts.c.asset_id)
                        .join(agents, agents.c.id == assets.c.last_agent_id)
                        .where(agents.c.name == agent, contracts.c.status == "active",
                               contracts.c.monitor.is_(True))).scalar()


def contract_json(row) -> dict:
    return {"number": row.number, "serial": row.serial, "asset_id": row.asset_id, "status": row.status,
            "default_stock": {c: getattr(row, f"default_stock_{c}") for c in COLOURS},
            "monitor": row.monitor, "threshold_override_percent": row.threshold_override_percent,
            "last_billed_date": row.last_billed_date.isoformat() if row.last_billed_date else None}


def list_contracts(conn: Connection, status: str | None = None) -> list:
    query = select(contracts).order_by(contracts.c.number)
    if status:
        query = query.where(contracts.c.status == status)
    return conn.execute(query).all()


def get_contract(conn: Connection, number: str):
    row = conn.execute(select(contracts).where(contracts.c.number == number)).first()
    if row is None:
        raise ContractError(f"no contract {number!r}")
    return row


SETTABLE = {"status", "monitor", "threshold_override_percent", "last_billed_date",
            *(f"default_stock_{c}" for c in COLOURS)}


def set_contract(conn: Connection, number: str, key: str, value: str | None) -> None:
    """One setting of a contract from text (the CLI's `contracts set NUMBER KEY [VALUE]`; no value clears)."""
    get_contract(conn, number)
    if key not in SETTABLE:
        raise ContractError(f"{key!r} cannot be set; one of: {', '.join(sorted(SETTABLE))}")
    parsed: object = value
    if key == "status":
        if value not in ("active", "finished"):
            raise ContractError("status: active or finished")
    elif key == "monitor":
        if value not in ("on", "off"):
            raise ContractError("monitor: on or off")
        parsed = value == "on"
    elif key == "threshold_override_percent" and value is not None:
        try:
            parsed = float(value)
        except ValueError:
            raise ContractError(f"threshold_override_percent: {value!r} is not a number") from None
        if not 0 <= parsed <= 100:
            raise ContractError("threshold_override_percent: from 0 to 100")
    elif key == "last_billed_date" and value is not None:
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise ContractError(f"last_billed_date: {value!r} is not YYYY-MM-DD") from None
    elif key.startswith("default_stock_") and value is not None:
        if conn.execute(select(stock_items.c.part_code).where(stock_items.c.part_code == value)).first() is None:
            raise ContractError(f"{key}: no stock item {value!r}")
    if value is None and key in ("status", "monitor"):
        raise ContractError(f"{key} needs a value")
    conn.execute(update(contracts).where(contracts.c.number == number).values({key: parsed, "updated_at": utcnow()}))
