"""The schema of a vendor profile file (agent/printer/profiles/<vendor>.toml), checked when it is loaded.

Every table forbids keys it does not know, so a misspelt section (``[identiy]``) or key (``enterprize``)
fails with the file, the key and the reason instead of being ignored. OIDs are numeric here: MIB
symbols are resolved before validation (agent/printer/profile.py). Sources and meters are checked
where they are parsed (`parse_source`, `parse_meters`), with the same kind of message.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

SUPPLY_TYPES = ("toner", "ink", "drum", "developer", "waste_toner", "fuser", "transfer", "maintenance_kit",
                "staples", "other")
STATES = ("ok", "low", "empty", "some_remaining", "unknown", "other", "near_full", "full")
_OID = re.compile(r"\.?\d+(\.\d+)+")


def _regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(f"bad regex {text!r}: {exc}") from None
    return text


def _oid(text: str) -> str:
    if not _OID.fullmatch(text):
        raise ValueError(f"{text!r} is not a numeric OID (digits and dots) or a MIB symbol (MODULE::name)")
    return text


Regex = Annotated[str, AfterValidator(_regex)]
Oid = Annotated[str, AfterValidator(_oid)]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Table):
    enterprises: list[Annotated[int, Field(ge=0)]] = []
    sys_descr: list[Regex] = []
    device_id_oids: list[Oid] = []  # where the vendor publishes an IEEE 1284 Device ID
    device_id: list[Regex] = []  # what in that Device ID names the vendor (e.g. 'MFG:Brother')


class BrandSpec(_Table):
    manufacturer: str
    sys_descr: Regex


class Identity(_Table):
    serial: list[str] | None = None
    model: list[str] | None = None
    firmware: list[str] | None = None


class LevelCodeSpec(_Table):
    level: int
    state: Literal[STATES]  # type: ignore[valid-type]
    percent: Annotated[float, Field(ge=0, le=100)] | None = None
    only_without_capacity: bool = False
    receptacle: bool | None = None


class Supplies(_Table):
    description: Regex | None = None  # named groups description / part_number / serial
    part_numbers: list[Regex] = []  # order numbers written in descriptions (first group, else the match)
    level_codes: list[LevelCodeSpec] = []
    receptacle_level_is_remaining: bool = False
    level_step: Annotated[float, Field(gt=0, le=100)] | None = None


class Discovery(_Table):
    printer_object_ids: list[Oid] = []
    printer_sys_descr: list[Regex] = []


class RecordSpec(_Table):
    code: Annotated[int, Field(ge=0, le=255)]
    type: Literal[SUPPLY_TYPES] | None = None  # type: ignore[valid-type]
    color: str | None = None
    description: str | None = None
    meter: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")] | None = None
    pages_of: Annotated[int, Field(ge=0, le=255)] | None = None  # remaining pages of the supply record with this code

    @model_validator(mode="after")
    def _one_meaning(self) -> RecordSpec:
        if sum(x is not None for x in (self.type, self.meter, self.pages_of)) != 1:
            raise ValueError(f"record 0x{self.code:02x}: give exactly one of type (a supply), meter or pages_of")
        return self


class RecordBlockSpec(_Table):
    oid: Oid
    full: Annotated[int, Field(gt=0)] | None = None  # the value meaning 100 % (supply records)
    records: list[RecordSpec]


class ProfileFile(_Table):
    manufacturer: str
    model_prefixes: list[str] = []
    match: Match = Match()
    brands: list[BrandSpec] = []
    identity: Identity = Identity()
    supplies: Supplies = Supplies()
    counters: dict[str, Any] = {}
    discovery: Discovery = Discovery()
    record_blocks: list[RecordBlockSpec] = []

    @model_validator(mode="after")
    def _pages_of_a_supply(self) -> ProfileFile:
        supplies = {r.code for b in self.record_blocks for r in b.records if r.type is not None}
        for block in self.record_blocks:
            for record in block.records:
                if record.pages_of is not None and record.pages_of not in supplies:
                    raise ValueError(f"record 0x{record.code:02x}: pages_of 0x{record.pages_of:02x} is no supply record")
        return self


def first_error(exc: ValidationError) -> str:
    """"identiy: unknown key" / "match.enterprises.0: Input should be a valid integer" (one line)."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    if error["type"] == "missing":
        return f"{where}: required key missing"
    return f"{where}: {error['msg'].removeprefix('Value error, ')}"
