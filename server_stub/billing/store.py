"""Billing on the database: load rows, call the pure billing core (reads, plans, rules, export, invoices),
store what it returns. Every function takes a Connection; the CLI and any route stay thin.

- Reads: the fleet's meter_reads (what printers reported, serial from the reading's identity key) plus
  manual_reads; technician breaks from meter_breaks. The opening read of a period is the closing read the
  previous bill stored (billing_reads), so a billed period never changes when reads arrive late.
- Bills: one per client and period (unique). Only a complete bill is stored; a second run (later, or
  concurrent in another process) returns the stored one. Deliveries for per-consumable billing are the
  shipped orders and completed jobs of the period (server_stub.billing.deliveries). The bill document names
  each asset's contract (server_stub.jobs.contracts) as it was when billed: the ERP export's contract column.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from server_stub.billing import invoices as inv
from server_stub.billing.deliveries import period_deliveries
from server_stub.billing.document import invoice_html
from server_stub.billing.export import ExportEntry, bill_document, delivery_of
from server_stub.billing.periods import Period, utc
from server_stub.billing.plans import BillingPlan, PlanVersion, load_plan, set_plan
from server_stub.billing.reads import (DEFAULT_LOOKBACK, DEFAULT_WINDOW, METERS, CounterBreak, MeterRead,
                                       MeterVolume, Placement, VolumeSummary, period_volume, summarise_volumes)
from server_stub.billing.rules import Bill, ConsumableLine, Device, MeterCharge, bill_for_period
from server_stub.billing.tables import (billing_approvals, billing_plans, billing_reads, bills, invoices,
                                        manual_reads, meter_breaks, payments)
from server_stub.db.engine import upsert_insert
from server_stub.db.tables import assets, clients, meter_reads, readings
from server_stub.jobs.contracts import contract_settings


class BillingError(ValueError):
    """An expected refusal (unknown client, no plan, open items ...): one line for the user."""


# --- clients, plans ---------------------------------------------------------------------------------------

def client_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(clients.c.id).where(clients.c.name == name)).scalar()
    if found is None:
        raise BillingError(f"no client named {name!r}; see: fleetmeter-server clients list")
    return found


def locked_client_id(conn: Connection, name: str) -> int:
    """client_id, with the client's row locked for the rest of the transaction: the first statement of a billing
    run, so runs for one client queue (PostgreSQL row lock; on SQLite the write lock, taken before anything is
    read, so a second run never works from a stale snapshot) and the later one finds the stored bill."""
    found = conn.execute(update(clients).where(clients.c.name == name).values(name=clients.c.name)
                         .returning(clients.c.id)).scalar()
    if found is None:
        raise BillingError(f"no client named {name!r}; see: fleetmeter-server clients list")
    return found


def plan_history(conn: Connection, client: int) -> list[PlanVersion]:
    rows = conn.execute(select(billing_plans).where(billing_plans.c.client_id == client)
                        .order_by(billing_plans.c.effective_from))
    return [PlanVersion(Period.parse(r.effective_from), load_plan(r.plan, "json"), r.set_at) for r in rows]


def store_plan(conn: Connection, client: int, plan: BillingPlan, now: datetime, actor: str | None = None,
               effective_from: Period | None = None) -> PlanVersion:
    """Set the client's plan from `effective_from` (default: the current period); plans.set_plan decides, given
    the client's latest stored bill: a period with a stored bill, or before one, is never re-priced."""
    last = conn.execute(select(bills.c.period, bills.c.total, bills.c.currency, bills.c.created_at)
                        .where(bills.c.client_id == client).order_by(bills.c.period.desc()).limit(1)).first()
    last_bill = None if last is None else (
        Period.parse(last.period), f"the {last.period} bill ({_shown(last.total)} {last.currency}, "
                                   f"billed {utc(last.created_at):%Y-%m-%d %H:%M} UTC)")
    history = set_plan(plan_history(conn, client), plan, now, effective_from, last_bill)
    version = next(v for v in history if v.plan is plan)
    row = {"client_id": client, "effective_from": str(version.effective_from), "plan": plan.dump_json(),
           "set_at": version.set_at, "set_by": actor}
    stmt = upsert_insert(conn, billing_plans)
    conn.execute(stmt.on_conflict_do_update(index_elements=["client_id", "effective_from"],
                                            set_={k: stmt.excluded[k] for k in ("plan", "set_at", "set_by")}), row)
    return version


# --- reads ------------------------------------------------------------------------------------------------

def _serial(device_key: str | None) -> str | None:
    """The serial in an identity key 'serial:<manufacturer>:<serial>' (server_stub.assets.identity)."""
    if device_key and device_key.startswith("serial:"):
        return device_key.split(":", 2)[2]
    return None


def add_manual_read(conn: Connection, asset_id: int, meter: str, value: int, at: datetime, entered_by: str,
                    now: datetime) -> MeterRead:
    if conn.execute(select(assets.c.id).where(assets.c.id == asset_id)).scalar() is None:
        raise BillingError(f"no asset {asset_id}")
    read = MeterRead(asset_id, meter, at, value, kind="manual", entered_by=entered_by)  # validates
    if read.at > now + timedelta(days=1):
        raise BillingError(f"a manual read at {read.at.isoformat()} is in the future")
    conn.execute(upsert_insert(conn, manual_reads).on_conflict_do_update(
        index_elements=["asset_id", "meter", "read_at"], set_={"value": value, "entered_by": entered_by,
                                                                "entered_at": now}),
        {"asset_id": asset_id, "meter": meter, "read_at": read.at, "value": value, "entered_by": entered_by,
         "entered_at": now})
    return read


def add_break(conn: Connection, asset_id: int, meter: str, brk: CounterBreak, actor: str, now: datetime) -> None:
    if meter not in METERS:
        raise BillingError(f"unknown meter {meter!r}; expected one of {', '.join(METERS)}")
    if conn.execute(select(assets.c.id).where(assets.c.id == asset_id)).scalar() is None:
        raise BillingError(f"no asset {asset_id}")
    conn.execute(meter_breaks.insert().values(asset_id=asset_id, meter=meter, at=brk.at, kind=brk.kind,
                                              old_final=brk.old_final, new_start=brk.new_start, serial=brk.serial,
                                              recorded_by=actor, recorded_at=now))


def load_reads(conn: Connection, asset_ids: Sequence[int], since: datetime, until: datetime
               ) -> dict[tuple[int, str], list[MeterRead]]:
    """Actual reads (printer and manual) of the assets' billed meters in [since, until], per asset and meter."""
    out: dict[tuple[int, str], list[MeterRead]] = defaultdict(list)
    if not asset_ids:
        return out
    printed = conn.execute(
        select(meter_reads, readings.c.device_key)
        .outerjoin(readings, readings.c.id == meter_reads.c.reading_id)
        .where(meter_reads.c.asset_id.in_(asset_ids), meter_reads.c.meter.in_(METERS),
               meter_reads.c.read_at.between(since, until)))
    for r in printed:
        out[(r.asset_id, r.meter)].append(MeterRead(r.asset_id, r.meter, r.read_at, r.value, serial=_serial(r.device_key),
                                                    source_oid=r.source_oid, source_origin=r.origin,
                                                    reading_id=r.reading_id))
    typed = conn.execute(select(manual_reads).where(manual_reads.c.asset_id.in_(asset_ids),
                                                   manual_reads.c.meter.in_(METERS),
                                                   manual_reads.c.read_at.between(since, until)))
    for r in typed:
        out[(r.asset_id, r.meter)].append(MeterRead(r.asset_id, r.meter, r.read_at, r.value, kind="manual",
                                                    entered_by=r.entered_by))
    return out


def _breaks(conn: Connection, asset_ids: Sequence[int]) -> dict[tuple[int, str], list[CounterBreak]]:
    out: dict[tuple[int, str], list[CounterBreak]] = defaultdict(list)
    for r in conn.execute(select(meter_breaks).where(meter_breaks.c.asset_id.in_(asset_ids)).order_by(meter_breaks.c.at)):
        out[(r.asset_id, r.meter)].append(CounterBreak(r.at, r.kind, r.old_final, r.new_start, r.serial, inferred=False))
    return out


def _read_row(read: MeterRead) -> dict[str, Any]:
    return {"read_at": read.at, "value": read.value, "kind": read.kind, "serial": read.serial,
            "source_oid": read.source_oid, "origin": read.source_origin,
            "reading_id": None if read.reading_id is None else int(read.reading_id), "entered_by": read.entered_by}


def _read_of(asset_id: int, meter: str, row: dict[str, Any], basis: MeterRead | None = None,
             daily_volume: str | None = None) -> MeterRead:
    at = row["read_at"] if isinstance(row["read_at"], datetime) else datetime.fromisoformat(row["read_at"])
    return MeterRead(asset_id, meter, at, row["value"], serial=row["serial"], kind=row["kind"],
                     source_oid=row["source_oid"], source_origin=row["origin"], reading_id=row["reading_id"],
                     entered_by=row["entered_by"], basis=basis,
                     daily_volume=None if daily_volume is None else Decimal(daily_volume))


def _stored_closings(conn: Connection, asset_ids: Sequence[int], period: Period) -> dict[tuple[int, str], MeterRead]:
    """The previous period's stored closing reads: this period's openings."""
    out = {}
    for r in conn.execute(select(billing_reads).where(billing_reads.c.asset_id.in_(asset_ids),
                                                      billing_reads.c.period == str(period.previous()),
                                                      billing_reads.c.role == "closing")):
        basis = None
        if r.basis is not None:
            basis = _read_of(r.asset_id, r.meter, r.basis)
        out[(r.asset_id, r.meter)] = _read_of(r.asset_id, r.meter, r._asdict(), basis, r.daily_volume)
    return out


@dataclass(frozen=True)
class Fleet:
    devices: list[Device]
    placements: list[Placement]


def client_fleet(conn: Connection, client: int) -> Fleet:
    """The client's billed assets: active ones."""
    rows = conn.execute(select(assets).where(assets.c.client_id == client, assets.c.state == "active")
                        .order_by(assets.c.id)).all()
    return Fleet([Device(r.id, r.site_id, r.manufacturer, r.model, r.serial) for r in rows],
                 [Placement(r.id, r.site_id if r.site_id is not None else "-", client) for r in rows])


def period_volumes(conn: Connection, client: int, period: Period, *, estimate: bool = False) -> list[MeterVolume]:
    """One MeterVolume per active asset and billed meter of the client (reads.period_volume)."""
    fleet = client_fleet(conn, client)
    ids = [d.asset_id for d in fleet.devices]
    openings = _stored_closings(conn, ids, period)
    earliest = min([period.start - DEFAULT_WINDOW.before] + [(o.basis or o).at for o in openings.values()])
    reads = load_reads(conn, ids, earliest - DEFAULT_LOOKBACK, period.end + DEFAULT_WINDOW.after)
    recorded = _breaks(conn, ids)
    approved = {(r.asset_id, r.meter) for r in conn.execute(select(billing_approvals).where(
        billing_approvals.c.asset_id.in_(ids), billing_approvals.c.period == str(period)))} if ids else set()
    volumes = []
    for asset_id in ids:
        meters = sorted({m for (a, m) in [*reads, *openings] if a == asset_id}, key=METERS.index)
        for meter in meters:
            key = (asset_id, meter)
            volumes.append(period_volume(reads.get(key, []), period, opening=openings.get(key), estimate=estimate,
                                         recorded=recorded.get(key, ()), approved=key in approved))
    return volumes


def volumes_summary(conn: Connection, client: int, period: Period) -> VolumeSummary:
    return summarise_volumes(period, period_volumes(conn, client, period), client_fleet(conn, client).placements)


def approve(conn: Connection, asset_id: int, meter: str, period: Period, actor: str, now: datetime) -> None:
    if conn.execute(select(assets.c.id).where(assets.c.id == asset_id)).scalar() is None:
        raise BillingError(f"no asset {asset_id}")
    conn.execute(upsert_insert(conn, billing_approvals).on_conflict_do_nothing(),
                 {"asset_id": asset_id, "meter": meter, "period": str(period), "approved_by": actor, "approved_at": now})


# --- bills ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunResult:
    document: dict[str, Any]   # export.bill_document of the bill
    stored: bool               # True: the bill is (now or already) the period's stored bill
    open_items: list[str]      # why the bill cannot be stored (empty when stored)


def stored_bill(conn: Connection, client: int, period: Period) -> dict[str, Any] | None:
    return conn.execute(select(bills.c.document).where(bills.c.client_id == client,
                                                       bills.c.period == str(period))).scalar()


def _describe(item) -> str:
    if isinstance(item, ConsumableLine):
        d = item.delivery
        what = " ".join(x for x in (d.stock_code or d.part_number, d.color, d.type) if x) or "consumable"
        return (f"asset {d.asset_id}: {what} x {d.quantity} delivered {d.delivered_at:%Y-%m-%d} ({d.reference}) "
                "needs a price in the plan")
    return f"asset {item.asset_id} {item.meter}: {item.status.replace('_', ' ')} ({item.reason})"


def _check_order(conn: Connection, client: int, period: Period) -> None:
    """Periods are billed in order: a period's opening reads are the previous bill's closing reads, so a gap
    would leave pages unbilled and a period before a billed one would bill pages twice."""
    billed = [Period.parse(p) for p in conn.execute(select(bills.c.period).where(bills.c.client_id == client)).scalars()]
    later = [p for p in billed if p > period]
    if later:
        raise BillingError(f"period {max(later)} is billed already; {period} comes before it and cannot be billed now")
    if billed and max(billed) != period.previous():
        raise BillingError(f"bill {max(billed).next()} first: periods are billed in order (last billed: {max(billed)})")


def asset_contract(conn: Connection, asset_id: int) -> str:
    """The contract an asset is billed under: its active contract's number; several active contracts (a
    conflict the dealer must resolve) give all their numbers joined by ';' so an ERP refuses rather than guesses;
    "" without a contract."""
    settings = contract_settings(conn, asset_id)
    return settings.contract or ";".join(settings.conflict)


def run_bill(conn: Connection, client: int, period: Period, now: datetime, *, estimate: bool = False,
             actor: str | None = None) -> RunResult:
    """The client's bill for `period`: the stored one if the period is billed, else computed and, when
    complete, stored with the reads it used. Consumables delivered are the period's shipped orders and
    completed jobs (deliveries.period_deliveries)."""
    existing = stored_bill(conn, client, period)
    if existing is not None:
        return RunResult(existing, True, [])
    if utc(now) < period.end + DEFAULT_WINDOW.after:
        raise BillingError(f"period {period} can be billed from {(period.end + DEFAULT_WINDOW.after):%Y-%m-%d %H:%M} UTC "
                           "(the closing read's tolerance window is still open)")
    _check_order(conn, client, period)
    history = plan_history(conn, client)
    fleet = client_fleet(conn, client)
    volumes = period_volumes(conn, client, period, estimate=estimate)
    deliveries = period_deliveries(conn, client, period)
    bill = bill_for_period(history, client, period, fleet.devices, volumes, deliveries)
    document = bill_document(bill)
    billed_assets = sorted({d.asset_id for d in fleet.devices} | {c.delivery.asset_id for c in bill.consumables})
    document["contracts"] = {str(a): asset_contract(conn, a) for a in billed_assets}
    if not bill.complete:
        return RunResult(document, False, [_describe(i) for i in bill.open_items])
    row = {"client_id": client, "period": str(period), "plan_type": bill.plan_type, "currency": bill.currency,
           "total": bill.total, "document": document, "created_at": now, "created_by": actor}
    bill_id = conn.execute(upsert_insert(conn, bills).on_conflict_do_nothing().returning(bills.c.id), row).scalar()
    if bill_id is None:  # another process stored this period's bill meanwhile: theirs is the bill
        return RunResult(stored_bill(conn, client, period), True, [])
    rows = []
    for v in volumes:
        if v.status != "ok":
            continue
        for role, read in (("opening", v.opening), ("closing", v.closing)):
            basis = None if read.basis is None else {**_read_row(read.basis), "read_at": read.basis.at.isoformat()}
            rows.append({"bill_id": bill_id, "asset_id": v.asset_id, "meter": v.meter, "period": str(period),
                         "role": role, **_read_row(read), "basis": basis,
                         "daily_volume": None if read.daily_volume is None else str(read.daily_volume),
                         "pages": v.pages, "true_up_pages": v.true_up_pages})
    if rows:
        conn.execute(billing_reads.insert(), rows)
    return RunResult(document, True, [])


# --- export -----------------------------------------------------------------------------------------------

def _bill_of(client: int, doc: dict[str, Any], charges: list[MeterCharge], fee: Decimal,
             consumables: list[dict[str, Any]]) -> Bill:
    lines = tuple(ConsumableLine(delivery_of(c), c["status"], None if c["unit_price"] is None else Decimal(c["unit_price"]),
                                 None if c["amount"] is None else Decimal(c["amount"])) for c in consumables)
    total = sum((c.amount for c in charges), Decimal(0)) + fee
    return Bill(client, Period.parse(doc["period"]), doc["plan_type"], doc["currency"], (), tuple(charges), fee,
                lines, total)


def export_entries(conn: Connection, period: Period) -> list[ExportEntry]:
    """ERP entries of the period's stored bills: one per contract (an asset's contract, as stored with the bill;
    an asset without one has an empty contract) with its meters and consumables, where the plan prices devices
    or deliveries; one per client where it prices the client's total (tiered: the tiers cannot be split by
    contract). The subscription fee goes on a client entry."""
    entries = []
    rows = conn.execute(select(bills.c.client_id, bills.c.document, clients.c.name)
                        .join(clients, clients.c.id == bills.c.client_id)
                        .where(bills.c.period == str(period)).order_by(clients.c.name)).all()
    for client, doc, name in rows:
        fee = Decimal(doc["fee"])
        if doc["plan_type"] == "tiered":
            charges = [MeterCharge(m["meter"], m["pages"], Decimal(m["amount"])) for m in doc["meters"]]
            entries.append(ExportEntry(_bill_of(client, doc, charges, fee, doc["consumables"]), "", name))
            continue
        contracts = doc.get("contracts")   # bills stored before contracts were recorded: today's contracts
        per_asset: dict[Any, list[MeterCharge]] = defaultdict(list)
        delivered: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for line in doc["lines"]:
            per_asset[line["asset"]].append(MeterCharge(line["meter"], line["pages"], Decimal(line["amount"])))
        for item in doc["consumables"]:
            delivered[item["asset"]].append(item)
        for asset_id in sorted({*per_asset, *delivered}):
            contract = contracts.get(str(asset_id), "") if contracts is not None else asset_contract(conn, asset_id)
            entries.append(ExportEntry(_bill_of(client, doc, per_asset.get(asset_id, []), Decimal(0),
                                                delivered.get(asset_id, [])), contract, name, asset=str(asset_id)))
        if fee:
            entries.append(ExportEntry(_bill_of(client, doc, [], fee, []), "", name))
    return entries


# --- invoices ---------------------------------------------------------------------------------------------

def invoice_number(client: int, period: Period) -> str:
    """One invoice per client and period: the number follows from them (unique, the same in every process)."""
    return f"INV-{period.year:04d}{period.month:02d}-{client:05d}"


def _invoice(row) -> inv.Invoice:
    return inv.Invoice(row.number, row.client_id, row.period and Period.parse(row.period), row.amount, row.currency,
                       row.issued_on, row.due_on)


def _payments(conn: Connection, invoice_id: int) -> list[inv.Payment]:
    return [inv.Payment(r.amount, r.paid_on, r.currency, r.reference) for r in conn.execute(
        select(payments).where(payments.c.invoice_id == invoice_id).order_by(payments.c.paid_on, payments.c.id))]


def create_invoice(conn: Connection, client: int, period: Period, today: date, now: datetime,
                   terms_days: int = 30) -> str:
    doc = stored_bill(conn, client, period)
    if doc is None:
        raise BillingError(f"client {client} has no stored bill for {period}; run: fleetmeter-server billing run")
    bill_id = conn.execute(select(bills.c.id).where(bills.c.client_id == client, bills.c.period == str(period))).scalar_one()
    number = invoice_number(client, period)
    if conn.execute(select(invoices.c.id).where(invoices.c.bill_id == bill_id)).scalar() is not None:
        raise BillingError(f"invoice {number} exists already for {period}")
    invoice = inv.Invoice(number, client, period, Decimal(doc["total"]), doc["currency"], today,
                          today + timedelta(days=terms_days))
    client_row = conn.execute(select(clients).where(clients.c.id == client)).one()
    html = invoice_html(invoice, client_row.name, client_row.address, doc)
    stored = conn.execute(upsert_insert(conn, invoices).on_conflict_do_nothing().returning(invoices.c.id), {
        "number": number, "client_id": client, "bill_id": bill_id, "period": str(period), "amount": invoice.amount,
        "currency": invoice.currency, "issued_on": invoice.issued_on, "due_on": invoice.due_on,
        "file_name": f"{number}.html", "file_type": "text/html; charset=utf-8", "file": html.encode("utf-8"),
        "created_at": now}).scalar()
    if stored is None:
        raise BillingError(f"invoice {number} exists already for {period}")
    return number


def _invoice_row(conn: Connection, number: str, lock: bool = False):
    query = select(invoices).where(invoices.c.number == number)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise BillingError(f"no invoice {number!r}; see: fleetmeter-server invoices list")
    return row


def _shown(value: Decimal) -> str:
    """Money as stored (Numeric scale 6) shown with cents, or with all its places when it has more."""
    cents = value.quantize(Decimal("0.01"))
    return str(cents if cents == value else value.normalize())


def invoice_summary(conn: Connection, row, today: date) -> dict[str, Any]:
    invoice, paid = _invoice(row), _payments(conn, row.id)
    state = inv.invoice_state(invoice, paid, today)
    client_name = conn.execute(select(clients.c.name).where(clients.c.id == row.client_id)).scalar()
    return {"number": row.number, "client": client_name, "period": row.period, "amount": _shown(row.amount),
            "currency": row.currency, "issued_on": row.issued_on.isoformat(), "due_on": row.due_on.isoformat(),
            "paid": _shown(state.paid), "balance": _shown(state.balance), "status": state.status, "overdue": state.overdue,
            "file": row.file_name,
            "payments": [{"amount": _shown(p.amount), "paid_on": p.paid_on.isoformat(), "reference": p.reference}
                         for p in paid]}


def list_invoices(conn: Connection, today: date, client: int | None = None) -> list[dict[str, Any]]:
    query = select(invoices).order_by(invoices.c.number)
    if client is not None:
        query = query.where(invoices.c.client_id == client)
    return [invoice_summary(conn, row, today) for row in conn.execute(query).all()]


def show_invoice(conn: Connection, number: str, today: date) -> dict[str, Any]:
    return invoice_summary(conn, _invoice_row(conn, number), today)


def pay_invoice(conn: Connection, number: str, amount: Decimal, paid_on: date, reference: str | None,
                now: datetime) -> dict[str, Any]:
    """Record a (partial) payment; invoices.add_payment refuses more than the balance. The invoice row is
    locked (PostgreSQL) so two processes cannot both pay the last balance."""
    row = _invoice_row(conn, number, lock=True)
    invoice = _invoice(row)
    payment = inv.Payment(amount, paid_on, row.currency, reference)
    inv.add_payment(invoice, _payments(conn, row.id), payment)
    conn.execute(payments.insert().values(invoice_id=row.id, amount=amount, currency=row.currency, paid_on=paid_on,
                                          reference=reference, recorded_at=now))
    return invoice_summary(conn, row, paid_on)


def invoice_file(conn: Connection, number: str) -> tuple[str, bytes]:
    row = _invoice_row(conn, number)
    return row.file_name, row.file
