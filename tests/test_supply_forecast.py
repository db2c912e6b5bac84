"""The forecast over hand-built printers whose true level is known at every reading."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta
from statistics import NormalDist
from typing import Callable

import pytest

from server_stub.supply.engine import SupplyEngine
from server_stub.supply.forecast import (
    CartridgeTrack, PageHistory, PagesPerPercent, UsageRate, forecast, gauge_step, usage_rate, when_printed)
from server_stub.supply.policy import Policy, PolicyFile
from tests.supply_helpers import START, Printer, at


def engine(**policy) -> SupplyEngine:
    return SupplyEngine(Policy(PolicyFile.model_validate(policy)))


def run(printer: Printer, days: range, eng: SupplyEngine | None = None):
    eng = eng or engine()
    found = []
    truth = {}
    for day in days:
        observed = eng.observe("c", "s", printer.day(day))
        found += [event for event, _ in observed.replacements]
        truth[day] = printer.level
    return eng, found, truth


def workday(day: int) -> bool:
    return (START + timedelta(days=day)).weekday() < 5


def history_of(days: int, pages: Callable[[int], int]) -> PageHistory:
    """A counter read every evening for `days` days, `pages(day)` printed on each working day."""
    history, total = PageHistory(), 0
    for day in range(days):
        total += pages(day) if workday(day) else 0
        history.record(at(day), total)
    return history


def empty_day(printer: Printer, after: int) -> int:
    """The day the cartridge in `printer` runs out, by walking its own usage forward (no engine)."""
    level, day = printer.level, after
    while True:
        day += 1
        level -= printer.pages(day) * 100 / printer.yield_pages
        if level <= 1e-9:
            return day


def test_history_spreads_gap_pages_over_the_working_days_it_covered():
    history = PageHistory()
    history.record(at(0), 1000)  # Monday
    history.record(at(7), 1000 + 5 * 100 + 2 * 10)  # next Monday, one reading after a week away
    assert sum(history.daily.values()) == pytest.approx(520)
    weekday_pages = [p for d, p in history.daily.items() if d.weekday() < 5]
    weekend_pages = [p for d, p in history.daily.items() if d.weekday() >= 5]
    assert len(weekday_pages) == 5 and len(weekend_pages) == 2
    assert min(weekday_pages) > 5 * max(weekend_pages)


def test_rate_learns_working_days_and_weekends_and_ignores_holidays_and_caps_big_jobs():
    history = PageHistory()
    total = 0
    for day in range(29):
        pages = (100 if workday(day) else 20)
        if day == 9:
            pages = 0  # a public holiday
        if day == 16:
            pages = 2000  # a one-off big print job
        total += pages
        history.record(at(day), total)
    rate = usage_rate(history, (START + timedelta(days=28)))
    assert rate.weekend == pytest.approx(20)
    assert 100 <= rate.workday <= 115  # neither the holiday nor the big job moves it much
    assert rate.low < 1 < rate.high


def test_rate_follows_a_trend_change_within_two_weeks():
    history = history_of(60, lambda day: 100 if day < 30 else 200)
    assert usage_rate(history, START + timedelta(days=29)).workday == pytest.approx(100)
    assert usage_rate(history, START + timedelta(days=44)).workday == pytest.approx(200, rel=0.05)


def test_after_a_fall_in_use_the_fastest_plausible_rate_is_the_four_weeks_before_it():
    # a holiday month: 200 pages a working day, then 120 for the last fortnight; the rate follows the fall, and
    # its fastest plausible value is the four weeks' rate it may come back to, as after a rise the slowest is
    history = history_of(42, lambda day: 200 if day < 28 else 120)
    rate = usage_rate(history, START + timedelta(days=41))
    four_weeks = sum(p for d, p in history.daily.items() if d > START + timedelta(days=13) and d.weekday() < 5) / 20
    assert rate.workday == pytest.approx(120, rel=0.05)
    assert rate.workday * rate.high >= four_weeks > rate.workday * 1.2


def test_after_a_quiet_month_the_fastest_plausible_rate_is_the_busier_month_before_it_with_its_noise():
    # four weeks at 200 pages a working day, then four at 130 (the August holidays): the fortnight and the four
    # weeks agree on 130, and the fastest plausible rate reaches back to 200, as use comes back, and beyond it by
    # the margin any device's weeks vary by
    def rate_after(quiet: int) -> UsageRate:
        return usage_rate(history_of(56, lambda day: 200 if day < 28 else quiet), START + timedelta(days=55))

    after_fall = rate_after(130)
    assert after_fall.workday == pytest.approx(130, rel=0.02)
    assert after_fall.workday * after_fall.high >= 200 * 1.15
    steady = rate_after(200)  # the same months without the fall keep the ordinary margin
    assert steady.workday == pytest.approx(200, rel=0.02)
    assert steady.high < 200 / 130
    assert rate_after(180).high == pytest.approx(steady.high)  # 10 % quieter is an ordinary month, not a fall


def test_one_value_off_the_coarse_steps_tells_a_1_percent_gauge():
    assert gauge_step({17}) == 1
    assert gauge_step({20}) == 100  # a 1 % gauge or a 10, 20 % one: not known yet
    assert gauge_step({33}) == 100 and gauge_step({67}) == 100  # thirds: a gauge of three steps
    assert gauge_step({20, 40}) == 20 and gauge_step({20, 17}) == 1


def test_when_printed_walks_working_days_and_skips_weekends():
    rate = UsageRate(workday=100, weekend=0, low=1, high=1, days=28)
    friday_evening = at(4)  # after the day's work
    # 250 pages: Monday 100, Tuesday 100, then half of Wednesday (08:00 + 5 h)
    assert when_printed(250, friday_evening, rate) == at(9, 13)
    assert when_printed(0, friday_evening, rate) == friday_evening
    assert when_printed(10, friday_evening, UsageRate(0, 0, 1, 1, 28)) is None


def test_fine_gauge_forecast_matches_the_day_it_really_runs_out():
    printer = Printer(yield_pages=5000)
    eng, found, _ = run(printer, range(26))
    assert found == []
    forecast = eng.slots[("T1", "1")].forecast
    assert forecast.percent == pytest.approx(printer.level, abs=1)
    expected = START + timedelta(days=empty_day(printer, 25))
    # the last page is printed at the end of a Friday: the forecast says then, or the next working morning
    assert forecast.empty_at.date() in (expected, expected + timedelta(days=3))
    assert forecast.earliest <= forecast.empty_at <= forecast.latest
    assert forecast.pages_left == pytest.approx(printer.level * 50, rel=0.03)
    assert forecast.method == "level+cartridge"


def test_noise_and_a_shaken_cartridge_are_neither_a_replacement_nor_followed():
    noise = [0, 1, -1, 0, 2, -2]
    calls = {"n": 0}

    def gauge(true: float) -> int:
        calls["n"] += 1
        shake = 7 if calls["n"] == 36 else 0  # somebody shook it once, at about 30 %
        return max(0, round(true) + noise[calls["n"] % 6] + shake)

    printer = Printer(yield_pages=5000, gauge=gauge, report_serial=False)
    eng, found, truth = run(printer, range(36))
    slot = eng.slots[("T1", "1")]
    assert found == []
    assert slot.forecast.percent == pytest.approx(truth[35], abs=1.5)  # the shaken reading is not followed
    eng2, found2, truth2 = run(printer, range(36, 45), eng)
    assert found2 == []
    assert eng2.slots[("T1", "1")].forecast.percent == pytest.approx(truth2[44], abs=1.5)


def test_noisy_fine_gauge_level_comes_from_the_cartridge_own_line_with_a_range_of_a_point_or_less():
    # a gauge off by up to 2 points at random: once the cartridge has fallen 10+ points, its level read off
    # the fit of level against pages is within half a point, and the forecast's doubt is its own (not the
    # 1.5 points a single noisy reading deserves), so the earliest empty date comes closer to the expected one
    wobble = iter([0, 2, -1, 1, -2, 0, 1, -1, 2, 0, -2, 1] * 20)
    printer = Printer(yield_pages=5000, gauge=lambda true: max(0, round(true) + next(wobble)), report_serial=False)
    eng, found, truth = run(printer, range(40))  # 30 working days of 100 pages: 60 points fallen
    slot = eng.slots[("T1", "1")]
    assert found == [] and truth[39] == pytest.approx(40)
    assert slot.forecast.percent == pytest.approx(truth[39], abs=0.5)
    line = slot.track.line_at(slot.track.estimate_pages)
    assert line is not None and line[1] < 0.5
    pages_left = slot.forecast.pages_left
    assert pages_left == pytest.approx(truth[39] * 50, rel=0.02)
    young = run(Printer(yield_pages=5000, gauge=lambda true: max(0, round(true) + next(wobble)), report_serial=False),
                range(5))[0].slots[("T1", "1")]
    assert young.track.line_at(young.track.estimate_pages) is None  # 4 points over 8 %: the smoothed reading
    assert young.forecast.percent == pytest.approx(young.track.estimate)
    # the same cartridge without its line (as a state saved before lines were kept): a wider range
    smoothed = forecast(replace(slot.track, syy=0.0), eng._prior(slot), eng._rate(slot, at(39).date()), at(39), 1)
    assert slot.forecast.empty_at - slot.forecast.earliest < smoothed.empty_at - smoothed.earliest
    assert smoothed.earliest < slot.forecast.earliest <= slot.forecast.empty_at


@pytest.mark.parametrize("step", [10, 20, 25])
def test_coarse_gauge_counts_down_from_the_last_step_with_learned_pages_per_percent(step):
    printer = Printer(yield_pages=5000, gauge=lambda true: step * math.ceil(true / step), report_serial=False)
    eng, _, truth = run(printer, range(1, 54))
    forecast = eng.slots[("T1", "1")].forecast
    assert forecast.percent == pytest.approx(truth[53], abs=2)
    assert forecast.pages_per_percent == pytest.approx(50, rel=0.1)
    expected = START + timedelta(days=empty_day(printer, 53))
    assert abs((forecast.empty_at.date() - expected).days) <= 2
    assert forecast.method.startswith(f"steps{step}")


def test_low_only_gauge_keeps_a_forecast_from_pages_once_it_hides_the_level():
    printer = Printer(yield_pages=5000, gauge=lambda true: round(true) if true > 10 else -3, report_serial=False)
    eng, _, truth = run(printer, range(1, 66))
    assert truth[65] < 9
    forecast = eng.slots[("T1", "1")].forecast
    assert forecast.method.startswith("pages+")
    assert forecast.percent == pytest.approx(truth[65], abs=1.5)
    assert abs((forecast.empty_at.date() - (START + timedelta(days=empty_day(printer, 65)))).days) <= 1


def test_some_remaining_gauge_uses_the_rated_yield_after_a_replacement_seen_by_serial():
    printer = Printer(yield_pages=5000, gauge=lambda true: -3 if true > 20 else round(true))
    eng = engine(rated_yields={"TN-1": 5000})
    eng, found, truth = run(printer, range(0, 90), eng)
    assert [e.cause for e in found] == ["serial"]
    assert found[0].at.date() == START + timedelta(days=printer.replaced_on[0])
    forecast = eng.slots[("T1", "1")].forecast
    assert truth[89] > 20  # hidden behind -3: the forecast counts pages
    assert forecast.percent == pytest.approx(truth[89], abs=1.5)


def test_a_hidden_level_is_as_doubtful_as_the_pages_per_percent_it_is_counted_down_with():
    # a full cartridge behind a gauge that shows nothing until low ("some remaining"): 3,000 pages later it is
    # counted down to 40 % at 50 pages per percent
    track = CartridgeTrack(installed_at=at(0), install_pages=0, install_percent=100.0, estimate=40.0,
                           estimate_pages=3000, estimate_at=at(30), last_percent=100.0, shown_at=at(0), hidden=True,
                           first_percent=100.0)
    rate = UsageRate(workday=100.0, weekend=0.0, low=1.0, high=1.0, days=28)
    known = forecast(track, (50.0, 0.08, "device"), rate, at(30), 1)  # the device's earlier cartridges: 8 %
    guessed = forecast(track, (50.0, 0.3, "fleet"), rate, at(30), 1)
    # the cartridge really gives 8 % fewer pages per percent: the device's range still covers it...
    true_level = 100 - 3000 / (50 * 0.92)
    true_empty = when_printed(true_level * 50 * 0.92, at(30), rate)
    assert known.percent_low <= true_level and known.earliest <= true_empty
    # ...and it is narrower than when pages per percent is a guess from the fleet: a well-known printer's parcel
    # is not sent days early because its gauge hides the level
    assert known.percent_low > guessed.percent_low and known.earliest > guessed.earliest


def test_binary_gauge_learns_pages_per_percent_from_the_device_earlier_cartridge():
    printer = Printer(yield_pages=4000, gauge=lambda true: 100 if true > 0 else 0)
    eng, found, truth = run(printer, range(0, 130))
    assert len(found) == len(printer.replaced_on) == 2
    slot = eng.slots[("T1", "1")]
    assert slot.learned.device_history[-1] == pytest.approx(40, rel=0.02)
    assert slot.forecast.percent == pytest.approx(truth[129], abs=2)
    assert slot.forecast.method == "pages+device" or slot.forecast.method.startswith("steps100+device")


def test_a_coarse_gauge_that_goes_up_a_step_without_a_replacement_is_not_followed():
    calls = {"n": 0}

    def gauge(true: float) -> int:
        calls["n"] += 1
        shown = 10 * math.ceil(true / 10)
        return shown + 10 if calls["n"] == 41 else shown  # one reading a step higher: shaken

    printer = Printer(yield_pages=5000, gauge=gauge, report_serial=False)
    eng, found, truth = run(printer, range(1, 41))
    before = eng.slots[("T1", "1")].forecast.percent
    eng, found2, truth2 = run(printer, range(41, 42), eng)
    assert found == found2 == []
    assert eng.slots[("T1", "1")].forecast.percent <= before  # the estimate kept falling with the pages
    assert eng.slots[("T1", "1")].forecast.percent == pytest.approx(truth2[41], abs=3)


def test_binary_gauge_range_covers_a_first_cartridge_of_unknown_level_then_narrows_after_a_replacement():
    printer = Printer(yield_pages=4000, gauge=lambda true: 100 if true > 0 else 0, level=30.0)  # 30 %, unseen
    eng, _, truth = run(printer, range(0, 8), engine(rated_yields={"TN-1": 4000}))
    first = eng.slots[("T1", "1")].forecast
    # it may be nearly empty or nearly full: earliest is now, latest is when a full cartridge would run out
    assert first.earliest <= at(7) + timedelta(days=1)
    assert first.latest.date() >= START + timedelta(days=empty_day(printer, 7))
    assert first.percent < 60  # the middle of what it can be, not the 100 the gauge shows
    eng, found, truth = run(printer, range(8, 40), eng)
    assert len(found) == 1  # a new cartridge: its level is known, and the range is days, not weeks
    after = eng.slots[("T1", "1")].forecast
    assert after.percent == pytest.approx(truth[39], abs=3)
    expected = START + timedelta(days=empty_day(printer, 39))
    assert after.earliest.date() <= expected <= after.latest.date()
    # the level is pinned at the replacement: the range is the doubt about pages per percent (a rated yield
    # here), not half the gauge (which would put the earliest date two days out)
    assert after.earliest >= at(39) + timedelta(days=12)


def test_coarse_gauge_range_after_a_step_change_is_the_doubt_of_the_pages_not_half_a_step():
    printer = Printer(yield_pages=5000, gauge=lambda true: 25 * math.ceil(true / 25), report_serial=False)
    eng, _, truth = run(printer, range(1, 20))
    day = 20
    while True:  # the day the gauge drops from 75 to 50: the level was just at 50
        eng, _, truth = run(printer, range(day, day + 1), eng)
        if truth[day] <= 50:
            break
        day += 1
    forecast = eng.slots[("T1", "1")].forecast
    expected = START + timedelta(days=empty_day(printer, day))
    horizon = (expected - at(day).date()).days
    assert forecast.earliest.date() <= expected <= forecast.latest.date()
    assert (expected - forecast.earliest.date()).days <= 0.2 * horizon  # half a step would be a quarter and more


def test_some_remaining_gauge_keeps_the_level_above_where_it_starts_showing_one():
    printer = Printer(yield_pages=5000, gauge=lambda true: -3 if true > 20 else round(true), level=20.4)
    eng, found, truth = run(printer, range(0, 20), engine(rated_yields={"TN-1": 5000}))  # shows 20 % and less
    day = 20
    while True:  # the new cartridge, hidden behind -3, down to a few points above 20 %
        eng, found2, truth = run(printer, range(day, day + 1), eng)
        if truth[day] <= 24:
            break
        day += 1
    assert len(found + found2) == 1 and truth[day] > 20
    forecast = eng.slots[("T1", "1")].forecast
    assert forecast.method.startswith("pages+")
    # no sooner than the pages of 17 % (20 less a few points a shaken cartridge shows) take at the fastest
    # rate and the smallest pages per percent the forecast allows (the rated yield, less 30 %)
    fastest = UsageRate(workday=100 * 1.3, weekend=0, low=1, high=1, days=28)
    assert forecast.earliest >= when_printed(17 * 50 * 0.7 * 0.99, at(day), fastest)


def test_pages_per_percent_from_the_fleet_is_as_doubtful_as_the_fleet_is_spread():
    # devices of one model differ in how much of the page they cover; a device behind a gauge that hides
    # the level is known only through the fleet, so the range must reach the fleet's low end
    spread = [100 * math.exp(0.3 * (i - 19.5) / 10) for i in range(40)]  # 74 .. 135 pages per percent
    ppp, doubt, source = PagesPerPercent().prior(spread, None)
    assert source == "fleet" and ppp == pytest.approx(100, rel=0.02)
    fifth_percentile = sorted(spread)[2]
    assert ppp * (1 - doubt) <= fifth_percentile
    # a fleet spread as printers' coverage is (log-normal), and a device as far out as one in a hundred (a printer
    # behind a 0/100 gauge is known only through the fleet until its first full cartridge, which may take months)
    normal = NormalDist()
    fleet = [100 * math.exp(0.25 * normal.inv_cdf((i + 0.5) / 50)) for i in range(50)]
    ppp, doubt, _ = PagesPerPercent().prior(fleet, None)
    assert ppp * (1 - doubt) <= 100 * math.exp(0.25 * normal.inv_cdf(0.01))
    alike = [100 + (i % 3) for i in range(40)]  # a fleet of alike devices keeps the floor, not zero
    assert PagesPerPercent().prior(alike, None)[1] == pytest.approx(0.25)
    assert PagesPerPercent([90.0]).prior(spread, None)[2] == "device"  # the device's own cartridges first
