"""Which asset a serial from the dealer's system (a contract, a request, an ERP) means: the one place that decides.

In order:
1. a manual link the dealer made (`assets link SERIAL ASSET`) wins; a manual unlink makes the serial match
   nothing automatically (remembered in serial_links);
2. the asset's serial, exactly (after trimming and upper-casing, as the fleet model keeps serials);
3. the asset's custom serial (asset field `custom_serial`), for a device whose serial the dealer's system
   spells differently;
4. a suffix of at least SUFFIX_MIN characters of exactly one asset's serial (an ERP that keeps only the end).
A serial that two assets answer at the same step (a shared suffix, one serial under two clients) is a
conflict naming both: no job is made until the dealer links it by hand. Deleted and merged assets never match.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from server_stub.db.engine import upsert_insert, utcnow
from server_stub.db.tables import asset_fields, assets
from server_stub.jobs.tables import contracts, serial_links

SUFFIX_MIN = 6
CUSTOM_SERIAL = "custom_serial"
_LIVE = ("to_complete", "active")


@dataclass(frozen=True)
class Match:
    asset_id: int | None
    how: str  # link | serial | custom_serial | suffix | unlinked | none | conflict
    candidates: tuple[int, ...] = field(default=())

    @property
    def conflict(self) -> bool:
        return self.how == "conflict"

    def describe(self, serial: str) -> str:
        if self.conflict:
            return f"serial {serial!r} matches assets {', '.join(map(str, self.candidates))}: link it by hand"
        if self.how == "unlinked":
            return f"serial {serial!r} was unlinked by hand: link it to an asset"
        return f"no asset has serial {serial!r} (nor a custom serial or a unique suffix of at least {SUFFIX_MIN})"


def normalise(serial: str) -> str:
    return serial.strip().upper()


def _one(ids: list[int], how: str) -> Match | None:
    ids = sorted(set(ids))
    if len(ids) == 1:
        return Match(ids[0], how, tuple(ids))
    if len(ids) > 1:
        return Match(None, "conflict", tuple(ids))
    return None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def match_serial(conn: Connection, serial: str, client_id: int | None = None) -> Match:
    """The asset `serial` means (see the module docstring); `client_id` narrows the search to one client."""
    wanted = normalise(serial)
    if not wanted:
        return Match(None, "none")
    link = conn.execute(select(serial_links.c.asset_id).where(serial_links.c.serial == wanted)).first()
    if link is not None:
        return Match(link.asset_id, "link", (link.asset_id,)) if link.asset_id else Match(None, "unlinked")
    live = [assets.c.state.in_(_LIVE)] + ([assets.c.client_id == client_id] if client_id is not None else [])
    exact = conn.execute(select(assets.c.id).where(assets.c.serial == wanted, *live)).scalars().all()
    found = _one(list(exact), "serial")
    if found:
        return found
    custom = conn.execute(select(assets.c.id).join(asset_fields, asset_fields.c.asset_id == assets.c.id).where(
        asset_fields.c.key == CUSTOM_SERIAL, func.upper(asset_fields.c.value) == wanted, *live)).scalars().all()
    found = _one(list(custom), "custom_serial")
    if found:
        return found
    if len(wanted) >= SUFFIX_MIN:
        suffix = conn.execute(select(assets.c.id).where(
            assets.c.serial.like("%" + _escape_like(wanted), escape="\\"), *live)).scalars().all()
        found = _one(list(suffix), "suffix")
        if found:
            return found
    return Match(None, "none")


def link(conn: Connection, serial: str, asset_id: int | None) -> int:
    """Remember the dealer's decision for `serial` (an asset, or None: unlinked); contracts on that serial
    follow it. Returns the number of contracts re-pointed."""
    wanted = normalise(serial)
    if not wanted:
        raise ValueError("an empty serial cannot be linked")
    if asset_id is not None and conn.execute(select(assets.c.id).where(
            assets.c.id == asset_id, assets.c.state.in_(_LIVE))).first() is None:
        raise ValueError(f"no asset {asset_id} (or it is deleted or merged)")
    statement = upsert_insert(conn, serial_links).values(serial=wanted, asset_id=asset_id, updated_at=utcnow())
    conn.execute(statement.on_conflict_do_update(index_elements=[serial_links.c.serial],
                                                 set_={"asset_id": asset_id, "updated_at": utcnow()}))
    return conn.execute(update(contracts).where(func.upper(contracts.c.serial) == wanted)
                        .values(asset_id=asset_id, updated_at=utcnow())).rowcount


@dataclass(frozen=True)
class Conflict:
    kind: str  # serial (one serial, several assets) | contracts (one asset, several active contracts)
    serial: str
    candidates: tuple[str, ...]  # asset ids (kind serial) or contract numbers (kind contracts)
    detail: str

    def to_json(self) -> dict:
        return {"kind": self.kind, "serial": self.serial, "candidates": list(self.candidates), "detail": self.detail}


def active_contracts(conn: Connection, asset_id: int) -> list:
    return conn.execute(select(contracts).where(contracts.c.asset_id == asset_id, contracts.c.status == "active")
                        .order_by(contracts.c.number)).all()


def conflicts(conn: Connection) -> list[Conflict]:
    """What keeps jobs from being made: contract serials that several assets answer, and assets with more
    than one active contract (one of them should be finished)."""
    found: list[Conflict] = []
    unmatched = conn.execute(select(contracts.c.number, contracts.c.serial).where(
        contracts.c.asset_id.is_(None), contracts.c.status == "active").order_by(contracts.c.number)).all()
    for row in unmatched:
        match = match_serial(conn, row.serial)
        if match.conflict:
            found.append(Conflict("serial", row.serial, tuple(str(i) for i in match.candidates),
                                  f"contract {row.number}: {match.describe(row.serial)}"))
    doubled = conn.execute(select(contracts.c.asset_id).where(contracts.c.status == "active",
                                                              contracts.c.asset_id.is_not(None))
                           .group_by(contracts.c.asset_id).having(func.count() > 1)).scalars().all()
    for asset_id in sorted(doubled):
        rows = active_contracts(conn, asset_id)
        numbers = tuple(r.number for r in rows)
        found.append(Conflict("contracts", rows[0].serial, numbers,
                              f"asset {asset_id} has active contracts {', '.join(numbers)}: finish all but one"))
    return found


