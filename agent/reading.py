"""The device reading: what the agent knows about one printer at one moment.

Schema `fleetmeter.device/1` (see DESIGN.md). Unknown is ``None`` (JSON null), never 0 or "".
Everything here is plain data; the SNMP and USB readers fill it, the outbox and server consume it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

SCHEMA = "fleetmeter.device/1"

COUNTER_NAMES = (
    "total", "mono", "color", "print_mono", "print_color", "copy_mono", "copy_color",
    "scan", "fax", "duplex", "large_mono", "large_color",
)


@dataclass
class Identity:
    serial: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    sys_descr: str | None = None
    sys_object_id: str | None = None
    sys_name: str | None = None
    mac: str | None = None
    firmware: str | None = None
    location: str | None = None
    contact: str | None = None
    uptime_s: int | None = None


@dataclass
class CounterSource:
    oid: str
    origin: str  # "rfc3805", "pwg-imaging" or "vendor:<profile>"
    unit: str | None = None


@dataclass
class Marker:
    """One prtMarkerEntry: the raw life and power-on counters of a marking engine."""

    device_index: int
    index: int
    life_count: int | None = None
    power_on_count: int | None = None
    counter_unit: str | None = None


@dataclass
class Supply:
    index: int
    description: str | None
    type: str
    color: str | None
    class_: str | None
    unit: str | None
    level: int | None
    max_capacity: int | None
    percent: float | None
    state: str
    part_number: str | None = None
    serial: str | None = None
    device_index: int = 1
    quirk: str | None = None  # set when a vendor quirk (profile) decided percent/state; says which

    def to_json(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["class"] = doc.pop("class_")
        return doc


@dataclass
class Tray:
    index: int
    name: str | None
    media: str | None
    level: int | None
    max_capacity: int | None
    type: str | None = None
    device_index: int = 1


@dataclass
class Status:
    device: str | None = None
    printer: str | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class Alert:
    index: int
    severity: str | None
    training: str | None
    group: str | None
    group_index: int | None
    location: int | None
    code: str | None
    description: str | None
    time_ticks: int | None
    device_index: int = 1


@dataclass
class Stats:
    pdus: int = 0
    bytes: int = 0
    elapsed_ms: int = 0


@dataclass
class DeviceReading:
    address: str
    port: int
    transport: str = "snmp"
    collected_at: str = field(default_factory=lambda: utc_now_iso())
    is_printer: bool = False
    identity: Identity = field(default_factory=Identity)
    counters: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(COUNTER_NAMES))
    counter_sources: dict[str, CounterSource] = field(default_factory=dict)
    markers: list[Marker] = field(default_factory=list)
    supplies: list[Supply] = field(default_factory=list)
    trays: list[Tray] = field(default_factory=list)
    status: Status = field(default_factory=Status)
    alerts: list[Alert] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    profile: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The wire document, keys in the order of DESIGN.md."""
        return {
            "schema": SCHEMA,
            "collected_at": self.collected_at,
            "transport": self.transport,
            "address": self.address,
            "port": self.port,
            "is_printer": self.is_printer,
            "profile": self.profile,
            "identity": dataclasses.asdict(self.identity),
            "counters": dict(self.counters),
            "counter_sources": {k: dataclasses.asdict(v) for k, v in self.counter_sources.items()},
            "markers": [dataclasses.asdict(m) for m in self.markers],
            "supplies": [s.to_json() for s in self.supplies],
            "trays": [dataclasses.asdict(t) for t in self.trays],
            "status": dataclasses.asdict(self.status),
            "alerts": [dataclasses.asdict(a) for a in self.alerts],
            "warnings": list(self.warnings),
            "stats": dataclasses.asdict(self.stats),
        }

    def dumps(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_json(), indent=indent, ensure_ascii=False)


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
