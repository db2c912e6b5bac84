"""ERP CSV export (formula injection neutralised) and the bill's JSON document."""

from __future__ import annotations

import csv
import io
import json

from server_stub.billing.export import ERP_COLUMNS, ExportEntry, bill_document, neutralise, write_erp_csv
from server_stub.billing.periods import Period
from server_stub.billing.plans import load_plan
from server_stub.billing.reads import MeterRead, MeterVolume, period_volume
from server_stub.billing.rules import Device, compute_bill

MARCH = Period(2026, 3)
SIMPLE = load_plan('type = "simple"\ncurrency = "EUR"\n[prices]\nmono = 0.0060\ncolor = 0.0550\n', "toml")
HOSTILE = ['=HYPERLINK("http://evil.example/","click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
           "\tlooks blank", "\rsplit", "Acme, \"Ltd\"\nsecond line"]


def vol(asset, meter, pages):
    return period_volume([MeterRead(asset, meter, MARCH.start, 500), MeterRead(asset, meter, MARCH.end, 500 + pages)],
                         MARCH)


def test_neutralise_prefixes_every_formula_start_and_leaves_plain_text():
    for cell in HOSTILE[:-1]:
        assert neutralise(cell) == "'" + cell
    assert neutralise("Acme GmbH") == "Acme GmbH"
    assert neutralise("") == ""


def test_erp_csv_one_line_per_contract_and_meter_with_hostile_names_neutralised():
    entries = []
    for index, name in enumerate(HOSTILE):
        bill = compute_bill(name, MARCH, SIMPLE, [Device("D1")], [vol("D1", "mono", 1000), vol("D1", "color", 10)])
        entries.append(ExportEntry(bill, contract=HOSTILE[-1 - index], client_name=name))
    out = io.StringIO(newline="")
    assert write_erp_csv(out, entries) == len(HOSTILE) * 3   # mono, color, scan per contract
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert tuple(rows[0]) == ERP_COLUMNS
    body = [dict(zip(ERP_COLUMNS, row)) for row in rows[1:]]
    for row in body:
        for column in ("contract", "client", "client_name"):
            assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), row[column]
    first = body[0]
    assert first["client_name"] == "'" + HOSTILE[0] and first["contract"] == HOSTILE[-1]  # comma, quote, newline kept
    assert [(r["meter"], r["quantity"], r["amount"]) for r in body[:3]] == [
        ("mono", "1000", "6.00"), ("color", "10", "0.55"), ("scan", "0", "0.00")]  # 1000 x 0.006, 10 x 0.055


def test_credit_amounts_stay_numbers():
    credit = MeterVolume("D1", "mono", MARCH, "ok", pages=0, true_up_pages=-50)
    bill = compute_bill("acme", MARCH, SIMPLE, [Device("D1")], [credit])
    out = io.StringIO(newline="")
    write_erp_csv(out, [ExportEntry(bill, "C-1", "Acme")])
    row = dict(zip(ERP_COLUMNS, list(csv.reader(io.StringIO(out.getvalue(), newline="")))[1]))
    assert row["amount"] == "-0.30"   # -50 x 0.0060: a credit the ERP must read as a number


def test_bill_document_is_json_with_money_as_strings_and_the_reads_used():
    bill = compute_bill("acme", MARCH, SIMPLE, [Device("D1")], [vol("D1", "mono", 1234)])
    document = json.loads(json.dumps(bill_document(bill)))
    line = document["lines"][0]
    assert line["amount"] == "7.40" and document["total"] == "7.40"   # 1234 x 0.0060 = 7.404 -> 7.40
    assert line["reads"][0]["opening"]["at"] == "2026-03-01T00:00:00Z"
    assert line["reads"][0]["closing"]["value"] == 500 + 1234
