"""The usage model's fleet served live: the printers `fleetmeter-sim history` wrote the past of, carrying
on as simulated time passes (same serials, counters and toner levels continuing from that history).

`fleetmeter_sim.usage.Fleet` decides the true pages and toner levels day by day (with cartridge changes
as `events`); here each device is one of the simulator's models (colour or mono, a coarse gauge for the
coarse-reporting devices), its counters and toners follow the usage model within the day (printing
between 08:00 and 18:00 UTC), and the supplies the usage model does not keep (drums, waste toner, fusers,
kits) follow the pages it printed through the printer's `Mechanics`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime

from fleetmeter_sim.fleet import SimDevice, plan_fleet
from fleetmeter_sim.live import POWER_ON, Mechanics, Snapshot, boot_time

try:
    from fleetmeter_sim.usage import DayUsage, DeviceDay, Fleet
except ImportError:  # the usage model is another part of the project; `available()` says
    Fleet = None  # type: ignore[assignment,misc]

WORK_START_H, WORK_HOURS = 8.0, 10.0
DAYS_KEPT = 4
FOREVER_DAYS = 100 * 366


def available() -> bool:
    return Fleet is not None


def usage_fleet(count: int, seed: int, start: date, **layout) -> tuple[list[SimDevice], FleetDays]:
    """The usage model's fleet laid out on loopback (`layout`: plan_fleet's address options)."""
    if Fleet is None:
        raise RuntimeError("the usage model (fleetmeter_sim.usage) is not part of this build")
    fleet = Fleet(seed, count, start)
    assigned = [(p.model, p.serial) for p in fleet.profiles]
    return plan_fleet(count, seed, assigned=assigned, **layout), FleetDays(fleet)


def day_fraction(when: datetime) -> float:
    """How much of the working day's printing is done at `when`."""
    hours = when.hour + when.minute / 60 + when.second / 3600 + when.microsecond / 3.6e9
    return min(1.0, max(0.0, (hours - WORK_START_H) / WORK_HOURS))


class FleetDays:
    """The usage model's days, generated once for the whole fleet as simulated time reaches them."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.start = fleet.start
        self._days: Iterator[DayUsage] = fleet.days(FOREVER_DAYS)
        self._kept: dict[int, DayUsage] = {}
        self._events_seen = 0
        self.events: dict[tuple[str, int], list] = {}  # (serial, supply) -> CartridgeEvents in time order

    def upto(self, offset: int) -> None:
        while not self._kept or max(self._kept) < offset:
            usage = next(self._days)
            self._kept[usage.offset] = usage
            for old in [k for k in self._kept if k <= usage.offset - DAYS_KEPT]:
                del self._kept[old]
        for event in self.fleet.events[self._events_seen:]:
            self.events.setdefault((event.serial, event.supply), []).append(event)
        self._events_seen = len(self.fleet.events)

    def device_day(self, offset: int, number: int) -> DeviceDay | None:
        if offset < 0:
            return None
        self.upto(offset)
        usage = self._kept.get(offset) or self._kept[min(self._kept)]
        return usage.devices[number]


class UsageState:
    """One device of the usage model's fleet, as `DeviceState`."""

    def __init__(self, device: SimDevice, days: FleetDays, seed: int, start: datetime) -> None:
        self.device, self.days, self.start = device, days, start
        rng = random.Random(f"{seed}:usage-live:{device.serial}")
        self.mechanics = Mechanics(device, rng, start)
        self.boot = boot_time(device, start)
        self.power_on = float(device.model.value(POWER_ON)) if POWER_ON in device.model.counters else 0.0  # type: ignore[arg-type]
        self.now = start
        self.counters = self._counters(start)
        self.toners = frozenset(self._day(start)[1].levels)
        self._follow(start)

    def _day(self, when: datetime) -> tuple[DeviceDay | None, DeviceDay]:
        offset = (when.date() - self.days.start).days
        today = self.days.device_day(max(0, offset), self.device.number)
        return self.days.device_day(offset - 1, self.device.number), today  # type: ignore[return-value]

    def _counters(self, when: datetime) -> dict[str, float]:
        before, today = self._day(when)
        f = day_fraction(when)
        end = {"total": today.counters["total"], "color": today.counters.get("color", 0)}
        begin = {"total": end["total"] - today.pages, "color": end["color"] - today.colour_pages}
        return {k: begin[k] + f * (end[k] - begin[k]) for k in end}

    def _follow(self, when: datetime) -> None:
        """Toner levels and replacements as the usage model has them at `when`."""
        before, today = self._day(when)
        f = day_fraction(when)
        for index in self.toners:
            end = today.levels[index]
            begin = before.levels[index] if before else end
            changes = self.days.events.get((self.device.serial, index), [])
            todays = [e for e in changes if e.at.date() == today.day]
            if todays:
                change = todays[-1]
                fc = day_fraction(change.at)
                if f < fc:
                    level = begin + (change.left_percent - begin) * (f / fc if fc else 1.0)
                else:
                    level = 100.0 + (end - 100.0) * ((f - fc) / (1 - fc) if fc < 1 else 1.0)
            else:
                level = begin + f * (end - begin)
            replaced = sum(1 for e in changes if self.start <= e.at <= when)
            self.mechanics.set_level(index, level, replaced)

    def at(self, when: datetime) -> Snapshot:
        if when > self.now:
            counters = self._counters(when)
            pages = max(0.0, counters["total"] - self.counters["total"])
            color_pages = min(pages, max(0.0, counters["color"] - self.counters["color"]))
            self.counters, self.now = counters, when
            self.power_on += pages
            self.mechanics.print_pages(pages, color_pages, skip=self.toners)
            self._follow(when)
            self.mechanics.replace(when, skip=self.toners)
            self.mechanics.raise_alerts(when)
        total, color = self.counters["total"], self.counters["color"]
        return self.mechanics.snapshot(self.now, (self.now - self.boot).total_seconds(), total - color, color,
                                       self.power_on)

