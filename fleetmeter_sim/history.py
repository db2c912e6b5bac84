"""What the agents report of a simulated fleet's true usage: `fleetmeter.device/1` readings.

One reading per device per day at about 18:00 UTC (end of the working day), except while its agent is
offline. The gauge is what real printers show: 1 % steps with a little noise and the odd shaken cartridge
(a few points up for a day or two), coarse 10/20/25 % steps, "some remaining" (-3) until low, only 0/100, or
no percent any more once low. Devices that hide the level report their cartridges' serials.

`write_history(path, seed=, devices=, days=)` is what `fleetmeter-sim history` calls; it returns the fleet
(its `events` are the ground truth the benchmark scores against).
"""

from __future__ import annotations

import json
import math
import random
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from fleetmeter_sim.models import HR_DEVICE_DESCR, load_models
from fleetmeter_sim.usage import DeviceDay, Fleet, hash_text, part_number

DEFAULT_START = date(2026, 1, 1)


def reported_level(mode: str, true_level: float, rng: random.Random, shake: float) -> int:
    """The raw prtMarkerSuppliesLevel (max capacity 100) a device with this gauge reports."""
    if mode.startswith("coarse"):
        step = int(mode[6:])
        return 0 if true_level <= 0 else min(100, step * math.ceil(true_level / step))
    if mode == "binary":
        return 100 if true_level > 0 else 0
    if mode == "some_remaining" and true_level > 20:
        return -3
    if mode == "low_only" and true_level <= 10:
        return -3
    noise = rng.choice((0, 0, 0, 0, 0, 1, -1, 1, -1, 2, -2)) if true_level > 2 else 0
    return max(0, min(100, round(true_level) + noise + round(shake)))


def supply_doc(dev: DeviceDay, idx: int, colour: str, level: int) -> dict[str, Any]:
    percent = float(level) if level >= 0 else None
    if level == -3:
        state = "some_remaining"
    else:
        state = "empty" if level == 0 else "low" if level <= 10 else "ok"
    return {"index": idx, "description": f"{colour.title()} Toner", "type": "toner", "color": colour,
            "class": "consumed", "unit": "percent", "level": level, "max_capacity": 100, "percent": percent,
            "state": state, "part_number": part_number(dev.profile.cartridges, colour),
            "serial": dev.cartridge_serials[idx] if dev.profile.reports_serials else None}


def identity(serial: str, model: str) -> dict[str, Any]:
    """What the agent reads of the live simulator's device of this model (no vendor profile matches the
    simulator's models, so no manufacturer; the model is hrDeviceDescr), so history and live agree."""
    description = {m.name: m for m in load_models()}[model].value(HR_DEVICE_DESCR)
    return {"serial": serial, "manufacturer": None, "model": description.decode("latin-1")}  # type: ignore[union-attr]


def reading_doc(dev: DeviceDay, at: datetime, levels: dict[int, int]) -> dict[str, Any]:
    p = dev.profile
    counters: dict[str, int | None] = {"total": dev.counters["total"]}
    if p.colour:
        counters |= {"mono": dev.counters["mono"], "color": dev.counters["color"]}
    return {
        "schema": "fleetmeter.device/1", "collected_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "transport": "snmp",
        "address": f"10.{p.index // 65536 % 256}.{p.index // 256 % 256}.{p.index % 256}", "port": 161,
        "is_printer": True,
        "identity": identity(p.serial, p.model),
        "counters": counters,
        "supplies": [supply_doc(dev, i, c, levels[i]) for i, c in enumerate(p.supply_colours(), 1)],
    }


def readings(fleet: Fleet, days: int) -> Iterator[dict[str, Any]]:
    """History lines `{"client", "site", "reading"}` in time order, day by day."""
    rng = random.Random(fleet.seed * 104729 + 3)
    shakes: dict[tuple[int, int], tuple[int, float]] = {}  # (device, supply) -> (readings left, points)
    for usage in fleet.days(days):
        for dev in usage.devices:
            p = dev.profile
            if any(first <= usage.offset <= last for first, last in p.offline):
                continue
            minute = hash_text(f"{p.serial}{usage.offset}") % 90
            at = datetime.combine(usage.day, time(17, 30), tzinfo=timezone.utc) + timedelta(minutes=minute)
            levels: dict[int, int] = {}
            for idx in dev.levels:
                true = dev.levels[idx]
                left, points = shakes.get((p.index, idx), (0, 0.0))
                if left == 0 and 1 < true < 12 and rng.random() < 0.04:
                    left, points = rng.randint(1, 3), rng.uniform(3, 9)  # somebody shook the cartridge
                shake = points if left > 0 else 0.0
                shakes[(p.index, idx)] = (max(left - 1, 0), points)
                levels[idx] = reported_level(p.report_mode, true, rng, shake)
            yield {"client": p.client, "site": p.site, "reading": reading_doc(dev, at, levels)}


def write_history(path: Path, *, seed: int = 1, devices: int = 100, days: int = 365,
                  start: date = DEFAULT_START) -> Fleet:
    fleet = Fleet(seed, devices, start)
    with open(path, "w", encoding="utf-8") as out:
        for line in readings(fleet, days):
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
    return fleet


def ground_truth(fleet: Fleet) -> list[dict[str, Any]]:
    """The cartridge changes that really happened (after a replay), as plain JSON-able dicts."""
    return [{"device": e.serial, "supply": str(e.supply), "at": e.at.isoformat(), "left_percent": e.left_percent,
             "empty": e.empty, "pages": e.pages} for e in fleet.events]
