"""The server's request and answer models (strict JSON: no "5" for 5): batch, heartbeat, enrolment, problem.

The reading itself, `fleetmeter.device/1`, is fleetmeter_contract.reading (shared with the agent); a batch's
readings are its WireReading (every key the agent may leave to defaults required). The stored document is the body the agent sent, unknown keys
included, not a re-serialisation of these models.
"""

from __future__ import annotations

import json

from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, IPvAnyAddress, ValidationError

from fleetmeter_contract.reading import Clean, WireReading, plausible_utc
from server_stub.ingest.limits import HARD_MAX_READINGS


INT32 = 2**31 - 1


class _Open(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class ConfigRefused(_Open):
    """The agent would not apply the configuration this server sent (agent.scheduler.service)."""
    version: Annotated[str, Field(max_length=64, pattern=r"^[0-9a-f]*$")]
    error: Annotated[str, Field(max_length=1000), Clean]


class Heartbeat(_Open):
    version: Annotated[str, Field(min_length=1, max_length=100)]
    hostname: Annotated[str, Field(min_length=1, max_length=255)]
    os: Annotated[str, Field(max_length=255)]
    ip_addresses: Annotated[list[IPvAnyAddress], Field(max_length=64)] = []
    queue_depth: Annotated[int, Field(ge=0, le=INT32)] = 0
    config_refused: ConfigRefused | None = None


class Batch(BaseModel):
    """POST /v1/ingest: one agent's heartbeat and up to N readings."""

    model_config = ConfigDict(strict=True, extra="forbid")
    agent: Heartbeat
    readings: Annotated[list[WireReading], Field(max_length=HARD_MAX_READINGS)]

    @classmethod
    def parse(cls, body: bytes) -> Batch:
        return cls.model_validate_json(body, strict=True)


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


class Part(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    ok: bool
    at: Annotated[AwareDatetime, AfterValidator(plausible_utc)] | None = None
    detail: Annotated[str, Field(max_length=255), Clean] = ""


class HeartbeatRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    agent: Heartbeat
    parts: Annotated[dict[Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")], Part], Field(max_length=8)] = {}
    config_version: Annotated[str, Field(max_length=64, pattern=r"^[0-9a-f]*$")] | None = None
