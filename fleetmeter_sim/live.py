"""The seam between printing and SNMP: what a simulated printer's meters, supplies and alerts are at a
simulated time, and a small placeholder printing model behind it.

The SNMP side (`mibview`) only ever calls `DeviceState.at(when)` and reads the returned `Snapshot`; any
printing model that can answer that (the usage model of `fleetmeter_sim.usage`, once wired) replaces
`PlaceholderState` without touching the responder. Times are UTC datetimes of *simulated* time
(`SimClock` maps real time to it); calls come with non-decreasing times.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from fleetmeter_sim.fleet import SimDevice
from fleetmeter_sim.models import SupplySpec

LIFE_COUNT, POWER_ON, UPTIME = "1.3.6.1.2.1.43.10.2.1.4.1.1", "1.3.6.1.2.1.43.10.2.1.5.1.1", "1.3.6.1.2.1.1.3.0"
STEP_S = 3600.0  # the placeholder integrates printing an hour at a time
WEEKEND_FACTOR = 0.15  # weekend volume relative to a working day


@dataclass(frozen=True)
class AlertState:
    index: int  # prtAlertIndex: increases over the device's life, never reused
    supply: int  # the prtMarkerSuppliesIndex it is about
    kind: str  # consumables: "low", "empty"; receptacles: "near_full", "full"
    since: datetime  # simulated time it was raised


@dataclass(frozen=True)
class Snapshot:
    at: datetime
    uptime_s: float
    counters: dict[str, int]  # "total", "mono", "color", "power_on": pages (impressions)
    supplies: dict[int, float]  # supply index -> percent left (receptacles: percent full), 0..100
    replacements: dict[int, int]  # supply index -> replacements since the simulation started
    alerts: tuple[AlertState, ...]  # active alerts, oldest first


class DeviceState(Protocol):
    def at(self, when: datetime) -> Snapshot:
        """The device at simulated time `when` (not earlier than the previous call)."""


class SimClock:
    """Simulated time: `start` at the moment of creation, then `speed` simulated seconds per real one."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if not speed > 0 or math.isinf(speed):
            raise ValueError("speed must be a positive number")
        self.speed = speed
        self.start = start or datetime.now(timezone.utc)
        self._monotonic = monotonic
        self._origin = monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(self._monotonic() - self._origin) * self.speed)


class Mechanics:
    """What a printer does with the pages it prints, whatever decides the pages: supplies fall with them
    (receptacles fill), a supply that ran out (or filled) is replaced some hours later, and an alert is
    raised while a supply is low or empty (near full or full). Levels may also be set from outside
    (`set_level`) by a printing model that keeps some supplies itself."""

    def __init__(self, device: SimDevice, rng: random.Random, start: datetime) -> None:
        self.specs = device.model.supplies
        self.coverage = {c: rng.uniform(3.0, 7.0) for c in ("black", "cyan", "magenta", "yellow")}
        self.replace_after = {s.index: timedelta(hours=rng.uniform(2, 72)) for s in self.specs}
        self.levels = {s.index: rng.uniform(0, 80) if s.receptacle else rng.uniform(5, 100) for s in self.specs}
        self.replacements = dict.fromkeys(self.levels, 0)
        self.out_since: dict[int, datetime] = {}  # supplies empty (or full) since
        self.alerts: dict[int, AlertState] = {}
        self.next_alert = 1
        self.raise_alerts(start)

    def print_pages(self, pages: float, color_pages: float, skip: frozenset[int] = frozenset()) -> None:
        for spec in self.specs:
            if spec.index not in skip:
                self.levels[spec.index] = self._used(spec, pages, color_pages)

    def _used(self, spec: SupplySpec, pages: float, color_pages: float) -> float:
        level = self.levels[spec.index]
        if spec.uses == "pages":
            used = pages * 100 / spec.yield_pages
        elif spec.uses == "waste":
            return min(100.0, level + pages * 100 / spec.yield_pages)
        else:
            printed = pages if spec.uses == "black" else color_pages
            used = printed * self.coverage[spec.uses] / 5 * 100 / spec.yield_pages
        return max(0.0, level - used)

    def set_level(self, index: int, level: float, replacements: int) -> None:
        self.levels[index] = min(100.0, max(0.0, level))
        self.replacements[index] = replacements

    def replace(self, now: datetime, skip: frozenset[int] = frozenset()) -> None:
        for spec in self.specs:
            level = self.levels[spec.index]
            if spec.index in skip or not (level >= 100 if spec.receptacle else level <= 0):
                continue
            since = self.out_since.setdefault(spec.index, now)
            if now - since >= self.replace_after[spec.index]:
                self.levels[spec.index] = 0.0 if spec.receptacle else 100.0
                self.replacements[spec.index] += 1
                del self.out_since[spec.index]

    def raise_alerts(self, now: datetime) -> None:
        for spec in self.specs:
            kind = condition(spec, self.levels[spec.index])
            current = self.alerts.get(spec.index)
            if kind is None:
                self.alerts.pop(spec.index, None)
            elif current is None or current.kind != kind:
                self.alerts[spec.index] = AlertState(self.next_alert, spec.index, kind, now)
                self.next_alert += 1

    def snapshot(self, at: datetime, uptime_s: float, mono: float, color: float, power_on: float) -> Snapshot:
        mono_pages, color_pages = int(mono), int(color)
        return Snapshot(at, uptime_s, {"total": mono_pages + color_pages, "mono": mono_pages, "color": color_pages,
                                       "power_on": int(power_on)},
                        {i: round(level, 3) for i, level in self.levels.items()}, dict(self.replacements),
                        tuple(sorted(self.alerts.values(), key=lambda a: a.index)))


def boot_time(device: SimDevice, start: datetime) -> datetime:
    """The device file's sysUpTime counted back from the simulation's start."""
    return start - timedelta(seconds=int(device.model.value(UPTIME)) / 100)  # type: ignore[arg-type]


class PlaceholderState:
    """A plain printing model until the usage model is wired: a daily volume drawn per device (weekends
    at 15 %), a colour share, and the printer's `Mechanics`."""

    def __init__(self, device: SimDevice, seed: int, start: datetime) -> None:
        model = device.model
        rng = random.Random(f"{seed}:live:{device.serial}")
        low, high = model.pages_per_day
        per_day = math.exp(rng.uniform(math.log(low), math.log(high)))
        self.working_day_rate = per_day * 7 / (5 + 2 * WEEKEND_FACTOR) / 86400  # pages per second
        self.color_share = rng.uniform(*model.color_share) if model.color_share else 0.0
        self.mechanics = Mechanics(device, rng, start)
        life = int(model.value(LIFE_COUNT)) * rng.uniform(0.3, 3.0)  # type: ignore[arg-type]
        self.mono = life * (1 - self.color_share)
        self.color = life * self.color_share
        self.power_on = float(model.value(POWER_ON)) if POWER_ON in model.counters else 0.0  # type: ignore[arg-type]
        self.boot = boot_time(device, start)
        self.now = start

    def at(self, when: datetime) -> Snapshot:
        while self.now < when:
            step = min(STEP_S, (when - self.now).total_seconds())
            rate = self.working_day_rate * (WEEKEND_FACTOR if self.now.weekday() >= 5 else 1.0)
            pages = rate * step
            color_pages = pages * self.color_share
            self.mono += pages - color_pages
            self.color += color_pages
            self.power_on += pages
            self.mechanics.print_pages(pages, color_pages)
            self.now = min(when, self.now + timedelta(seconds=step))
            self.mechanics.replace(self.now)
            self.mechanics.raise_alerts(self.now)
        return self.mechanics.snapshot(self.now, (self.now - self.boot).total_seconds(), self.mono, self.color,
                                       self.power_on)


def condition(spec: SupplySpec, level: float) -> str | None:
    """The alert a supply at `level` percent raises on the device, if any."""
    if spec.receptacle:
        return "full" if level >= 100 else "near_full" if level >= 100 - spec.low else None
    return "empty" if level <= 0 else "low" if level <= spec.low else None
