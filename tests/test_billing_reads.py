"""Billing reads: tolerance window, missing reads, estimates and true-up, resets and swaps, outliers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from server_stub.billing.periods import Period
from server_stub.billing.reads import (
    CounterBreak, MeterRead, Placement, ToleranceWindow, build_chain, choose_billing_read, estimate_read,
    period_volume, summarise_volumes,
)

MARCH = Period(2026, 3)
CUTOFF = MARCH.end  # 2026-04-01T00:00Z


def at(day: str, hour: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=timezone.utc)


def read(day: str, value: int, *, serial: str = "S1", kind: str = "read", asset: str = "A", meter: str = "mono",
         hour: int = 0) -> MeterRead:
    return MeterRead(asset, meter, at(day, hour), value, serial=serial, kind=kind,
                     source_oid="1.3.6.1.2.1.43.10.2.1.4.1.1", source_origin="rfc3805", reading_id=f"r-{day}")


def steady(start: str, days: int, first: int, per_day: int, **kw) -> list[MeterRead]:
    """One read a day from `start`, `per_day` pages a day."""
    base = at(start)
    return [read((base + timedelta(days=i)).date().isoformat(), first + i * per_day, **kw) for i in range(days)]


# --- tolerance window -------------------------------------------------------------------------------

def test_closest_read_to_the_cutoff_wins_before_or_after():
    reads = [read("2026-03-25", 100), read("2026-03-29", 140), read("2026-04-03", 190)]
    # 03-29 is 3 days before the cut-off, 04-03 is 2 days after: the later one is closer
    assert choose_billing_read(reads, CUTOFF).at == at("2026-04-03")


def test_equal_distance_prefers_the_read_before_the_cutoff_then_automatic_over_manual():
    before, after = read("2026-03-31", 100), read("2026-04-02", 130)
    assert choose_billing_read([after, before], CUTOFF) == before
    auto, manual = read("2026-03-30", 100), read("2026-03-30", 100, kind="manual")
    assert choose_billing_read([manual, auto], CUTOFF) == auto
    assert choose_billing_read([manual], CUTOFF) == manual  # a manual read bills like any actual read


def test_window_edges_are_inclusive_and_one_second_beyond_is_missing():
    window = ToleranceWindow()  # 10 days before, 6 after
    first = MeterRead("A", "mono", CUTOFF - timedelta(days=10), 100)
    last = MeterRead("A", "mono", CUTOFF + timedelta(days=6), 100)
    assert choose_billing_read([first], CUTOFF, window) == first
    assert choose_billing_read([last], CUTOFF, window) == last
    assert choose_billing_read([MeterRead("A", "mono", CUTOFF - timedelta(days=10, seconds=1), 1)], CUTOFF) is None
    assert choose_billing_read([MeterRead("A", "mono", CUTOFF + timedelta(days=6, seconds=1), 1)], CUTOFF) is None
    narrow = ToleranceWindow(before=timedelta(days=2), after=timedelta(0))
    assert choose_billing_read([first, last], CUTOFF, narrow) is None


def test_estimated_reads_are_never_chosen_as_billing_reads():
    reads = steady("2026-02-01", 40, 1000, 10)
    estimate = estimate_read(reads, CUTOFF)
    assert choose_billing_read([estimate], CUTOFF) is None


def test_missing_read_when_no_read_in_the_closing_window():
    reads = steady("2026-02-20", 30, 1000, 10)  # last read 2026-03-21: 11 days before the cut-off
    volume = period_volume(reads, MARCH)
    assert volume.status == "missing_read" and volume.pages == 0
    assert "2026-04-01" in volume.reason
    assert volume.opening is not None and volume.closing is None


def test_naive_datetimes_and_negative_counters_are_refused():
    with pytest.raises(ValueError, match="no time zone"):
        MeterRead("A", "mono", datetime(2026, 3, 1), 1)
    with pytest.raises(ValueError, match=">= 0"):
        MeterRead("A", "mono", at("2026-03-01"), -5)
    with pytest.raises(ValueError, match="unknown meter"):
        MeterRead("A", "toner", at("2026-03-01"), 5)


# --- volumes, estimates and true-up -----------------------------------------------------------------

def test_period_volume_is_closing_minus_opening_with_provenance():
    reads = steady("2026-01-01", 100, 5000, 20)  # 20 pages a day, read every day
    volume = period_volume(reads, MARCH)
    # opening: the read at 2026-03-01 (5000 + 59 days x 20), closing 2026-04-01 (5000 + 90 x 20)
    assert volume.status == "ok"
    assert volume.opening.value == 5000 + 59 * 20 and volume.closing.value == 5000 + 90 * 20
    assert volume.pages == 31 * 20
    assert volume.closing.source_oid == "1.3.6.1.2.1.43.10.2.1.4.1.1"
    assert volume.closing.reading_id == "r-2026-04-01"


def test_estimated_then_actual_read_is_trued_up_in_the_next_period():
    # 10 pages a day through 2026-03-15, then the agent goes silent until the outbox flushes in April
    history = steady("2026-02-01", 43, 1000, 10)  # last read 2026-03-15: 1420
    march = period_volume(history, MARCH, estimate=True)
    # estimate at 2026-04-01: 1420 + 10/day x 17 days = 1590
    assert march.status == "ok" and march.estimated
    assert march.closing.kind == "estimated" and march.closing.value == 1420 + 17 * 10
    assert march.closing.basis.value == 1420 and march.closing.daily_volume == Decimal(10)
    assert march.pages == (1420 + 170) - march.opening.value

    # the outbox flushes: the actual read at the cut-off was 1560 (30 fewer than estimated), April goes on
    arrived = [read("2026-04-01", 1560, hour=1), read("2026-04-20", 1800), read("2026-05-01", 1900)]
    april = period_volume(history + arrived, Period(2026, 4), opening=march.closing)
    assert april.trued_up_by.value == 1560
    assert april.true_up_pages == 1560 - 1590            # -30: estimated pages billed too many
    assert april.pages == 1900 - 1560                     # April's own pages, from the actual read
    assert march.pages + april.net_pages == 1900 - march.opening.value  # nothing double, nothing lost


def test_an_estimate_that_overshot_without_an_actual_cutoff_read_is_a_true_up_not_a_negative_volume():
    history = steady("2026-02-01", 43, 1000, 10)  # last read 2026-03-15: 1420
    march = period_volume(history, MARCH, estimate=True)  # closing estimated at 1590
    later = [read("2026-04-30", 1500)]  # only 80 printed since 03-15: below the estimate
    april = period_volume(history + later, Period(2026, 4), opening=march.closing)
    assert april.pages == 0 and april.true_up_pages == 1500 - 1590
    assert march.pages + april.net_pages == 1500 - march.opening.value


def test_no_estimate_without_history():
    assert estimate_read([read("2026-03-01", 10)], CUTOFF) is None  # one read: no rate


# --- counter resets and device swaps ----------------------------------------------------------------

def test_counter_reset_inside_a_period_counts_each_page_once():
    reads = steady("2026-02-01", 28, 10_000, 30)  # to 2026-02-28: 10810
    reads += [read("2026-03-01", 10_840), read("2026-03-10", 11_110),   # +270
              read("2026-03-11", 25),                                  # board swapped: counter restarted
              read("2026-04-01", 25 + 21 * 30)]                        # 21 days at 30
    volume = period_volume(reads, MARCH)
    # (11110 - 10840) before the reset + 25 after it (restarted from 0) + 630 to the cut-off
    assert volume.pages == 270 + 25 + 630
    assert [b.kind for b in volume.breaks] == ["reset"]
    assert volume.status == "ok"


def test_device_swap_counts_neither_negative_nor_double():
    reads = steady("2026-02-01", 28, 50_000, 30, serial="OLD")
    reads += [read("2026-03-01", 50_840, serial="OLD"), read("2026-03-15", 51_260, serial="OLD"),
              # replacement device arrives with 120_000 on its own counter
              read("2026-03-16", 120_000, serial="NEW"), read("2026-04-01", 120_000 + 16 * 30, serial="NEW")]
    volume = period_volume(reads, MARCH)
    # old device 03-01 -> 03-15: 420; new device's first read is its baseline; then 480 to the cut-off
    assert volume.pages == 420 + 480
    assert volume.breaks[0].kind == "swap" and volume.breaks[0].serial == "NEW"


def test_swap_recorded_by_a_technician_bills_the_pages_between_reads():
    reads = [read("2026-03-01", 50_840, serial="OLD"), read("2026-03-15", 51_260, serial="OLD"),
             read("2026-03-16", 120_050, serial="NEW"), read("2026-04-01", 120_530, serial="NEW")]
    record = CounterBreak(at("2026-03-15", 12), "swap", old_final=51_300, new_start=120_000, serial="NEW")
    volume = period_volume(reads, MARCH, recorded=[record])
    # 420 + 40 (old device after its last read) + 50 (new device before its first read) + 480
    assert volume.pages == 420 + 40 + 50 + 480
    assert volume.breaks == (CounterBreak(record.at, "swap", 51_300, 120_000, "NEW", inferred=False),)


def test_reset_and_swap_across_a_period_boundary():
    feb, mar, apr = Period(2026, 2), MARCH, Period(2026, 4)
    reads = [read("2026-02-01", 1000), read("2026-02-20", 1600), read("2026-03-01", 1900),  # Feb: 900
             read("2026-03-02", 40),                                 # reset right after the cut-off
             read("2026-04-01", 940),                                # March: 1900 -> 0 -> 940
             read("2026-04-02", 7000, serial="S2"),                  # swap right after the next cut-off
             read("2026-05-01", 7700, serial="S2")]                  # April: 7000 -> 7700
    volumes = []
    opening = None
    for period in (feb, mar, apr):
        volume = period_volume(reads, period, opening=opening)
        volumes.append(volume)
        opening = volume.closing
    assert [v.pages for v in volumes] == [900, 940, 700]
    assert sum(v.pages for v in volumes) == 900 + 940 + 700


def test_a_drop_that_comes_back_is_a_bad_read_not_a_reset():
    reads = [read("2026-03-01", 5000), read("2026-03-10", 0), read("2026-03-11", 5300),
             read("2026-04-01", 5600)]
    volume = period_volume(reads, MARCH)
    assert volume.pages == 600 and volume.breaks == ()
    assert [r.value for r in volume.set_aside] == [0]


def test_chain_adjusted_counter_never_decreases():
    reads = [read("2026-03-01", 900), read("2026-03-05", 950), read("2026-03-06", 3), read("2026-03-07", 80),
             read("2026-03-08", 10, serial="S9"), read("2026-03-09", 20, serial="S9")]
    adjusted = [a.adjusted for a in build_chain(reads).reads]
    assert adjusted == sorted(adjusted)
    assert adjusted[-1] - adjusted[0] == 50 + 3 + 77 + 0 + 10


# --- expected-volume check --------------------------------------------------------------------------

def test_outlier_is_held_for_review_and_released_only_when_approved():
    reads = steady("2026-01-01", 59, 0, 100)  # 100 pages a day to 2026-02-28
    reads += [read("2026-03-01", 5900), read("2026-04-01", 5900 + 31 * 100 * 3)]  # three times the usual
    held = period_volume(reads, MARCH)
    assert held.status == "held" and held.pages == 9300
    assert held.expected == Decimal(3100)
    assert "1240..4960" in held.reason  # 3100 x (1 - 0.6) .. 3100 x (1 + 0.6)
    assert period_volume(reads, MARCH, approved=True).status == "ok"
    assert period_volume(reads, MARCH, buffer=Decimal(3)).status == "ok"  # a 300 % buffer lets it through


def test_a_volume_far_below_expected_is_held_too():
    reads = steady("2026-01-01", 59, 0, 100) + [read("2026-03-01", 5900), read("2026-04-01", 5900 + 1000)]
    assert period_volume(reads, MARCH).status == "held"  # 1000 < 3100 x 0.4 = 1240
    within = steady("2026-01-01", 59, 0, 100) + [read("2026-03-01", 5900), read("2026-04-01", 5900 + 1240)]
    assert period_volume(within, MARCH).status == "ok"  # the edge itself is within


# --- monthly volumes per device, site and client ----------------------------------------------------

def test_monthly_volumes_sum_per_device_site_and_client():
    def vol(asset, meter, start, end):
        return period_volume([read("2026-03-01", start, asset=asset, meter=meter),
                              read("2026-04-01", end, asset=asset, meter=meter)], MARCH)
    volumes = [vol("P1", "mono", 100, 400), vol("P1", "color", 50, 60), vol("P2", "mono", 0, 1000),
               vol("P3", "scan", 10, 15), vol("P3", "mono", 7, 8)]
    missing = period_volume([read("2026-03-01", 5, asset="P4")], MARCH)
    places = [Placement("P1", "north", "acme"), Placement("P2", "north", "acme"),
              Placement("P3", "south", "acme"), Placement("P4", "south", "acme")]
    summary = summarise_volumes(MARCH, volumes + [missing], places)
    assert summary.devices["P1"] == {"mono": 300, "color": 10, "scan": 0}
    assert summary.sites["north"] == {"mono": 300 + 1000, "color": 10, "scan": 0}
    assert summary.sites["south"] == {"mono": 1, "color": 0, "scan": 5}
    assert summary.clients["acme"] == {"mono": 1301, "color": 10, "scan": 5}
    assert summary.not_counted == (missing,)


def test_manual_read_bills_a_period_and_keeps_who_entered_it():
    reads = [read("2026-03-01", 2000),
             MeterRead("A", "mono", at("2026-03-31", 16), 2450, serial="S1", kind="manual", entered_by="j.dupont")]
    volume = period_volume(reads, MARCH)
    assert volume.status == "ok" and volume.pages == 450
    assert (volume.closing.kind, volume.closing.entered_by, volume.closing.reading_id) == ("manual", "j.dupont", None)


def test_periods_parse_and_step_across_years():
    assert Period.parse("2026-12").next() == Period(2027, 1)
    assert Period(2027, 1).previous() == Period(2026, 12)
    assert Period(2028, 2).days == 29 and MARCH.end == at("2026-04-01")
    with pytest.raises(ValueError, match="not YYYY-MM"):
        Period.parse("2026-3")
    with pytest.raises(ValueError, match="no such billing period"):
        Period.parse("2026-13")
