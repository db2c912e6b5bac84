"""Hand-built scenarios for the supply tests: a printer whose every page and percent is known."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable

START = date(2026, 3, 2)  # a Monday


def at(day: int, hour: int = 18) -> datetime:
    return datetime.combine(START + timedelta(days=day), time(hour), tzinfo=timezone.utc)


def reading(serial: str, when: datetime, total: int, supplies: list[dict[str, Any]], *, color: int | None = None,
            model: str = "Test Laser 1") -> dict[str, Any]:
    counters: dict[str, int | None] = {"total": total}
    if color is not None:
        counters["color"] = color
    return {"schema": "fleetmeter.device/1", "collected_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "transport": "snmp", "address": "127.0.0.1", "is_printer": True,
            "identity": {"serial": serial, "model": model}, "counters": counters, "supplies": supplies}


def toner(level: int, *, index: int = 1, color: str = "black", serial: str | None = None,
          part: str | None = "TN-1", kind: str = "toner") -> dict[str, Any]:
    return {"index": index, "description": None, "type": kind, "color": color, "class": "consumed", "unit": "percent",
            "level": level, "max_capacity": 100, "percent": float(level) if level >= 0 else None,
            "state": "some_remaining" if level == -3 else "ok", "part_number": part, "serial": serial}


@dataclass
class Printer:
    """A mono printer: `pages(day)` pages a day, a cartridge of `yield_pages`; `gauge(true) -> level`."""

    serial: str = "T1"
    yield_pages: int = 5000
    pages: Callable[[int], int] = lambda day: 100 if (START + timedelta(days=day)).weekday() < 5 else 0
    gauge: Callable[[float], int] = lambda true: round(true)
    report_serial: bool = True
    total: int = 100_000
    level: float = 100.0
    cartridge: int = 1
    replaced_on: list[int] = field(default_factory=list)

    def day(self, day: int) -> dict[str, Any]:
        """Print the day's pages (a fresh cartridge when one runs out) and report at 18:00."""
        for _ in range(self.pages(day)):
            self.total += 1
            self.level -= 100 / self.yield_pages
            if self.level <= 1e-9:
                self.level, self.cartridge = 100.0, self.cartridge + 1
                self.replaced_on.append(day)
        return reading(self.serial, at(day), self.total,
                       [toner(self.gauge(self.level),
                              serial=f"{self.serial}-C{self.cartridge}" if self.report_serial else None)])
