"""The wire documents the server accepts, as pydantic models (strict JSON: no "5" for 5).

`fleetmeter.device/1` is described in DESIGN.md; known keys must have the documented types, unknown keys
(newer agents may add some) pass unvalidated. The stored document is the body the agent sent, unknown keys
included, not a re-serialisation of these models.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, IPvAnyAddress, ValidationError

HARD_MAX_READINGS = 1000  # schema ceiling; the configured per-batch cap (serve --max-readings) is below it

INT32 = 2**31 - 1
Text = Annotated[str, Field(max_length=1024)]
Count = Annotated[int, Field(ge=0)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000)")
    return value


Clean = AfterValidator(_no_nul)


def _plausible_utc(value: datetime) -> datetime:
    try:
        value = value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("out of range") from None
    if not 1970 <= value.year <= 9998:
        raise ValueError("must be between 1970 and 9998")
    return value


class _Open(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class Identity(_Open):
    serial: Text | None = None
    manufacturer: Text | None = None
    model: Text | None = None
    sys_descr: Annotated[str, Field(max_length=4096)] | None = None
    sys_object_id: Text | None = None
    sys_name: Text | None = None
    mac: Text | None = None
    firmware: Text | None = None
    location: Text | None = None
    contact: Text | None = None
    uptime_s: Count | None = None


class Supply(_Open):
    index: int
    description: Text | None = None
    type: Text
    color: Text | None = None
    class_: Text | None = Field(default=None, alias="class")
    unit: Text | None = None
    level: int | None = None
    max_capacity: int | None = None
    percent: Annotated[float, Field(ge=0, le=100)] | None = None
    state: Text


class Tray(_Open):
    index: int
    name: Text | None = None
    media: Text | None = None
    level: int | None = None
    max_capacity: int | None = None


class Status(_Open):
    device: Text | None = None
    printer: Text | None = None
    errors: list[Text] = []


class Alert(_Open):
    index: int
    severity: Text | None = None
    code: Text | None = None
    description: Text | None = None


class DeviceReading(_Open):
    schema_: Literal["fleetmeter.device/1"] = Field(alias="schema")
    collected_at: Annotated[AwareDatetime, AfterValidator(_plausible_utc)]
    transport: Literal["snmp", "usb"]
    address: Annotated[str, Field(min_length=1, max_length=255)]
    port: Annotated[int, Field(ge=0, le=65535)] | None = None
    is_printer: bool
    identity: Identity
    counters: Annotated[dict[Annotated[str, Field(max_length=64)], Count | None], Field(max_length=64)]
    supplies: Annotated[list[Supply], Field(max_length=256)] = []
    trays: Annotated[list[Tray], Field(max_length=256)] = []
    status: Status | None = None
    alerts: Annotated[list[Alert], Field(max_length=1024)] = []
    warnings: Annotated[list[Text], Field(max_length=1024)] = []


class Heartbeat(_Open):
    version: Annotated[str, Field(min_length=1, max_length=100)]
    hostname: Annotated[str, Field(min_length=1, max_length=255)]
    os: Annotated[str, Field(max_length=255)]
    ip_addresses: Annotated[list[IPvAnyAddress], Field(max_length=64)] = []
    queue_depth: Annotated[int, Field(ge=0, le=INT32)] = 0


class Batch(BaseModel):
    """POST /v1/ingest: one agent's heartbeat and up to N readings."""

    model_config = ConfigDict(strict=True, extra="forbid")
    agent: Heartbeat
    readings: Annotated[list[DeviceReading], Field(max_length=HARD_MAX_READINGS)]


class EnrolRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    key: Annotated[str, Field(min_length=1, max_length=200), Clean]
    csr: Annotated[str, Field(min_length=1, max_length=16384), Clean]
    hostname: Annotated[str, Field(max_length=255), Clean] | None = None


class EnrolResponse(BaseModel):
    agent: str
    client: str
    certificate: str
    ca_certificate: str
    fingerprint: str
    not_after: AwareDatetime


class IngestResponse(BaseModel):
    received: int
    stored: int
    duplicates: int


class Problem(BaseModel):
    """Every error answer: what failed, and for a bad document the field that made it fail."""

    error: str
    detail: str | None = None
    field: str | None = None




def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def unstorable(body: bytes) -> Problem | None:
    """Values the strict schema lets through in unknown keys but no database can hold: NaN/Infinity
    (not JSON) and NUL characters (PostgreSQL text and jsonb refuse them). A substring test on the raw body
    first (false alarms are possible, misses are not); the exact, slower check only then."""
    if b"NaN" not in body and b"Infinity" not in body and b"\\u0000" not in body:
        return None
    try:
        doc = json.loads(body, parse_constant=_reject_constant)
    except ValueError as exc:
        return Problem(error="malformed JSON", detail=str(exc))
    where = _find_nul(doc, ())
    if not where:
        return None
    return Problem(error="invalid document", field=field_path(where),
                   detail=f"{field_path(where)}: strings must not contain NUL (\\u0000)")


def _find_nul(value: Any, loc: tuple) -> tuple:
    if isinstance(value, str):
        return loc if "\x00" in value else ()
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return loc + (key,)
        found = _find_nul(item, loc + (key,))
        if found:
            return found
    return ()


def field_path(loc: tuple) -> str:
    """('readings', 3, 'collected_at') -> 'readings[3].collected_at'."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def first_problem(exc: ValidationError) -> Problem:
    error = exc.errors(include_url=False)[0]
    field = field_path(tuple(error["loc"]))
    if error["type"] == "json_invalid":
        return Problem(error="malformed JSON", detail=error["msg"])
    return Problem(error="invalid document", field=field or None, detail=f"{field or 'body'}: {error['msg']}")
