"""Replacement detection and the replacement alarms."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from server_stub.supply.replacement import (
    AlarmSettings, OrderView, Replacement, detect, efficiency, is_premature, replacement_alarms)
from server_stub.supply.forecast import SupplyObservation

T0 = datetime(2026, 3, 2, 18, tzinfo=timezone.utc)


def obs(day: int, percent: float | None, *, pages: int | None = None, serial: str | None = None,
        part: str | None = None) -> SupplyObservation:
    return SupplyObservation(T0 + timedelta(days=day), percent, pages, serial, part)


def test_serial_change_is_a_replacement_at_once_even_behind_a_hidden_gauge():
    verdict = detect(None, "A-1", None, obs(1, None, serial="A-2"))
    assert (verdict.verdict, verdict.cause, verdict.at) == ("replaced", "serial", T0 + timedelta(days=1))
    assert detect(40, "A-1", None, obs(1, 39, serial="A-1")).verdict == "same"


def test_a_rise_to_nearly_full_from_low_needs_no_confirmation():
    verdict = detect(4, None, None, obs(1, 100))
    assert (verdict.verdict, verdict.cause) == ("replaced", "level")


def test_a_rise_that_stays_is_a_replacement_dated_when_it_was_first_seen():
    first = obs(1, 70)  # a partly used cartridge went in (from 30 to 70)
    pending = detect(30, None, None, first)
    assert pending.verdict == "pending" and pending.first is first
    confirmed = detect(30, None, first, obs(2, 69))
    assert (confirmed.verdict, confirmed.at, confirmed.first) == ("replaced", first.at, first)
    assert detect(30, None, first, obs(2, None)).verdict == "pending"  # no percent: still waiting


def test_a_shaken_cartridge_is_not_a_replacement():
    assert detect(6, None, None, obs(1, 12)).verdict == "shake"  # a few points up
    assert detect(3, None, None, obs(1, 25)).verdict == "shake"  # lands low
    rise = obs(1, 45)  # a big rise that falls back at the next reading
    assert detect(8, None, None, rise).verdict == "pending"
    assert detect(8, None, rise, obs(2, 8)).verdict == "shake"


def test_a_rise_that_falls_only_as_far_as_the_pages_printed_since_take_it_is_a_replacement():
    # a print room: from 6 % to 90 % (a new cartridge, part of a day's pages already through it), and 2,000
    # pages later 70 %: those pages take up to ~27 points at 100 pages per percent (75 at the low end)
    first = obs(1, 90, pages=1000)
    assert detect(6, None, None, first).verdict == "pending"
    later = obs(2, 70, pages=3000)
    assert detect(6, None, first, later, used=2000 / 75).verdict == "replaced"
    assert detect(6, None, first, later).verdict == "shake"  # the same fall with no pages printed: it fell back
    assert detect(6, None, first, obs(2, 8, pages=3000), used=2000 / 75).verdict == "shake"  # back where it was


def test_more_pages_than_the_cartridge_held_means_it_was_replaced_while_the_agent_was_away():
    # 20 % left at 50 pages per percent is ~1000 pages; 6000 pages later the gauge shows 60 %: a new one
    verdict = detect(20, None, None, obs(14, 60, pages=16000), printed=6000, capacity=(20 + 10) * 50 * 1.5)
    assert (verdict.verdict, verdict.cause) == ("replaced", "pages")
    assert detect(20, None, None, obs(14, 5, pages=11000), printed=1000, capacity=2250).verdict == "same"


def event(left: float | None = 30.0, *, pages: int | None = 3000, new: float | None = 100.0,
          part: str | None = "TN-1") -> Replacement:
    return Replacement("D1", "1", T0, "level", left, pages, 50.0, new, "S-9", part)


def kinds(alarms) -> list[str]:
    return sorted(a.kind for a in alarms)


def test_premature_replacement_reports_percent_left_and_pages_wasted():
    alarms = replacement_alarms(event(30.0), AlarmSettings(), rated_yield=None, order=OrderView("O1", True, "TN-1"),
                                serial_seen_on=None)
    assert kinds(alarms) == ["premature"]
    assert alarms[0].detail == {"left_percent": 30.0, "wasted_pages": 30 * 50}
    assert is_premature(event(19.9), AlarmSettings()) is False
    assert is_premature(event(30.0), AlarmSettings(premature_percent=None)) is False


def test_low_efficiency_from_pages_printed_against_the_rated_yield():
    assert efficiency(2500, 5000) == 50.0
    assert efficiency(None, 5000) is None and efficiency(2500, None) is None
    alarms = replacement_alarms(event(0, pages=2500), AlarmSettings(efficiency_below=60), rated_yield=5000,
                                order=OrderView("O1", True, None), serial_seen_on=None)
    assert kinds(alarms) == ["low_efficiency"]
    assert alarms[0].detail["efficiency_percent"] == 50.0


def test_cartridge_from_another_device_by_level_or_by_serial():
    order = OrderView("O1", True, None)
    assert kinds(replacement_alarms(event(0, new=60.0), AlarmSettings(), rated_yield=None, order=order,
                                    serial_seen_on=None)) == ["from_other_device"]
    assert kinds(replacement_alarms(event(0), AlarmSettings(), rated_yield=None, order=order,
                                    serial_seen_on="D7")) == ["from_other_device"]
    assert replacement_alarms(event(0, new=60.0), AlarmSettings(other_device_below=None), rated_yield=None,
                              order=order, serial_seen_on=None) == []


def test_order_checks_model_without_order_and_not_shipped():
    settings = AlarmSettings()
    assert kinds(replacement_alarms(event(0, part="TN-2"), settings, rated_yield=None,
                                    order=OrderView("O1", True, "TN-1"), serial_seen_on=None)) == ["model_mismatch"]
    assert kinds(replacement_alarms(event(0), settings, rated_yield=None, order=None,
                                    serial_seen_on=None)) == ["without_order"]
    assert kinds(replacement_alarms(event(0), settings, rated_yield=None, order=OrderView("O1", False, None),
                                    serial_seen_on=None)) == ["order_not_shipped"]
    off = AlarmSettings(without_order=False, order_not_shipped=False, model_mismatch=False)
    assert replacement_alarms(event(0, part="TN-2"), off, rated_yield=None, order=None, serial_seen_on=None) == []


def test_alarm_settings_are_strict():
    with pytest.raises(ValueError):
        AlarmSettings.model_validate({"premature_percent": 120})
    with pytest.raises(ValueError):
        AlarmSettings.model_validate({"premature": 20})
