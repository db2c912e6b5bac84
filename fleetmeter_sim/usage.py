"""True usage of a simulated fleet: what the printers really print and consume, day by day.

Deterministic for a seed: the same (seed, devices, start) always gives the same pages, cartridges and
replacements. This is the ground truth the supply benchmark scores against; `history.py` turns it into
what agents would report (noise, coarse gauges, gaps).

    fleet = Fleet(seed=7, devices=200, start=date(2026, 1, 1))
    for day in fleet.days(365):          # DayUsage, one per calendar day, in order
        for dev in day.devices: dev.pages, dev.levels, dev.counters
    fleet.events                         # every cartridge change so far (ground truth)
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator

# (cartridge family, colour?, rated yields in pages at 5 % coverage per colour). The printer model a device
# is (what it reports as identity, what the live simulator serves) is one of the simulator's own models
# (models.toml), chosen by `sim_model`: the same serial is the same model in history and live.
MODELS: tuple[tuple[str, bool, dict[str, int]], ...] = (
    ("FMK-17", False, {"black": 17400}),
    ("FMK-8", False, {"black": 8000}),
    ("FMK-11", False, {"black": 11000}),
    ("FMC-12", True, {"black": 12000, "cyan": 6000, "magenta": 6000, "yellow": 6000}),
    ("FMC-15", True, {"black": 15000, "cyan": 9500, "magenta": 9500, "yellow": 9500}),
)
COLOURS = ("black", "cyan", "magenta", "yellow")
PART_PREFIX = {"black": "K", "cyan": "C", "magenta": "M", "yellow": "Y"}
# How a device's gauge reports (history.py): 1 % steps, coarse steps, -3 until low, 0/100, -3 once low.
REPORT_MODES = (("fine", 0.62), ("coarse10", 0.1), ("coarse20", 0.06), ("coarse25", 0.06),
                ("some_remaining", 0.06), ("binary", 0.04), ("low_only", 0.06))


def holidays(year: int) -> set[date]:
    """A fixed, plausible set of public holidays (the simulated fleet works in one country)."""
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25), (12, 26)]
    days = {date(year, m, d) for m, d in fixed}
    days |= {date(year, 4, 6), date(year, 5, 14), date(year, 5, 25)}  # Easter-ish movable feasts
    days |= {date(year, 12, 24) + timedelta(days=i) for i in range(8)}  # the Christmas shutdown
    return days


def part_number(family: str, colour: str) -> str:
    return f"{family.split('-')[0]}-{abs(hash_text(family)) % 9000 + 1000}{PART_PREFIX[colour]}"


def sim_model(colour: bool, report_mode: str) -> str:
    """The simulator's model (models.toml) a device of the usage model is: colour or mono, and the coarse-gauge
    mono model for the devices whose gauge reports coarse steps."""
    if colour:
        return "demo-color-mfp"
    return "demo-mono-coarse" if report_mode.startswith("coarse") else "demo-mono-laser"


def hash_text(text: str) -> int:
    """A stable string hash (Python's hash() is salted per process)."""
    value = 1469598103934665603
    for byte in text.encode():
        value = ((value ^ byte) * 1099511628211) % 2**63
    return value


@dataclass(frozen=True)
class DeviceProfile:
    index: int
    serial: str
    model: str  # the simulator's model name (models.toml), see sim_model
    cartridges: str  # the cartridge family (MODELS), which part numbers name
    client: str
    site: str
    colour: bool
    yields: dict[str, int]  # rated pages per cartridge at 5 % coverage
    coverage: dict[str, float]  # this device's consumption relative to the rated coverage
    workday_pages: float
    weekend_factor: float
    colour_share: float
    trend_day: int | None  # day offset from which usage is multiplied by trend_factor
    trend_factor: float
    big_jobs: dict[int, int]  # day offset -> extra pages (one-off)
    report_mode: str
    reports_serials: bool
    premature_chance: float  # per cartridge: swapped before it is empty
    offline: tuple[tuple[int, int], ...]  # (first day, last day) without readings

    def supply_colours(self) -> tuple[str, ...]:
        return COLOURS if self.colour else ("black",)


@dataclass(frozen=True)
class CartridgeEvent:
    """A cartridge change that really happened."""

    serial: str  # device serial
    supply: int  # supply index (1 black, 2 cyan, 3 magenta, 4 yellow)
    at: datetime
    left_percent: float  # what the removed cartridge still held
    empty: bool  # it ran out (a need); False: swapped early
    pages: int  # pages the removed cartridge printed
    new_serial: str


@dataclass
class DeviceDay:
    profile: DeviceProfile
    day: date
    pages: int
    colour_pages: int
    counters: dict[str, int]  # cumulative: total, mono, color
    levels: dict[int, float]  # supply index -> true percent at the end of the day
    cartridge_serials: dict[int, str]


@dataclass
class DayUsage:
    day: date
    offset: int
    devices: list[DeviceDay]


@dataclass
class _Cartridge:
    level: float = 100.0
    pages: int = 0
    number: int = 1
    swap_at: float | None = None  # a premature swap happens when the level falls to this


@dataclass
class _DeviceState:
    total: int
    colour: int
    cartridges: dict[int, _Cartridge] = field(default_factory=dict)


class Fleet:
    """A seeded fleet; `days(n)` replays its first n days of true usage from `start`."""

    def __init__(self, seed: int, devices: int, start: date, *, site_sizes: tuple[int, int] = (1, 12)) -> None:
        self.seed, self.start = seed, start
        rng = random.Random(seed)
        self.profiles: list[DeviceProfile] = []
        site_left, site_no, client_no = 0, 0, 0
        for i in range(devices):
            if site_left == 0:
                site_no += 1
                if site_no % 3 == 1:
                    client_no += 1
                site_left = rng.randint(*site_sizes)
            site_left -= 1
            self.profiles.append(self._profile(rng, i, f"client-{client_no:03d}", f"site-{site_no:04d}"))
        self.events: list[CartridgeEvent] = []
        self._holidays: dict[int, set[date]] = {}

    @staticmethod
    def _profile(rng: random.Random, i: int, client: str, site: str) -> DeviceProfile:
        family, colour, yields = MODELS[rng.randrange(len(MODELS))]
        level = rng.lognormvariate(math.log(120), 0.8)  # median 120 pages a working day
        if rng.random() < 0.004:
            level *= 25  # a print-room machine: two cartridges a week
        trend_day = rng.randrange(60, 330) if rng.random() < 0.15 else None
        trend = rng.choice((0.5, 1.6, 2.0)) if trend_day is not None else 1.0
        jobs = {rng.randrange(0, 365): int(level * rng.uniform(8, 20))} if rng.random() < 0.2 else {}
        modes, weights = zip(*REPORT_MODES)
        mode = rng.choices(modes, weights)[0]
        offline: list[tuple[int, int]] = []
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
            first = rng.randrange(0, 355)
            offline.append((first, first + rng.randint(2, 12)))
        return DeviceProfile(
            index=i, serial=f"SIM{i:06d}", model=sim_model(colour, mode), cartridges=family, client=client, site=site, colour=colour,
            yields=dict(yields), coverage={c: rng.lognormvariate(0, 0.25) for c in yields},
            workday_pages=level, weekend_factor=rng.choice((0.0, 0.03, 0.1, 0.3)),
            colour_share=rng.uniform(0.15, 0.5) if colour else 0.0, trend_day=trend_day, trend_factor=trend,
            big_jobs=jobs, report_mode=mode, reports_serials=mode in ("some_remaining", "binary") or rng.random() < 0.3,
            premature_chance=rng.choice((0.0, 0.0, 0.05, 0.15)), offline=tuple(sorted(offline)))

    def holidays(self, year: int) -> set[date]:
        if year not in self._holidays:
            self._holidays[year] = holidays(year)
        return self._holidays[year]

    def _pages(self, p: DeviceProfile, rng: random.Random, offset: int, day: date) -> float:
        base = p.workday_pages
        if day.weekday() >= 5:
            base *= p.weekend_factor
        if day in self.holidays(day.year):
            base *= 0.03
        season = 1.0 - 0.35 * math.exp(-((day.timetuple().tm_yday - 220) / 12) ** 2)  # August dip
        trend = p.trend_factor if p.trend_day is not None and offset >= p.trend_day else 1.0
        return base * season * trend * rng.lognormvariate(0, 0.3) + p.big_jobs.get(offset, 0)

    def days(self, count: int) -> Iterator[DayUsage]:
        """Yield the first `count` days in order (a new replay from the start each call)."""
        self.events = []
        rng = random.Random(self.seed * 7919 + 1)
        states: list[_DeviceState] = []
        for p in self.profiles:
            warm = random.Random(hash_text(p.serial) ^ self.seed)
            state = _DeviceState(total=warm.randrange(5_000, 400_000), colour=0)
            for idx, colour in enumerate(p.supply_colours(), 1):
                start_level = warm.uniform(5, 100)  # the fleet is mid-life when monitoring starts
                state.cartridges[idx] = _Cartridge(level=start_level, number=warm.randrange(1, 30))
                if colour == "black" and p.colour:
                    state.colour = state.total // 3
            states.append(state)
        for offset in range(count):
            day = self.start + timedelta(days=offset)
            out: list[DeviceDay] = []
            for p, state in zip(self.profiles, states):
                pages = max(0, round(self._pages(p, rng, offset, day)))
                colour_pages = round(pages * p.colour_share * rng.uniform(0.7, 1.3)) if p.colour else 0
                colour_pages = min(colour_pages, pages)
                state.total += pages
                state.colour += colour_pages
                for idx, colour in enumerate(p.supply_colours(), 1):
                    used_pages = pages if colour == "black" else colour_pages
                    self._consume(p, state.cartridges[idx], idx, colour, used_pages, day, rng)
                out.append(DeviceDay(
                    profile=p, day=day, pages=pages, colour_pages=colour_pages,
                    counters={"total": state.total, "mono": state.total - state.colour, "color": state.colour}
                    if p.colour else {"total": state.total},
                    levels={i: c.level for i, c in state.cartridges.items()},
                    cartridge_serials={i: self._cartridge_serial(p, i, c.number) for i, c in state.cartridges.items()}))
            yield DayUsage(day=day, offset=offset, devices=out)

    def day(self, offset: int) -> DayUsage:
        """One day's usage (replays from the start: use `days()` to walk a period)."""
        for usage in self.days(offset + 1):
            pass
        return usage

    @staticmethod
    def _cartridge_serial(p: DeviceProfile, idx: int, number: int) -> str:
        return f"{p.serial}-{idx}-{number:04d}"

    def _consume(self, p: DeviceProfile, cart: _Cartridge, idx: int, colour: str, pages: int, day: date,
                 rng: random.Random) -> None:
        per_page = 100.0 * p.coverage[colour] / p.yields[colour]
        remaining = pages
        hour = 8.0
        while remaining > 0:
            floor_level = cart.swap_at if cart.swap_at is not None else 0.0
            can_print = int((cart.level - floor_level) / per_page)
            if can_print >= remaining:
                cart.level -= remaining * per_page
                cart.pages += remaining
                return
            cart.level -= can_print * per_page
            cart.pages += can_print
            remaining -= can_print
            hour += 10.0 * can_print / max(pages, 1) if hour < 17.5 else 0.0
            at = datetime.combine(day, time(0), tzinfo=timezone.utc) + timedelta(hours=min(hour, 17.5))
            empty = cart.swap_at is None
            left = max(cart.level, 0.0)
            self.events.append(CartridgeEvent(
                serial=p.serial, supply=idx, at=at, left_percent=0.0 if empty else round(left, 1), empty=empty,
                pages=cart.pages, new_serial=self._cartridge_serial(p, idx, cart.number + 1)))
            cart.number += 1
            cart.level, cart.pages = 100.0, 0
            cart.swap_at = rng.uniform(20, 45) if rng.random() < p.premature_chance else None
