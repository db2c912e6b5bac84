"""The reorder policy: levels, methods, consolidation, no duplicates, usage jumps, high use, blocking."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from server_stub.supply.forecast import Forecast
from server_stub.supply.policy import (
    PolicyError, PolicyFile, Rules, SupplyView, load_policy, need, plan_site, quantity, supply_class)

NOW = datetime(2026, 6, 1, 18, tzinfo=timezone.utc)


def fc(days: float, *, percent: float = 20.0, spread: float = 1.0, per: float = 60.0) -> Forecast:
    """A forecast that runs out in `days` (earliest `spread` days before), a cartridge lasting `per` days."""
    empty = NOW + timedelta(days=days)
    return Forecast(percent, 1000, days, empty, empty - timedelta(days=spread), empty + timedelta(days=spread),
                    "level+cartridge", 50.0, per, per * 0.8)


def view(device: str = "D1", supply: str = "1", forecast: Forecast | None = None, *, history: float = 90,
         stock: int = 0, klass: str = "mono_toner", efficiency: float | None = None) -> SupplyView:
    return SupplyView(device, supply, "C", "S", klass, "TN-1", forecast, history, stock, efficiency)


def plan(views, rules: Rules | None = None, candidates=None):
    rules = rules or Rules()
    return plan_site(candidates or views, lambda: views, lambda v: rules, NOW)


def test_supply_classes():
    assert supply_class("toner", "black") == "mono_toner"
    assert supply_class("toner", "cyan") == "colour_toner"
    assert supply_class("opc", None) == "mono_drum"
    assert supply_class("drum", "magenta") == "colour_drum"
    assert supply_class("fuser", None) == "maintenance"
    assert supply_class("waste_toner", None) == "waste_toner"
    assert supply_class("staples", None) is None


def test_levels_global_then_client_then_device(tmp_path: Path):
    path = tmp_path / "policy.toml"
    path.write_text('preset = "default"\n[global]\nlead_days = 4\n[global.classes.colour_toner]\nmethod = "level"\n'
                    '[clients.A]\nconsolidation_days = 30\n[devices.D1]\nlead_days = 2\n'
                    '[devices.D1.classes.colour_toner]\nlevel_percent = 12\n')
    policy = load_policy(path)
    assert policy.rules("A", "D1").lead_days == 2
    assert policy.rules("A", "D2").lead_days == 4
    assert policy.rules("A", "D1").consolidation_days == 30
    assert policy.rules("B", None).consolidation_days == Rules().consolidation_days
    colour = policy.rules("A", "D1").classes["colour_toner"]
    assert (colour.method, colour.level_percent) == ("level", 12)  # the device level kept the global method
    assert policy.rules("A", "D2").classes["colour_toner"].level_percent == Rules().classes["colour_toner"].level_percent


@pytest.mark.parametrize("text, where", [
    ('[clients.A]\nbogus = 1\n', "clients.A.bogus"),
    ('[global]\nlead_days = "5"\n', "global.lead_days"),
    ('[global]\nsafety_days = nan\n', "global.safety_days"),
    ('[devices.D1.classes.mono_toner]\nmethod = "sometimes"\n', "devices.D1.classes.mono_toner.method"),
    ('preset = "xerox"\n', "preset"),
    ('[rated_yields]\nTN-1 = -5\n', "rated_yields.TN-1"),
])
def test_policy_file_is_strict_with_one_line_errors(tmp_path: Path, text: str, where: str):
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert where in str(info.value) and "\n" not in str(info.value)


def test_policy_file_json_and_unreadable(tmp_path: Path):
    path = tmp_path / "p.json"
    path.write_text('{"preset": "ekm"}')
    assert load_policy(path).rules(None, None).lead_days == 7
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.toml")


def test_level_method_orders_at_or_below_the_percent():
    rules = PolicyFile(preset="level10").layered()
    assert need(view(forecast=fc(30, percent=10.0)), rules, NOW)[0] == "level"
    assert need(view(forecast=fc(3, percent=10.5)), rules, NOW) is None


def test_proactive_orders_when_the_earliest_empty_date_is_within_lead_next_reading_and_safety():
    # an order placed at the next reading (a day later) must still come before the earliest empty date
    rules = Rules(lead_days=5, reading_days=1, safety_days=1.5)
    assert need(view(forecast=fc(8.4, spread=1.0)), rules, NOW)[0] == "proactive"  # earliest in 7.4 d
    assert need(view(forecast=fc(8.6, spread=1.0)), rules, NOW) is None  # earliest in 7.6 d


@pytest.mark.parametrize("min_history", [7.0, 30.0])  # a dealer's week, and the default month
def test_proactive_needs_its_history_and_uses_the_level_until_then(min_history: float):
    rules = Rules(min_history_days=min_history)
    young = view(forecast=fc(3, percent=40.0), history=min_history - 1)
    assert need(young, rules, NOW) is None
    fired = need(view(forecast=fc(3, percent=rules.classes["mono_toner"].level_percent), history=min_history - 1),
                 rules, NOW)
    assert fired[0] == "level" and fired[1]["proactive_after_days"] == min_history
    assert need(view(forecast=fc(3, percent=40.0), history=min_history), rules, NOW)[0] == "proactive"


def test_before_its_history_a_fast_cartridge_is_ordered_while_its_level_still_covers_the_window():
    rules = Rules()  # lead 5 + next reading 1 + safety 1: a 7-day window
    window = rules.lead_days + rules.reading_days + rules.safety_days
    level = rules.classes["mono_toner"].level_percent
    young = rules.min_history_days - 1
    # a cartridge lasting three weeks uses a third of itself in the window: the level rule's 20 % would leave
    # about four days, less than the lead time, so it orders while a window's worth is left
    fast = 21.0
    covers = 100 * window / fast
    assert covers > level  # the scenario
    fired = need(view(forecast=fc((covers - 1) * fast / 100, percent=covers - 1, per=fast), history=young), rules, NOW)
    assert fired[0] == "level" and fired[1]["level_percent"] == pytest.approx(covers, abs=0.1)
    assert need(view(forecast=fc(9, percent=covers + 1, per=fast), history=young), rules, NOW) is None
    # a cartridge lasting two months keeps the plain 20 %
    assert need(view(forecast=fc(20, percent=level + 1, per=60.0), history=young), rules, NOW) is None
    # a dealer's own Level method is a fixed percent
    fixed = PolicyFile(preset="level10").layered()
    assert need(view(forecast=fc(3, percent=11.0, per=fast), history=young), fixed, NOW) is None
    # one that may be very high use (two cartridges a week at its fastest) waits for a person, not for 100 %
    assert need(view(forecast=fc(2, percent=60.0, per=4.0), history=young), rules, NOW) is None


def test_first_month_level_on_a_1_percent_gauge_waits_until_even_the_fastest_use_empties_it_within_the_window():
    rules = Rules()  # a 7-day window: lead 5 + next reading 1 + safety 1
    young = rules.min_history_days - 1
    # 18 % on a slow printer lasts 20 days even at its fastest plausible use: a parcel sent now would wait weeks
    slow = fc(40, percent=18.0, spread=20.0, per=200.0)
    assert need(view(forecast=slow, history=young), rules, NOW) is None
    # once the earliest empty date comes within the window, the Level rule orders
    near = fc(12, percent=18.0, spread=6.0, per=60.0)
    assert need(view(forecast=near, history=young), rules, NOW)[0] == "level"
    # behind a coarse gauge the level is counted down from a guess: 20 % orders whatever the forecast says
    assert need(view(forecast=replace(slow, method="steps10+fleet"), history=young), rules, NOW)[0] == "level"
    # before the printer's first page rate (its first day), a 1 % gauge orders at 10 % or below
    first_day = Forecast(15.0, 1500, None, None, None, None, "level+default", 100.0, None, None)
    assert need(view(forecast=first_day, history=0), rules, NOW) is None
    assert need(view(forecast=replace(first_day, percent=9.0), history=0), rules, NOW)[0] == "level"
    # a dealer's own Level method stays a fixed percent
    assert need(view(forecast=replace(slow, percent=10.0)), PolicyFile(preset="level10").layered(), NOW)[0] == "level"


def test_asr_never_later_than_21_days_before_empty():
    rules = PolicyFile(preset="asr").layered()
    assert need(view(forecast=fc(20.5)), rules, NOW)[0] == "max_days_before_empty"
    assert need(view(forecast=fc(22)), rules, NOW) is None


def test_no_second_order_while_one_is_open_but_a_usage_jump_reorders():
    rules = Rules()
    assert need(view(forecast=fc(3, per=30), stock=1), rules, NOW) is None  # the one on order lasts 24+ days
    jumped = need(view(forecast=fc(3, per=4), stock=1), rules, NOW)  # now a cartridge lasts 4 days
    assert jumped[0] == "usage_jump" and jumped[1]["fired"] == "proactive"


def test_quantity_is_30_days_of_use_in_whole_cartridges_at_least_one():
    assert quantity(view(forecast=fc(3, per=12)), Rules(), NOW) == 3  # empty before the parcel comes: 30 days to cover
    assert quantity(view(forecast=fc(3, per=30)), Rules(), NOW) == 1
    assert quantity(view(forecast=fc(3, per=90)), Rules(), NOW) == 1
    assert quantity(view(forecast=fc(3, per=12)), Rules(cover_days=0), NOW) == 1
    assert quantity(view(forecast=None), Rules(), NOW) == 1


def test_quantity_counts_what_the_customer_still_holds_when_the_parcel_comes():
    # it may run out in eight days (fc: earliest a day before expected), the parcel comes in five: three days of
    # this cartridge are held, 27 to cover with cartridges lasting 14 days
    assert quantity(view(forecast=fc(9, per=14)), Rules(), NOW) == 2
    assert quantity(view(forecast=fc(9, per=14)), Rules(lead_days=9), NOW) == 3  # a slower parcel: 30 days to cover
    assert quantity(view(forecast=fc(9, spread=5, per=14)), Rules(), NOW) == 3  # held at the fastest plausible use
    assert quantity(view(forecast=fc(9, per=28)), Rules(), NOW) == 1  # the one that comes carries the month
    # a usage jump with one on the shelf (9.6 days at the fastest use): 2 + 9.6 - 5 = 6.6 days held, 23.4 to cover
    assert quantity(view(forecast=fc(3, per=12), stock=1), Rules(), NOW) == 2
    # more held than the month: still one (the order fired, so the policy wants one)
    assert quantity(view(forecast=fc(3, per=20), stock=2), Rules(), NOW) == 1
    # in a parcel: the line that fired and the one that joined it each say what was held
    (order,), _ = plan([view("D1", forecast=fc(6, per=14)), view("D2", forecast=fc(12, per=14))])
    assert [(ln.device, ln.quantity, ln.why["held_days"]) for ln in order.lines] == [("D1", 3, 0.0), ("D2", 2, 6.0)]


def test_consolidation_joins_supplies_due_within_the_window_only():
    views = [view("D1", forecast=fc(6)),  # fires
             view("D2", forecast=fc(12)),  # due within 14 days: joins
             view("D3", forecast=fc(20)),  # not due yet
             view("D4", forecast=fc(9), stock=1),  # already on order
             view("D5", forecast=fc(10), history=5)]  # not enough history to trust its date
    orders, flags = plan(views, candidates=[views[0]])
    assert flags == [] and len(orders) == 1
    lines = {(ln.device, ln.reason) for ln in orders[0].lines}
    assert lines == {("D1", "proactive"), ("D2", "consolidated")}
    assert orders[0].why["consolidated"] == [{"device": "D2", "supply": "1"}]
    assert orders[0].why["fired"] == [{"device": "D1", "supply": "1", "rule": "proactive"}]
    assert plan(views, Rules(consolidation_days=0), candidates=[views[0]])[0][0].lines[1:] == ()


def test_very_high_use_is_flagged_for_manual_handling_instead_of_ordered():
    heavy = view("D1", forecast=fc(2, per=3.0))  # 2.3 cartridges a week
    orders, flags = plan([heavy])
    assert orders == [] and [(f.device, f.kind) for f in flags] == [("D1", "high_use")]
    assert plan([heavy], Rules(high_use_per_week=None))[0]


def test_every_supply_of_a_very_high_use_device_goes_to_manual_handling():
    # a print room: its black goes through 2.3 cartridges a week, its cyan through one; both are flagged, the
    # cyan though it needs no order yet, and neither is ordered nor joins a parcel; another device still is
    black, cyan = view("D1", "1", fc(9, per=3.0)), view("D1", "2", fc(3, per=7.0), klass="colour_toner")
    other = view("D2", "1", fc(3))
    orders, flags = plan([black, cyan, other])
    assert sorted((f.device, f.supply, f.why["high_use_supply"]) for f in flags) == [("D1", "1", "1"), ("D1", "2", "1")]
    assert [(ln.device, ln.supply) for o in orders for ln in o.lines] == [("D2", "1")]
    later = view("D1", "2", fc(30, per=7.0), klass="colour_toner")
    assert [f.supply for f in plan([black, later], candidates=[later, black])[1]] == ["2", "1"]
    orders, flags = plan([black, cyan, other], Rules(high_use_per_week=None), candidates=[cyan])
    assert flags == [] and {(ln.device, ln.supply) for ln in orders[0].lines} == {("D1", "1"), ("D1", "2"), ("D2", "1")}


def test_low_efficiency_blocks_the_order_until_released_and_keeps_it_out_of_the_parcel():
    low = view("D1", forecast=fc(3), efficiency=40.0)
    other = view("D2", forecast=fc(3))
    orders, _ = plan([low, other], Rules(block_efficiency_below=60))
    by_blocked = {o.blocked: [ln.device for ln in o.lines] for o in orders}
    assert by_blocked == {True: ["D1"], False: ["D2"]}
    assert "40 %" in orders[0].lines[0].why.get("blocked", "") or "40 %" in orders[1].lines[0].why.get("blocked", "")
    assert [o.blocked for o in plan([low], Rules())[0]] == [False]


def test_maintenance_items_go_to_the_query_queue():
    fuser = view("D1", "9", fc(3), klass="maintenance")
    orders, _ = plan([fuser, view("D2", forecast=fc(10))])
    assert [(o.kind, [ln.device for ln in o.lines]) for o in orders] == [("query", ["D1"])]


def test_ekm_preset_orders_at_15_percent_and_marks_urgent_at_5():
    rules = PolicyFile(preset="ekm").layered()
    assert rules.lead_days == 7
    assert need(view(forecast=fc(30, percent=15.0)), rules, NOW)[0] == "level"
    assert need(view(forecast=fc(30, percent=4.0)), rules, NOW)[1]["urgent"] is True
    assert need(view(forecast=fc(30, percent=16.0)), rules, NOW) is None


def test_every_decision_records_the_forecast_rule_and_readings():
    readings = ({"at": "2026-06-01T18:00:00Z", "percent": 9.0, "pages": 1234, "level": 9},)
    v = SupplyView("D1", "1", "C", "S", "mono_toner", "TN-1", fc(5), 90, 0, None, readings)
    rule, why = need(v, Rules(), NOW)
    assert rule == "proactive"
    assert why["forecast"]["empty_on"] == (NOW + timedelta(days=5)).date().isoformat()
    assert why["readings"] == list(readings) and why["window_days"] == 7



def test_first_month_level_follows_a_silent_printer_down_from_its_last_reading():
    # the agent went silent three days ago at 26 % of a cartridge that lasts 36 days: it kept printing, so by
    # now it is near 18 %, below the 20 % the first month's Level rule orders at
    last = NOW - timedelta(days=3)
    f = replace(fc(9.4 - 3, percent=26.0, per=36.0), made_at=last)  # runs out 9.4 days after its reading
    assert need(view(forecast=f, history=25), Rules(), last) is None  # at its reading it did not need one
    fired = need(view(forecast=f, history=25), Rules(), NOW)
    assert fired is not None and fired[0] == "level" and fired[1]["percent"] < 20
    assert need(view(forecast=replace(f, made_at=NOW), history=25), Rules(), NOW) is None  # reported today
