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

from pydantic import (AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, GetCoreSchemaHandler,
                      PlainSerializer)
from pydantic_core import CoreSchema, core_schema

SCHEMA = "fleetmeter.device/1"
MAX_COUNT = 10**12  # more pages than any printer prints in its life
MAX_TEXT = 1024  # characters of one text field (sysDescr: 4 KiB)
FUTURE_SLACK = timedelta(days=1)  # clocks drift; a reading later than this is refused

COUNTER_NAMES = (
    "total", "mono", "color", "print_mono", "print_color", "copy_mono", "copy_color",
    "scan", "fax", "duplex", "large_mono", "large_color",
)


class _NoNul:
    """Refuses a string with NUL in it, inside pydantic-core (a pattern after the string's own checks), not with a
    Python call per string: a batch of 100 readings holds some 3,000 strings."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.chain_schema([handler(source), core_schema.custom_error_schema(
            core_schema.str_schema(pattern=r"^[^\x00]*$"), custom_error_type="string_nul",
            custom_error_message="Value error, must not contain NUL (\\u0000)")])


Clean = _NoNul()
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
    """ISO 8601 text parsed here, so strict validation accepts it also from Python values; numbers are no
    times."""
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

Schema = Literal["fleetmeter.device/1"]
Transport = Literal["snmp", "usb"]
Counters = Annotated[dict[Annotated[str, Field(max_length=64)], Count | None], Field(max_length=64)]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class _Part(BaseModel):
    """Agent-built (keyword arguments), server-validated (strict)."""

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

    # Defaults for the agent building a reading; a received document must carry these keys (WireReading).
    schema_: Schema = Field(SCHEMA, alias="schema")
    collected_at: UtcTime = Field(default_factory=_utc_now)
    transport: Transport = "snmp"
    address: Annotated[str, Field(min_length=1, max_length=255), Clean]
    port: Annotated[int, Field(ge=0, le=65535)] | None = None
    is_printer: bool = False
    profile: Text | None = None
    identity: Identity = Field(default_factory=Identity)
    counters: Counters = Field(default_factory=lambda: dict.fromkeys(COUNTER_NAMES))
    counter_sources: Annotated[dict[Annotated[str, Field(max_length=64)], CounterSource], Field(max_length=64)] = {}
    markers: Annotated[list[Marker], Field(max_length=256)] = []
    supplies: Annotated[list[Supply], Field(max_length=256)] = []
    trays: Annotated[list[Tray], Field(max_length=256)] = []
    status: Status | None = Field(default_factory=Status)
    alerts: Annotated[list[Alert], Field(max_length=1024)] = []
    warnings: Annotated[list[Text], Field(max_length=1024)] = []
    stats: Stats = Field(default_factory=Stats)

    def to_json(self) -> dict[str, Any]:
        """The wire document, keys in the order of DESIGN.md."""
        return self.model_dump(by_alias=True, mode="json")

    def dumps(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_json(), indent=indent, ensure_ascii=False)


# A model of its own rather than a validator checking a context: a model validator makes pydantic hand each reading of
# a JSON batch over as Python values and validate those again (a third of the server's validation time).
class WireReading(DeviceReading):
    """One printer at one moment, as received: schema, collected_at, transport, is_printer, identity and counters
    are required."""

    schema_: Schema = Field(alias="schema")
    collected_at: UtcTime
    transport: Transport
    is_printer: bool
    identity: Identity
    counters: Counters


def validate_wire(document: str | bytes) -> WireReading:
    """One received JSON document, checked strictly (the server's check; also for imports)."""
    return WireReading.model_validate_json(document, strict=True)


def utc_now_iso() -> str:
    return _iso(_utc_now())
