"""Bill output: the ERP CSV (one line per contract and meter) and the JSON document of `billing run --json`.

Text a customer or dealer typed (client names, contract references) is neutralised against formula
injection: a cell starting with = + - @, a tab or a carriage return gets a leading apostrophe, so a
spreadsheet shows it as text. Numbers the export formats itself (pages, Decimal amounts, which may be
negative credits) are written as plain numbers. Rows are written by the csv module (quoting, newlines).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from server_stub.billing.reads import MeterRead, MeterVolume
from server_stub.billing.rules import Bill, ConsumableLine, Delivery
from server_stub.spreadsheet import neutralise

ERP_COLUMNS = ("period", "contract", "asset", "client", "client_name", "meter", "quantity", "unit", "amount", "currency",
               "plan_type", "complete")
@dataclass(frozen=True)
class ExportEntry:
    bill: Bill
    contract: str        # the contract reference the ERP knows
    client_name: str
    asset: str = ""      # the asset a device-priced entry is about ("" for a client-level entry)


def erp_rows(entries: Iterable[ExportEntry]) -> list[list[str]]:
    """One row per contract and meter (mono, color, scan), plus the consumables delivered under the contract
    (quantity and amount of the priced ones) and the subscription fee on the client's entry."""
    rows: list[list[str]] = []
    for entry in entries:
        bill = entry.bill
        head = [str(bill.period), neutralise(entry.contract), neutralise(entry.asset), neutralise(str(bill.client_id)),
                neutralise(entry.client_name)]
        tail = [bill.currency, bill.plan_type, "yes" if bill.complete else "no"]
        for charge in bill.charges:
            rows.append([*head, charge.meter, str(charge.pages), "pages", str(charge.amount), *tail])
        if bill.plan_type == "subscription" and not entry.asset:   # the fee is the client's, once
            rows.append([*head, "subscription_fee", "1", "period", str(bill.fee), *tail])
        priced = [c for c in bill.consumables if c.amount is not None]
        if priced:
            rows.append([*head, "consumables", str(sum(c.delivery.quantity for c in priced)), "items",
                         str(sum((c.amount for c in priced), Decimal(0))), *tail])
    return rows


def write_erp_csv(stream: IO[str], entries: Iterable[ExportEntry]) -> int:
    """Write the header and rows to `stream` (opened with newline=""); returns the number of rows."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(ERP_COLUMNS)
    rows = erp_rows(entries)
    writer.writerows(rows)
    return len(rows)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _read(read: MeterRead | None) -> dict[str, Any] | None:
    if read is None:
        return None
    return {"at": _iso(read.at), "value": read.value, "kind": read.kind,
            "serial": read.serial, "source_oid": read.source_oid, "source_origin": read.source_origin,
            "reading_id": read.reading_id, "entered_by": read.entered_by,
            "basis": _read(read.basis), "daily_volume": None if read.daily_volume is None else str(read.daily_volume)}


def _volume(volume: MeterVolume) -> dict[str, Any]:
    return {"meter": volume.meter, "status": volume.status, "pages": volume.pages,
            "true_up_pages": volume.true_up_pages, "opening": _read(volume.opening), "closing": _read(volume.closing),
            "trued_up_by": _read(volume.trued_up_by),
            "breaks": [{"at": _iso(b.at), "kind": b.kind, "old_final": b.old_final,
                        "new_start": b.new_start, "serial": b.serial, "inferred": b.inferred} for b in volume.breaks],
            "set_aside": [_read(r) for r in volume.set_aside],
            "expected": None if volume.expected is None else str(round(volume.expected)), "reason": volume.reason}


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def bill_document(bill: Bill) -> dict[str, Any]:
    """The bill as one JSON-ready document (money as strings, times as UTC ISO 8601)."""
    return {
        "client": bill.client_id, "period": str(bill.period), "plan_type": bill.plan_type,
        "currency": bill.currency, "complete": bill.complete, "total": str(bill.total), "fee": str(bill.fee),
        "lines": [{"asset": l.asset_id, "meter": l.meter, "status": l.status, "pages": l.pages,
                   "true_up_pages": l.true_up_pages, "included": l.included, "unit_price": _money(l.unit_price),
                   "price_source": l.price_source, "amount": _money(l.amount), "reason": l.reason,
                   "reads": [_volume(v) for v in l.volumes]} for l in bill.lines],
        "meters": [{"meter": c.meter, "pages": c.pages, "amount": str(c.amount),
                    "tiers": [{"first": t.first, "last": t.last, "pages": t.pages, "price": str(t.price),
                               "amount": str(t.amount)} for t in c.tiers]} for c in bill.charges],
        "consumables": [_consumable(c) for c in bill.consumables],
    }


def _consumable(line: ConsumableLine) -> dict[str, Any]:
    d = line.delivery
    return {"asset": d.asset_id, "site": d.site_id, "delivered_at": _iso(d.delivered_at), "quantity": d.quantity,
            "stock_code": d.stock_code, "part_number": d.part_number, "type": d.type, "color": d.color,
            "order": d.order_id, "order_line": d.order_line, "job": d.job_id, "job_line": d.job_line,
            "reference": d.reference, "sources": list(d.sources),
            "status": line.status, "unit_price": _money(line.unit_price), "amount": _money(line.amount)}


def delivery_of(doc: dict[str, Any]) -> Delivery:
    """A bill document's consumable line back as the Delivery it priced."""
    return Delivery(doc["asset"], datetime.fromisoformat(doc["delivered_at"].replace("Z", "+00:00")), doc["quantity"],
                    doc["part_number"], doc["type"], doc["color"], doc["reference"], doc.get("stock_code"),
                    doc.get("site"), doc.get("order"), doc.get("order_line"), doc.get("job"), doc.get("job_line"))
