"""The engine: readings in, replacements, alarms and orders out (what live ingest and the backtest share)."""

from __future__ import annotations

from datetime import timedelta

from server_stub.supply import orders as lifecycle
from server_stub.supply.engine import SupplyEngine, supply_key
from server_stub.supply.policy import Policy, PolicyFile
from tests.supply_helpers import START, Printer, at, reading, toner


def engine(**policy) -> SupplyEngine:
    return SupplyEngine(Policy(PolicyFile.model_validate(policy)))


def test_supply_key_carries_the_device_index():
    assert supply_key({"index": 3}) == "3"
    assert supply_key({"index": 3, "device_index": 1}) == "1.3"


def test_a_replacement_during_an_agent_gap_is_seen_from_the_pages_and_raises_no_false_alarm():
    printer = Printer(yield_pages=3000, report_serial=False)
    eng = engine()
    events, alarms = [], []
    for day in range(80):
        doc = printer.day(day)
        if 30 <= day <= 75:
            continue  # the agent was offline; the cartridge ran out, was replaced and fell below its old level
        observed = eng.observe("c", "s", doc)
        events += [e for e, _ in observed.replacements]
        alarms += observed.alarms
    gap_swap = [d for d in printer.replaced_on if 30 <= d <= 75]
    assert gap_swap and [e.cause for e in events] == ["pages"]
    assert events[0].at == at(76)  # first seen at the reading after the gap
    assert events[0].left_percent is None and events[0].new_percent is None
    assert {a.kind for a in alarms} == {"without_order"}  # not "too early", not "from another device"


def test_a_busy_printer_swapping_in_the_morning_is_not_taken_for_a_used_cartridge():
    # 1500 pages a day on 3000-page cartridges: by the evening reading a fresh one already shows ~70 %
    printer = Printer(yield_pages=3000, pages=lambda day: 1500, report_serial=False)
    eng = engine()
    alarms = []
    for day in range(12):
        alarms += eng.observe("c", "s", printer.day(day)).alarms
    kinds = {a.kind for a in alarms}
    assert "from_other_device" not in kinds and "premature" not in kinds


def test_very_high_use_is_flagged_once_per_cartridge_instead_of_ordered():
    printer = Printer(yield_pages=3000, pages=lambda day: 1000)  # a cartridge every three days
    eng = engine()
    flags, orders = [], []
    for day in range(45):
        doc = printer.day(day)
        eng.observe("c", "s", doc)
        placed, raised = eng.decide("s", at(day), {"T1"})
        flags += raised
        orders += placed
    assert orders == []
    assert flags and all(f.kind == "high_use" for f in flags)
    assert len(flags) <= len(printer.replaced_on) + 1  # at most once per cartridge


def test_site_consolidation_and_delivery_through_the_engine():
    a = Printer(serial="A", yield_pages=3000)  # runs out on day ~41, after a month of history
    b = Printer(serial="B", yield_pages=3000,  # idle for two days: runs out a few days after A
                pages=lambda day: 100 if day >= 2 and (START + timedelta(days=day)).weekday() < 5 else 0)
    eng = engine()
    placed = []
    for day in range(60):
        for p in (a, b):
            eng.observe("c", "site", p.day(day))
            placed += eng.decide("site", at(day), {p.serial})[0]
        eng.deliver_due(at(day, 23))
    first = next(o for o in placed if any(ln.device == "A" for ln in o.lines) and o.rule == "proactive")
    assert {(ln.device, ln.reason) for ln in first.lines} == {("A", "proactive"), ("B", "consolidated")}
    assert eng.orders[first.id].status.value in ("to_replace", "replaced")
    assert eng.orders[first.id].delivered_at == first.shipped_at + timedelta(days=5)
    assert sum(1 for o in placed for ln in o.lines if ln.device == "B") == 1  # B not ordered twice


def test_cartridges_used_up_between_two_readings_are_counted_and_close_their_order():
    # 100 pages a working day on 3000-page cartridges; on day 20 a 7,000-page job runs the installed cartridge
    # out and a whole fresh one after it: the evening reading shows the third cartridge, a replacement away
    job_day = 20
    printer = Printer(yield_pages=3000, report_serial=False,
                      pages=lambda day: 7000 if day == job_day else 100 if (START + timedelta(days=day)).weekday() < 5 else 0)
    eng = engine()
    events: list = []
    for day in range(job_day):
        events += [e for e, _ in eng.observe("c", "s", printer.day(day)).replacements]
    slot = eng.slots[("T1", "1")]
    order = _manual_order(eng, slot, quantity=2)
    observed = eng.observe("c", "s", printer.day(job_day))
    used_up = [d for d in printer.replaced_on if d == job_day]
    assert len(used_up) == 2  # the scenario: two cartridges changed between the readings of days 19 and 20
    found = [e for e, _ in observed.replacements]
    assert len(found) == len(used_up)
    assert at(job_day - 1) < found[0].at < found[1].at == at(job_day)
    assert all(order_id == order.id for _, order_id in observed.replacements)
    assert eng.stock(slot) == 0  # both cartridges of the order went in: the next need is ordered again
    assert found[0].left_percent == 0.0 and found[-1].new_percent is None


def test_an_ordinary_replacement_is_counted_once():
    printer = Printer(yield_pages=3000, report_serial=False)
    eng = engine()
    events = []
    for day in range(100):
        events += [e for e, _ in eng.observe("c", "s", printer.day(day)).replacements]
    assert len(printer.replaced_on) >= 2 and len(events) == len(printer.replaced_on)


def test_a_print_room_cartridge_is_counted_though_it_falls_20_points_a_day():
    # 1,000 pages a working day on 5,300-page cartridges: a new one is first seen part-used (80-95 %), and by the
    # next reading it is 20 points lower again, which must not read as a rise that fell back (a shake)
    printer = Printer(yield_pages=5300, report_serial=False,
                      pages=lambda day: 1000 if (START + timedelta(days=day)).weekday() < 5 else 0)
    eng = engine()
    events = []
    for day in range(60):
        events += [e for e, _ in eng.observe("c", "s", printer.day(day)).replacements]
    assert len(printer.replaced_on) >= 8  # the scenario
    assert [e.at.date() for e in events] == [(START + timedelta(days=d)) for d in printer.replaced_on]


def _manual_order(eng: SupplyEngine, slot, quantity: int):
    order = lifecycle.place_manual("M1", slot.client, slot.site, at(0), [(slot.device, slot.key, quantity, slot.part_number)],
                                   "two cartridges on the shelf")
    order = lifecycle.notification_sent(order, at(0), mark_shipped=True)
    eng.add_order(order)
    return order


def test_a_new_cartridge_behind_a_full_or_empty_gauge_starts_from_what_a_big_job_left_of_it():
    # a gauge that shows 100 until empty; 200 pages a working day on 3000-page cartridges (the device learns
    # them from its first full ones), then a job runs the cartridge out and half-way into the next
    job_day = 75
    printer = Printer(yield_pages=3000, gauge=lambda true: 100 if true > 0 else 0,
                      pages=lambda day: 200 if (START + timedelta(days=day)).weekday() < 5 else 0)
    eng = engine()
    for day in range(job_day):
        eng.observe("c", "s", printer.day(day))
    job = round(printer.level * 30) + 1500
    printer.pages = lambda day: job
    eng.observe("c", "s", printer.day(job_day))
    assert printer.replaced_on[-1] == job_day and 45 <= printer.level <= 55  # the scenario
    forecast = eng.slots[("T1", "1")].forecast
    assert forecast is not None and abs(forecast.percent - printer.level) <= 10


def test_a_cartridge_of_unknown_level_behind_a_full_or_empty_gauge_is_ordered_in_the_first_month():
    # in before monitoring, behind a gauge that shows 100 until empty: once more pages went through than a
    # coarse gauge's widest step hides, its level may be anything, so the first month's Level rule orders one
    # (cartridges lasting two months: 20 % leaves them weeks, so only the unknown level orders)
    binary = Printer(serial="B", yield_pages=10_000, gauge=lambda true: 100 if true > 0 else 0, pages=lambda day: 170)
    coarse = Printer(serial="Q", yield_pages=10_000, gauge=lambda true: min(100, 25 * -(-true // 25)),
                     pages=lambda day: 170)  # shows 100 until it falls below 75 %: a known level, not ordered
    eng = engine()
    ordered: dict[str, int] = {}
    for day in range(25):
        for printer in (binary, coarse):
            eng.observe("c", "s", printer.day(day))
            for order in eng.decide("s", at(day), {printer.serial})[0]:
                for line in order.lines:
                    ordered.setdefault(line.device, day)
    assert binary.replaced_on == []  # the scenario: the cartridge is still in, its level unknown to the server
    assert "B" in ordered and ordered["B"] >= 10  # not at once: a coarse gauge also shows 100 for a while
    assert "Q" not in ordered
    forecast = eng.slots[("B", "1")].forecast
    assert forecast is not None and not forecast.shown and forecast.percent_low == 0


def _colour_days(serial: str, levels: dict[int, float], gauge, days: range, *, pages: int = 100, colour: int = 50):
    """A colour printer's readings: cartridge `index` starts at `levels[index]` % of 10,000 pages (black uses every
    page, the colours the colour pages); `gauge(true) -> level` is the one gauge all four report through."""
    colours = {1: "black", 2: "cyan", 3: "magenta", 4: "yellow"}
    level, total, colour_total = dict(levels), 100_000, 30_000
    for day in days:
        total, colour_total = total + pages, colour_total + colour
        for index in level:
            level[index] = max(level[index] - 100 * (pages if index == 1 else colour) / 10_000, 0.0)
        yield day, dict(level), reading(serial, at(day), total, [toner(gauge(level[i]), index=i, color=colours[i], part=None)
                                                           for i in sorted(level)], color=colour_total)


def _first_orders(eng: SupplyEngine, docs) -> dict[tuple[str, str], int]:
    ordered: dict[tuple[str, str], int] = {}
    for day, _, doc in docs:
        eng.observe("c", "s", doc)
        for order in eng.decide("s", at(day), {doc["identity"]["serial"]})[0]:
            for line in order.lines:
                ordered.setdefault((line.device, line.supply), day)
    return ordered


def test_four_colour_gauges_that_only_show_full_tell_sooner_than_one_that_the_level_is_unknown():
    # cartridges in before monitoring, behind a gauge that shows 100 until empty, on a slow printer: one
    # cartridge alone needs 25 points (25 days here) before its gauge is known not to be a coarse one; four of
    # them at their different levels tell it in a third of that (a coarse gauge would have shown a step)
    binary = lambda true: 100 if true > 0 else 0
    eng = engine()
    ordered = _first_orders(eng, _colour_days("COL", {1: 40.0, 2: 25.0, 3: 60.0, 4: 15.0}, binary, range(20)))
    assert {supply for device, supply in ordered if device == "COL"} == {"1", "2", "3", "4"}
    assert all(8 <= day <= 12 for day in ordered.values())  # not at once: a few points each first
    mono = engine()
    assert _first_orders(mono, _colour_days("MONO", {1: 40.0}, binary, range(20))) == {}
    assert mono.slots[("MONO", "1")].forecast.shown  # alone, still maybe a coarse gauge's top step
    # a coarse gauge shows its other cartridges' steps: the one still at 100 has a known level (above 75 %)
    coarse = engine()
    quarter = lambda true: min(100, 25 * -(-true // 25))
    docs = list(_colour_days("Q", {1: 95.0, 2: 60.0, 3: 45.0, 4: 90.0}, quarter, range(20)))
    assert _first_orders(coarse, docs) == {}
    assert coarse.slots[("Q", "4")].forecast.shown


def test_a_cartridge_hidden_from_the_first_reading_by_a_gauge_that_hides_low_levels_is_ordered():
    # the gauge shows the level until it is low, then only "some remaining": the cyan cartridge was already low
    # when monitoring started (hidden from its first reading); once black was seen falling and then hidden for
    # days, cyan is known to be low too, and is ordered, weeks before it runs out
    low_only = lambda true: -3 if true <= 10 else round(true)
    eng = engine()
    docs = list(_colour_days("L", {1: 13.0, 2: 9.0, 3: 60.0, 4: 45.0}, low_only, range(25), pages=50, colour=20))
    ordered = _first_orders(eng, docs)
    empty_day = next(day for day, level, _ in docs if level[2] <= 0) if docs[-1][1][2] <= 0 else None
    assert empty_day is None  # the scenario: cyan (0.2 points a day) lasts beyond these weeks
    hid_day = next(day for day, level, _ in docs if level[1] <= 10)
    assert ("L", "2") in ordered and hid_day + 4 <= ordered[("L", "2")] <= hid_day + 8
    assert eng.slots[("L", "2")].forecast.percent_low < 5
    # a gauge that hides high levels ("some remaining" above 20 %), its black cartridge shaken above 20 % for a
    # reading: a shake, not a gauge hiding a low level; the hidden cyan stays unknown and unordered
    shaken = engine()
    remaining = lambda true: -3 if true > 20 else round(true)
    docs = list(_colour_days("R", {1: 19.0, 2: 70.0, 3: 15.0, 4: 18.0}, remaining, range(25), pages=50, colour=20))
    docs[3] = (3, docs[3][1], {**docs[3][2], "supplies": [toner(-3, index=1)] + docs[3][2]["supplies"][1:]})
    assert _first_orders(shaken, docs).get(("R", "2")) is None
    assert shaken.slots[("R", "2")].forecast is None
    # the same gauge, no cartridge serials: black showed its last few percent, then was used up and swapped for
    # a full one the gauge hides (unseen): not a gauge hiding low levels either
    swapped = engine()
    docs = list(_colour_days("W", {1: 4.0, 2: 70.0, 3: 15.0, 4: 18.0}, remaining, range(25), pages=50, colour=20))
    docs = [(day, level, {**doc, "supplies": [toner(-3, index=1)] + doc["supplies"][1:]}) if level[1] <= 0 else
            (day, level, doc) for day, level, doc in docs]
    assert any(level[1] <= 0 for _, level, _ in docs)  # the scenario: black ran out within the weeks
    assert _first_orders(swapped, docs).get(("W", "2")) is None
    assert swapped.slots[("W", "2")].forecast is None
