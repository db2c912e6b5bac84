"""CSV import and export for dealers moving from another system: assets, contracts, stock, related stock.

One file per kind, a header row naming the columns (any order; unknown or missing required columns refuse the
file). Each row is validated with a strict model; every bad row is reported with its line and reason, and a
file with a bad row stores nothing unless `skip_bad` is given (then the good rows are stored). Empty optional
cells are allowed. An imported asset whose serial agents already reported (same identity, server_stub.assets.
identity) is that asset, completed and activated: never a second one. Exports neutralise formula starts.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from server_stub.assets import registry
from server_stub.assets.identity import normalise_manufacturer, normalise_serial, serial_key
from server_stub.billing.export import neutralise
from server_stub.db.engine import upsert_insert, utcnow
from server_stub.db.tables import asset_fields, asset_identities, assets, clients, sites
from server_stub.fleet.clients import ensure_client
from server_stub.jobs.matching import CUSTOM_SERIAL, match_serial
from server_stub.jobs.stock import StockError, relate_stock
from server_stub.jobs.tables import COLOURS, contracts, related_stock, stock_items

LOCATION = "location"
ACTOR = "import"


def _printable(value: str | None) -> str | None:
    if value is not None and not value.isprintable():
        raise ValueError("contains control characters")
    return value


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_none(cls, value):
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("*")
    @classmethod
    def _no_controls(cls, value):
        return _printable(value) if isinstance(value, str) else value


Text200 = Annotated[str, Field(min_length=1, max_length=200)]
Part = Annotated[str, Field(min_length=1, max_length=100)]


class AssetRow(_Row):
    client: Text200
    site: Text200 | None = None
    serial: Text200
    custom_serial: Text200 | None = None
    manufacturer: Text200 | None = None
    model: Text200 | None = None
    location: Annotated[str, Field(max_length=500)] | None = None

    @field_validator("serial")
    @classmethod
    def _real_serial(cls, value: str) -> str:
        if normalise_serial(value) is None:
            raise ValueError(f"{value!r} is a placeholder, not a serial")
        return value


class ContractRow(_Row):
    number: Annotated[str, Field(min_length=1, max_length=100)]
    serial: Text200
    status: Literal["active", "finished"]
    default_stock_black: Part | None = None
    default_stock_cyan: Part | None = None
    default_stock_magenta: Part | None = None
    default_stock_yellow: Part | None = None
    monitor: Literal["on", "off", "yes", "no", "true", "false", "1", "0"] | None = None
    threshold_override_percent: Annotated[float, Field(ge=0, le=100, strict=False)] | None = None
    last_billed_date: Annotated[date, Field(strict=False)] | None = None


class StockRow(_Row):
    part_code: Part
    description: Annotated[str, Field(max_length=500)] | None = None
    colour: Annotated[str, Field(max_length=32)] | None = None
    class_: Annotated[str | None, Field(max_length=64, alias="class")] = None
    yield_pages: Annotated[int, Field(ge=1, le=10_000_000, strict=False)] | None = None


class RelatedRow(_Row):
    model: Text200
    part_code: Part


KINDS: dict[str, type[_Row]] = {"assets": AssetRow, "contracts": ContractRow, "stock": StockRow,
                                "related_stock": RelatedRow}


def columns(kind: str) -> list[str]:
    return [f.alias or name for name, f in KINDS[kind].model_fields.items()]


@dataclass
class ImportResult:
    kind: str
    rows: int = 0
    stored: int = 0
    errors: list[str] = field(default_factory=list)  # "line N: reason"
    notes: list[str] = field(default_factory=list)  # stored, but worth saying (e.g. a contract left unmatched)

    def to_json(self) -> dict:
        return {"kind": self.kind, "rows": self.rows, "stored": self.stored, "errors": self.errors,
                "notes": self.notes}


class ImportRefused(ValueError):
    """The file as a whole cannot be read (not CSV, wrong header)."""


def _reason(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {error['msg'].removeprefix('Value error, ')}" if where else error["msg"]


def _parse(kind: str, stream: TextIO) -> tuple[list[tuple[int, _Row]], list[str], int]:
    model = KINDS[kind]
    reader = csv.reader(stream)
    try:
        header = [h.strip().lstrip("\ufeff").lower() for h in next(reader)]
    except StopIteration:
        raise ImportRefused("the file is empty (a header row is expected)") from None
    except csv.Error as exc:
        raise ImportRefused(f"line 1: {exc}") from None
    known = columns(kind)
    unknown = [h for h in header if h not in known]
    required = [name for name, f in model.model_fields.items() if f.is_required()]
    missing = [c for c in required if c not in header]
    if unknown or missing or len(set(header)) != len(header):
        raise ImportRefused(f"header: expected columns {', '.join(known)}"
                            + (f"; unknown {', '.join(unknown)}" if unknown else "")
                            + (f"; missing {', '.join(missing)}" if missing else ""))
    rows, errors, count = [], [], 0
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            count += 1
            if len(values) != len(header):
                errors.append(f"line {line}: {len(values)} cells, the header has {len(header)}")
                continue
            try:
                rows.append((line, model.model_validate(dict(zip(header, values)))))
            except ValidationError as exc:
                errors.append(f"line {line}: {_reason(exc)}")
    except csv.Error as exc:
        errors.append(f"line {reader.line_num}: {exc}")
    return rows, errors, count


class RowRefused(ValueError):
    pass


def _store_asset(conn: Connection, row: AssetRow, notes: list[str], line: int) -> None:
    client_id = ensure_client(conn, row.client)
    site_id = None
    if row.site:
        site_id = conn.execute(select(sites.c.id).where(sites.c.client_id == client_id, sites.c.name == row.site)).scalar()
        if site_id is None:
            site_id = conn.execute(insert(sites).values(client_id=client_id, name=row.site, created_at=utcnow())
                                   .returning(sites.c.id)).scalar_one()
    serial = normalise_serial(row.serial)
    key = serial_key(row.manufacturer, row.serial)
    asset_id = None
    if row.manufacturer:
        asset_id = conn.execute(select(asset_identities.c.asset_id).where(
            asset_identities.c.client_id == client_id, asset_identities.c.identity_key == key)).scalar()
    if asset_id is None:  # no manufacturer given, or spelled so it is no identity yet: the client's asset of that serial
        found = conn.execute(select(assets.c.id).where(assets.c.client_id == client_id, assets.c.serial == serial,
                                                       assets.c.state.in_(("to_complete", "active")))).scalars().all()
        if len(found) > 1:
            raise RowRefused(f"serial {serial} is assets {', '.join(map(str, found))} of {row.client}: "
                             "give the manufacturer")
        asset_id = found[0] if found else None
    now = utcnow()
    if asset_id is None:
        asset_id = conn.execute(insert(assets).values(
            client_id=client_id, site_id=site_id, state="active", manufacturer=normalise_manufacturer(row.manufacturer),
            model=row.model, serial=serial, first_seen_at=now, last_seen_at=now, created_at=now, activated_at=now)
            .returning(assets.c.id)).scalar_one()
        conn.execute(upsert_insert(conn, asset_identities).values(
            client_id=client_id, identity_key=key, asset_id=asset_id, created_at=now).on_conflict_do_nothing())
        registry.audit(conn, asset_id, "import", f"imported at line {line}", ACTOR)
        if not row.manufacturer:
            notes.append(f"line {line}: asset {asset_id} has no manufacturer: an agent's reading of this printer "
                         "will not resolve to it (give the manufacturer, or merge the two assets later)")
    else:
        current = conn.execute(select(assets).where(assets.c.id == asset_id)).one()
        values = {"model": current.model or row.model,
                  "manufacturer": current.manufacturer or normalise_manufacturer(row.manufacturer)}
        if site_id is not None:
            values["site_id"] = site_id
        conn.execute(update(assets).where(assets.c.id == asset_id).values(values))
        if current.state == "to_complete":
            registry.activate(conn, asset_id, ACTOR)
            notes.append(f"line {line}: completed asset {asset_id} (serial {serial}) that agents reported")
    for name, value in ((CUSTOM_SERIAL, row.custom_serial and row.custom_serial.upper()), (LOCATION, row.location)):
        if value is not None:
            registry.set_field(conn, asset_id, name, value, ACTOR)


def _store_contract(conn: Connection, row: ContractRow, notes: list[str], line: int) -> None:
    for colour in COLOURS:
        part = getattr(row, f"default_stock_{colour}")
        if part and conn.execute(select(stock_items.c.part_code).where(stock_items.c.part_code == part)).first() is None:
            raise RowRefused(f"default_stock_{colour}: no stock item {part!r} (import stock.csv first)")
    match = match_serial(conn, row.serial)
    if match.asset_id is None and not match.conflict:
        raise RowRefused(match.describe(row.serial))
    if match.conflict:
        notes.append(f"line {line}: contract {row.number} left unmatched: {match.describe(row.serial)}")
    values = {"serial": row.serial, "asset_id": match.asset_id, "status": row.status,
              **{f"default_stock_{c}": getattr(row, f"default_stock_{c}") for c in COLOURS},
              "monitor": row.monitor not in ("off", "no", "false", "0"),
              "threshold_override_percent": row.threshold_override_percent,
              "last_billed_date": row.last_billed_date, "updated_at": utcnow()}
    statement = upsert_insert(conn, contracts).values(number=row.number, **values)
    conn.execute(statement.on_conflict_do_update(index_elements=[contracts.c.number], set_=values))


def _store_stock(conn: Connection, row: StockRow, notes: list[str], line: int) -> None:
    values = {"description": row.description, "colour": row.colour and row.colour.lower(),
              "supply_class": row.class_ and row.class_.lower(), "yield_pages": row.yield_pages,
              "updated_at": utcnow()}
    statement = upsert_insert(conn, stock_items).values(part_code=row.part_code, **values)
    conn.execute(statement.on_conflict_do_update(index_elements=[stock_items.c.part_code], set_=values))


def _store_related(conn: Connection, row: RelatedRow, notes: list[str], line: int) -> None:
    try:
        relate_stock(conn, row.part_code, model=row.model)
    except StockError as exc:
        raise RowRefused(str(exc)) from None


_STORE = {"assets": _store_asset, "contracts": _store_contract, "stock": _store_stock, "related_stock": _store_related}


def import_csv(conn: Connection, kind: str, stream: TextIO, *, dry_run: bool = False,
               skip_bad: bool = False) -> ImportResult:
    """Validate and (unless dry_run) store the rows; with errors and without skip_bad nothing is stored.
    Rows are stored in a savepoint each, so a row the database refuses is reported like a malformed one."""
    if kind not in KINDS:
        raise ImportRefused(f"kind: one of {', '.join(KINDS)}")
    rows, errors, count = _parse(kind, stream)
    result = ImportResult(kind, rows=count, errors=errors)
    store = _STORE[kind]
    outer = conn.begin_nested()
    for line, row in rows:
        inner = conn.begin_nested()
        try:
            store(conn, row, result.notes, line)
            inner.commit()
            result.stored += 1
        except (RowRefused, registry.AssetError) as exc:
            inner.rollback()
            result.errors.append(f"line {line}: {exc}")
    result.errors.sort(key=lambda e: int(e.split(":")[0].removeprefix("line ")))
    if dry_run or (result.errors and not skip_bad):
        outer.rollback()
        result.stored = 0 if not dry_run else result.stored
    else:
        outer.commit()
    return result


def _export_rows(conn: Connection, kind: str) -> list[list]:
    if kind == "assets":
        fields = {}
        for row in conn.execute(select(asset_fields).where(asset_fields.c.key.in_((CUSTOM_SERIAL, LOCATION)))):
            fields[(row.asset_id, row.key)] = row.value
        query = (select(assets, clients.c.name.label("client"), sites.c.name.label("site"))
                 .join(clients, clients.c.id == assets.c.client_id).outerjoin(sites, sites.c.id == assets.c.site_id)
                 .where(assets.c.state.in_(("to_complete", "active")), assets.c.serial.is_not(None))
                 .order_by(clients.c.name, assets.c.id))
        return [[r.client, r.site, r.serial, fields.get((r.id, CUSTOM_SERIAL)), r.manufacturer, r.model,
                 fields.get((r.id, LOCATION))] for r in conn.execute(query)]
    if kind == "contracts":
        return [[r.number, r.serial, r.status, *(getattr(r, f"default_stock_{c}") for c in COLOURS),
                 "on" if r.monitor else "off", r.threshold_override_percent,
                 r.last_billed_date.isoformat() if r.last_billed_date else None]
                for r in conn.execute(select(contracts).order_by(contracts.c.number))]
    if kind == "stock":
        return [[r.part_code, r.description, r.colour, r.supply_class, r.yield_pages]
                for r in conn.execute(select(stock_items).order_by(stock_items.c.part_code))]
    query = (select(related_stock.c.model, related_stock.c.part_code).where(related_stock.c.model.is_not(None))
             .order_by(related_stock.c.model, related_stock.c.part_code))  # an asset's own: `stock list`
    return [[r.model, r.part_code] for r in conn.execute(query)]


def export_csv(conn: Connection, kind: str, stream: TextIO) -> int:
    """The kind's rows in the import format (header row first); cells neutralised against spreadsheet formulas.
    Returns the rows written."""
    if kind not in KINDS:
        raise ImportRefused(f"kind: one of {', '.join(KINDS)}")
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(columns(kind))
    rows = _export_rows(conn, kind)
    for row in rows:
        writer.writerow([neutralise("" if cell is None else str(cell)) for cell in row])
    return len(rows)


