"""The usage model's fleet served live: what the agent reads over SNMP is the usage model's truth (its
counters and toner levels at the end of a working day, in between during the day) and carries on from
the history `fleetmeter-sim history` wrote of the same fleet."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta, timezone

import pytest

pytest.importorskip("fleetmeter_sim.usage")

from fleetmeter_sim.history import write_history  # noqa: E402
from fleetmeter_sim.usage import Fleet  # noqa: E402
from sim_peer import SimFleet  # noqa: E402
from snmp_helpers import poll  # noqa: E402

SEED, COUNT, HISTORY_DAYS = 11, 8, 30
FIRST_DAY = date(2026, 2, 2)


def truth(day_offset: int):
    """The usage model's own account of every device on that day (a fresh replay)."""
    for usage in Fleet(SEED, COUNT, FIRST_DAY).days(day_offset + 1):
        pass
    return usage.devices


@pytest.fixture()
def fleet():
    start = datetime.combine(FIRST_DAY + timedelta(days=HISTORY_DAYS), datetime.min.time(), tzinfo=timezone.utc)
    sim = SimFleet(COUNT, SEED, start=start, usage_from=FIRST_DAY)
    yield sim
    sim.stop()


def test_live_devices_are_the_usage_models_fleet(fleet):
    offset = HISTORY_DAYS
    fleet.clock.now = fleet.clock.now.replace(hour=19)  # the day's printing is done
    days = truth(offset)
    for i, device in enumerate(fleet.devices):
        reading = poll(fleet.endpoint(i), "public")
        day = days[i]
        assert reading.identity.serial == day.profile.serial == device.serial
        assert reading.counters["total"] == day.counters["total"]
        if day.profile.colour:
            assert reading.counters["color"] == day.counters["color"]
        levels = {s.index: s.level for s in reading.supplies}
        for index, level in day.levels.items():
            spec = next(s for s in device.model.supplies if s.index == index)
            if spec.report == "percent":
                assert levels[index] == math.ceil(round(level, 3))
            elif spec.report.startswith("step:"):
                assert levels[index] % int(spec.report[5:]) == 0 and levels[index] >= level


def test_counters_move_through_the_working_day(fleet):
    days_before, days_today = truth(HISTORY_DAYS - 1), truth(HISTORY_DAYS)
    busy = max(range(COUNT), key=lambda i: days_today[i].pages)
    fleet.clock.now = fleet.clock.now.replace(hour=13)  # half of the 08:00-18:00 working day
    total = poll(fleet.endpoint(busy), "public").counters["total"]
    low, high = days_before[busy].counters["total"], days_today[busy].counters["total"]
    assert low < total < high
    assert total == pytest.approx((low + high) / 2, abs=1)


def test_live_readings_carry_on_from_the_written_history(fleet, tmp_path):
    out = tmp_path / "history.jsonl"
    write_history(out, seed=SEED, devices=COUNT, days=HISTORY_DAYS, start=FIRST_DAY)
    last: dict[str, dict] = {}
    for line in out.read_text().splitlines():
        reading = json.loads(line)["reading"]
        last[reading["identity"]["serial"]] = reading
    fleet.clock.now = fleet.clock.now.replace(hour=19)
    for i, device in enumerate(fleet.devices):
        live = poll(fleet.endpoint(i), "public")
        if device.serial in last:
            assert live.counters["total"] >= last[device.serial]["counters"]["total"]
            # one serial, one model: what the agent reads live is what the history says it read
            assert (live.identity.manufacturer, live.identity.model) == (
                last[device.serial]["identity"]["manufacturer"], last[device.serial]["identity"]["model"])
    assert set(last) <= {d.serial for d in fleet.devices}
