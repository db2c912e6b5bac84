"""The device reading, schema `fleetmeter.device/1` (DESIGN.md): the one definition agent and server share.

The agent builds these models (readers fill them; `to_json()` / `dumps()` give the wire document in the key
order of DESIGN.md); the server validates uploads with the same models, strictly (`validate_wire`): known
keys must have their documented types and bounds, unknown keys (newer agents may add some) are ignored.
Unknown is ``None`` (JSON null), never 0 or "".

Bounds a printer cannot exceed: counters at most 10**12, `collected_at` at most a day ahead of the receiving
clock (a reading from the year 9998 would otherwise stay "latest" for ever), strings 1 KiB.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationInfo,
                      model_validator)

SCHEMA = "fleetmeter.device/1"
MAX_COUNT = 10**12  # more pages than any printer prints in its life
MAX_TEXT = 1024  # characters of one text field (sysDescr: 4 KiB)
FUTURE_SLACK = timedelta(days=1)  # clocks drift; a reading later than this is refused

COUNTER_NAMES = (
    "total", "mono", "color", "print_mono", "print_color", "copy_mono", "copy_color",
    "scan", "fax", "duplex", "large_mono", "large_color",
)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000)")
    return value


Clean = AfterValidator(_no_nul)
Text = Annotated[str, Field(max_length=MAX_TEXT), Clean]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Level = int  # raw RFC 3805 values as the printer sent them (-1 other, -2 unknown, -3 some remaining)
Index = Annotated[int, Field(ge=0, le=2**31 - 1)]


def plausible_utc(value: datetime) -> datetime:
    """In UTC, from 1970 to a day from now."""
    try:
        value = value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("out of range") from None
    if value.year < 1970:
        raise ValueError("must not be before 1970")
    if value > datetime.now(timezone.utc) + FUTURE_SLACK:
        raise ValueError("must not be more than a day in the future")
    return value


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _text_or_datetime(value: Any) -> Any:
    """ISO 8601 text parsed here, so strict validation accepts it also after the reading's model validator
    (which hands JSON over as Python values); numbers are no times."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    elif isinstance(value, datetime):
        return value
    raise ValueError("must be an ISO 8601 date and time with its offset, e.g. 2026-11-22T10:00:00Z")


UtcTime = Annotated[AwareDatetime, BeforeValidator(_text_or_datetime),
                    AfterValidator(plausible_utc), PlainSerializer(_iso, return_type=str)]

AGENT_DEFAULTS = {"schema": lambda: SCHEMA, "collected_at": lambda: utc_now_iso(), "transport": lambda: "snmp",
                  "is_printer": lambda: False, "identity": lambda: Identity(),
                  "counters": lambda: dict.fromkeys(COUNTER_NAMES)}


class _Part(BaseModel):
    """Agent-built (keyword arguments), server-validated (strict, with the wire context)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)


class Identity(_Part):
    serial: Text | None = None
    manufacturer: Text | None = None
    model: Text | None = None
    sys_descr: Annotated[str, Field(max_length=4096), Clean] | None = None
    sys_object_id: Text | None = None
    sys_name: Text | None = None
    mac: Text | None = None
    firmware: Text | None = None
    location: Text | None = None
    contact: Text | None = None
    uptime_s: Count | None = None


class CounterSource(_Part):
    oid: Text
    origin: Text  # "rfc3805", "pwg-imaging", "vendor:<profile>", "pjl", "ipp"
    unit: Text | None = None


class Marker(_Part):
    """One prtMarkerEntry: the raw life and power-on counters of a marking engine."""

    device_index: Index
    index: Index
    life_count: Count | None = None
    power_on_count: Count | None = None
    counter_unit: Text | None = None


class Supply(_Part):
    index: Index
    description: Text | None
    type: Text
    color: Text | None
    class_: Text | None = Field(alias="class")
    unit: Text | None
    level: Level | None
    max_capacity: Level | None
    percent: Annotated[float, Field(ge=0, le=100)] | None
    pages_remaining: Count | None = None  # pages the printer estimates are left (a vendor record), else null
    state: Text
    part_number: Text | None = None
    serial: Text | None = None
    device_index: Index = 1
    quirk: Text | None = None  # set when a vendor quirk (profile) decided percent/state; says which

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


class Tray(_Part):
    index: Index
    name: Text | None
    media: Text | None
    level: Level | None
    max_capacity: Level | None
    type: Text | None = None
    device_index: Index = 1


class Status(_Part):
    device: Text | None = None
    printer: Text | None = None
    errors: Annotated[list[Text], Field(max_length=256)] = []


class Alert(_Part):
    index: Index
    severity: Text | None
    training: Text | None = None
    group: Text | None = None
    group_index: int | None = None
    location: int | None = None
    code: Text | None = None
    description: Text | None = None
    time_ticks: Count | None = None
    device_index: Index = 1


class Stats(_Part):
    pdus: Count = 0
    bytes: Count = 0
    elapsed_ms: Count = 0


class DeviceReading(_Part):
    """One printer at one moment. Keys in the order of DESIGN.md (the wire document keeps it)."""

    schema_: Literal["fleetmeter.device/1"] = Field(alias="schema")
    collected_at: UtcTime
    transport: Literal["snmp", "usb"]
    address: Annotated[str, Field(min_length=1, max_length=255), Clean]
    port: Annotated[int, Field(ge=0, le=65535)] | None = None
    is_printer: bool
    profile: Text | None = None
    identity: Identity
    counters: Annotated[dict[Annotated[str, Field(max_length=64)], Count | None], Field(max_length=64)]
    counter_sources: Annotated[dict[Annotated[str, Field(max_length=64)], CounterSource], Field(max_length=64)] = {}
    markers: Annotated[list[Marker], Field(max_length=256)] = []
    supplies: Annotated[list[Supply], Field(max_length=256)] = []
    trays: Annotated[list[Tray], Field(max_length=256)] = []
    status: Status | None = Field(default_factory=Status)
    alerts: Annotated[list[Alert], Field(max_length=1024)] = []
    warnings: Annotated[list[Text], Field(max_length=1024)] = []
    stats: Stats = Field(default_factory=Stats)

    @model_validator(mode="before")
    @classmethod
    def _agent_defaults(cls, data: Any, info: ValidationInfo) -> Any:
        """The agent may leave these out when building a reading; a wire document must carry them."""
        if isinstance(data, dict) and not (info.context and info.context.get("wire")):
            missing = {key: make() for key, make in AGENT_DEFAULTS.items() if key not in data
                       and not (key == "schema" and "schema_" in data)}
            if missing:
                data = {**data, **missing}
        return data

    def to_json(self) -> dict[str, Any]:
        """The wire document, keys in the order of DESIGN.md."""
        return self.model_dump(by_alias=True, mode="json")

    def dumps(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_json(), indent=indent, ensure_ascii=False)


WIRE = {"wire": True}  # validation context: the fields the agent may leave to defaults are required


def validate_wire(document: str | bytes) -> DeviceReading:
    """One received JSON document, checked strictly (the server's check; also for imports)."""
    return DeviceReading.model_validate_json(document, strict=True, context=WIRE)


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
