"""Billing rules: the seed's worked example and each billing model on a small fleet.

Expected amounts are worked out by hand in each test from the plan's numbers (the arithmetic is shown).
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

import server_stub.billing
from server_stub.billing.periods import Period
from server_stub.billing.plans import PlanError, load_plan, load_plan_file, plan_for_period, set_plan
from server_stub.billing.reads import MeterRead, period_volume
from server_stub.billing.rules import Delivery, Device, bill_for_period, compute_bill, tiered_amount

MARCH = Period(2026, 3)
EXAMPLE = Path(server_stub.billing.__file__).with_name("plan.example.toml")
D = Decimal


def vol(asset: str, meter: str, pages: int, period: Period = MARCH, start: int = 10_000):
    """A period volume of `pages` from two actual reads at the period's cut-offs."""
    return period_volume([MeterRead(asset, meter, period.start, start), MeterRead(asset, meter, period.end, start + pages)],
                         period)


def plan(body: str, type_: str):
    return load_plan(f'type = "{type_}"\ncurrency = "EUR"\n{body}', "toml")


SIMPLE = """
[prices]
mono = 0.0060
color = 0.0550
scan = 0.0010
"""


# --- the seed's worked example ----------------------------------------------------------------------

def test_worked_example_tiers_come_out_exactly():
    tiers = load_plan_file(EXAMPLE).tiers
    uses, mono = tiered_amount(13_207, tiers.mono)
    assert mono == D("75028")
    # the seed's table: 100 x 10 + 900 x 8 + 9000 x 6 + 3207 x 4
    assert [(u.first, u.pages, u.price, u.amount) for u in uses] == [
        (1, 100, 10, 1000), (101, 900, 8, 7200), (1001, 9000, 6, 54000), (10001, 3207, 4, 12828)]
    uses, color = tiered_amount(11_216, tiers.color)
    assert color == D("86723.2")
    assert [u.amount for u in uses] == [D("1200"), D("9450"), D("69750"), D("6323.2")]


def test_tiered_bill_on_a_small_fleet_applies_tiers_to_the_client_total():
    example = load_plan_file(EXAMPLE)
    devices = [Device("P1", "north"), Device("P2", "north"), Device("P3", "south")]
    # 13,207 mono pages in all (8,000 + 5,000 + 207), 11,216 colour pages (6,000 + 5,216; P3 is mono only)
    volumes = [vol("P1", "mono", 8000), vol("P2", "mono", 5000), vol("P3", "mono", 207),
               vol("P1", "color", 6000), vol("P2", "color", 5216)]
    bill = compute_bill("acme", MARCH, example, devices, volumes)
    charges = {c.meter: c for c in bill.charges}
    assert charges["mono"].pages == 13_207 and charges["mono"].amount == D("75028.00")
    assert charges["color"].pages == 11_216 and charges["color"].amount == D("86723.20")
    assert bill.total == D("75028") + D("86723.2")
    assert all(l.amount is None and l.price_source == "tiers on the client total" for l in bill.lines)
    assert bill.complete


def test_tiers_below_the_first_threshold_and_exactly_on_one():
    tiers = load_plan_file(EXAMPLE).tiers.mono
    assert tiered_amount(0, tiers) == ((), 0)
    assert tiered_amount(100, tiers)[1] == 100 * 10
    assert tiered_amount(101, tiers)[1] == 100 * 10 + 1 * 8
    assert tiered_amount(10_000, tiers)[1] == 100 * 10 + 900 * 8 + 9000 * 6


# --- the other models on a small fleet --------------------------------------------------------------

def test_simple_prices_each_page_at_its_meter_price():
    devices = [Device("D1"), Device("D2")]
    volumes = [vol("D1", "mono", 1200), vol("D1", "color", 300), vol("D1", "scan", 50), vol("D2", "mono", 4500)]
    bill = compute_bill("acme", MARCH, plan(SIMPLE, "simple"), devices, volumes)
    lines = {(l.asset_id, l.meter): l.amount for l in bill.lines}
    assert lines == {("D1", "mono"): D("7.20"),     # 1200 x 0.0060
                     ("D1", "color"): D("16.50"),   # 300 x 0.0550
                     ("D1", "scan"): D("0.05"),     # 50 x 0.0010
                     ("D2", "mono"): D("27.00")}    # 4500 x 0.0060
    assert {c.meter: c.amount for c in bill.charges} == {"mono": D("34.20"), "color": D("16.50"), "scan": D("0.05")}
    assert bill.total == D("50.75")


def test_subscription_bills_pages_beyond_the_included_ones_and_the_fee():
    body = SIMPLE + "[subscription]\nfee = 45.00\nincluded = { mono = 2000, color = 300 }\n"
    devices = [Device("D1"), Device("D2")]
    volumes = [vol("D1", "mono", 2500), vol("D1", "color", 250), vol("D2", "mono", 1800), vol("D2", "color", 420)]
    bill = compute_bill("acme", MARCH, plan(body, "subscription"), devices, volumes)
    lines = {(l.asset_id, l.meter): l.amount for l in bill.lines}
    assert lines == {("D1", "mono"): D("3.00"),    # (2500 - 2000) x 0.0060
                     ("D1", "color"): D("0.00"),   # 250 <= 300 included
                     ("D2", "mono"): D("0.00"),    # 1800 <= 2000 included
                     ("D2", "color"): D("6.60")}   # (420 - 300) x 0.0550
    assert bill.fee == D("45.00")
    assert bill.total == D("45.00") + D("3.00") + D("6.60")


def test_custom_prices_device_beats_model_beats_default_per_meter():
    body = SIMPLE + """
[[custom.models]]
manufacturer = "Ricoh"
model = "Aficio MP C3002"
prices = { mono = 0.0050, color = 0.0450 }
[[custom.devices]]
serial = "W492KB03439"
prices = { color = 0.0400 }
"""
    devices = [Device("D1", manufacturer="Ricoh", model="Aficio MP C3002", serial="W492KB03439"),
               Device("D2", manufacturer="RICOH", model="aficio  MP C3002", serial="W492KB00001"),
               Device("D3", manufacturer="HP", model="LaserJet M507", serial="PHB1234")]
    volumes = [vol("D1", "mono", 1000), vol("D1", "color", 1000), vol("D2", "mono", 2000),
               vol("D2", "color", 500), vol("D3", "mono", 3000)]
    bill = compute_bill("acme", MARCH, plan(body, "custom"), devices, volumes)
    lines = {(l.asset_id, l.meter): (l.amount, l.price_source) for l in bill.lines}
    assert lines == {("D1", "mono"): (D("5.00"), "model Ricoh Aficio MP C3002"),   # 1000 x 0.0050
                     ("D1", "color"): (D("40.00"), "device W492KB03439"),          # 1000 x 0.0400
                     ("D2", "mono"): (D("10.00"), "model Ricoh Aficio MP C3002"),  # 2000 x 0.0050
                     ("D2", "color"): (D("22.50"), "model Ricoh Aficio MP C3002"), # 500 x 0.0450
                     ("D3", "mono"): (D("18.00"), "prices")}                       # 3000 x 0.0060
    assert bill.total == D("95.50")


def test_per_consumable_prices_deliveries_in_the_period_and_lists_unpriced_ones():
    body = """
[[consumables.prices]]
part_number = "842311"
price = 89.00
[[consumables.prices]]
type = "toner"
color = "black"
price = 75.00
"""
    devices = [Device("D1"), Device("D2")]
    when = datetime(2026, 3, 12, tzinfo=timezone.utc)
    deliveries = [Delivery("D1", when, 2, part_number="842311", type="toner", color="cyan"),
                  Delivery("D2", when, 1, type="toner", color="Black"),
                  Delivery("D2", when, 1, type="drum", color="black", reference="job 17"),
                  Delivery("D1", datetime(2026, 4, 1, tzinfo=timezone.utc), 5, part_number="842311")]
    bill = compute_bill("acme", MARCH, plan(body, "consumable"), devices, [vol("D1", "mono", 900)], deliveries)
    assert [(c.status, c.amount) for c in bill.consumables] == [
        ("ok", D("178.00")),   # 2 x 89.00 by part number
        ("ok", D("75.00")),    # 1 x 75.00 by type + colour
        ("unpriced", None)]    # no price for a drum: listed, not billed at 0; April's delivery not in March
    assert bill.lines == () and bill.total == D("253.00")
    assert not bill.complete and bill.open_items[0].delivery.reference == "job 17"


def test_a4_equivalent_counts_a_large_page_as_two():
    body = SIMPLE + "[a4_equivalent]\nlarge_mono = 2\n"
    # 1000 mono pages of which 100 were A3: 900 + 100 x 2 = 1100 A4 pages
    bill = compute_bill("acme", MARCH, plan(body, "simple"), [Device("D1")],
                        [vol("D1", "mono", 1000), vol("D1", "large_mono", 100)])
    line = bill.lines[0]
    assert (line.meter, line.pages, line.amount) == ("mono", 1100, D("6.60"))   # 1100 x 0.0060
    assert [v.meter for v in line.volumes] == ["mono", "large_mono"]


# --- held and missing reads, true-up ------------------------------------------------------------------

def test_held_and_missing_lines_are_listed_and_left_out_of_the_total():
    devices = [Device("D1"), Device("D2"), Device("D3")]
    # D2: 100 pages a day for two months, then 9,000 in March: held for review
    history = [MeterRead("D2", "mono", datetime(2026, 1, d, tzinfo=timezone.utc), d * 100) for d in range(1, 31)]
    history += [MeterRead("D2", "mono", MARCH.start, 5900), MeterRead("D2", "mono", MARCH.end, 14_900)]
    held = period_volume(history, MARCH)
    missing = period_volume([MeterRead("D3", "mono", MARCH.start, 10)], MARCH)
    bill = compute_bill("acme", MARCH, plan(SIMPLE, "simple"), devices, [vol("D1", "mono", 1000), held, missing])
    assert [(l.asset_id, l.status, l.amount) for l in bill.lines] == [
        ("D1", "ok", D("6.00")), ("D2", "held", None), ("D3", "missing_read", None)]
    assert bill.total == D("6.00")  # 1000 x 0.0060; D2 and D3 wait
    assert not bill.complete and {l.asset_id for l in bill.open_items} == {"D2", "D3"}


def test_a_true_up_is_billed_with_the_period_it_is_found_in():
    history = [MeterRead("D1", "mono", datetime(2026, 2, d, tzinfo=timezone.utc), 1000 + d * 10) for d in range(1, 29)]
    history.append(MeterRead("D1", "mono", MARCH.start, 1290))
    history.append(MeterRead("D1", "mono", datetime(2026, 3, 15, tzinfo=timezone.utc), 1430))
    march = period_volume(history, MARCH, estimate=True)   # 1430 + 17 days x 10 = 1600 estimated
    april = Period(2026, 4)
    history += [MeterRead("D1", "mono", april.start, 1550), MeterRead("D1", "mono", april.end, 1850)]
    volume = period_volume(history, april, opening=march.closing)
    bill = compute_bill("acme", april, plan(SIMPLE, "simple"), [Device("D1")], [volume])
    line = bill.lines[0]
    # April's 300 pages, less the 50 estimated too many in March: 250 x 0.0060
    assert (line.pages, line.true_up_pages, line.amount) == (300 - 50, -50, D("1.50"))


# --- price change mid-period ------------------------------------------------------------------------

def test_price_change_applies_from_the_current_period_start_and_never_to_billed_periods():
    old = plan(SIMPLE, "simple")
    new = plan(SIMPLE.replace("0.0060", "0.0080"), "simple")
    history = set_plan((), old, datetime(2026, 1, 10, tzinfo=timezone.utc))
    history = set_plan(history, new, datetime(2026, 3, 15, 9, tzinfo=timezone.utc))  # mid-March
    devices = [Device("D1")]
    february = bill_for_period(history, "acme", Period(2026, 2), devices, [vol("D1", "mono", 1000, Period(2026, 2))])
    march = bill_for_period(history, "acme", MARCH, devices, [vol("D1", "mono", 1000)])
    assert february.total == D("6.00")   # 1000 x 0.0060: February keeps its plan
    assert march.total == D("8.00")      # 1000 x 0.0080: the whole of March, from its start
    assert plan_for_period(history, Period(2025, 12)) is None
    now = datetime(2026, 3, 15, tzinfo=timezone.utc)
    with pytest.raises(PlanError, match="2026-02: the 2026-02 bill is stored and billed periods never change"):
        set_plan(history, new, now, effective_from=Period(2026, 2), last_bill=(Period(2026, 2), "the 2026-02 bill"))
    with pytest.raises(PlanError, match="earliest: 2026-03"):   # before the billed period: refused as well
        set_plan(history, new, now, effective_from=Period(2026, 1), last_bill=(Period(2026, 2), "the 2026-02 bill"))
    # a past period not billed yet may still be priced: from it on, until the next version
    redone = set_plan(history, new, now, effective_from=Period(2026, 2), last_bill=(Period(2026, 1), "the 2026-01 bill"))
    assert [plan_for_period(redone, Period(2026, m)) for m in (1, 2, 3)] == [old, new, new]
    with pytest.raises(PlanError, match="no billing plan in effect for 2025-12"):
        bill_for_period(history, "acme", Period(2025, 12), devices, [])
