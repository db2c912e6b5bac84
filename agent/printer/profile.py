"""Vendor profiles: vendor knowledge as data (one TOML file per vendor in agent/printer/profiles/).

A profile says which devices it covers (sysObjectID enterprise numbers, sysDescr patterns), the
manufacturer name (and OEM brands sold on the same engine), and where identity facts live. A *source*
is a string ``"<OID or standard name> [~ <regex>]"``: the value at that OID (or of the standard object
``sysDescr``, ``sysName``, ``hrDeviceDescr``, ``prtGeneralSerialNumber``), optionally cut down to the
regex's first group. Sources are tried in order; the first that yields a value wins. The reader never
names a vendor: everything vendor-specific comes from here. See agent/printer/profiles/README.md.

Meters (``[counters]``) use the same sources: a meter is one source, a list of alternatives, a
table ``{ sum = [...] }`` (all parts must answer), or a row lookup in a counter table keyed by type
``{ table = <value column>, key = <type column>, match = [types] }`` (the sum of the matching rows),
each with an optional ``unit``. Which meter wins when
several sources have one is decided in `agent.printer.counters`, not here.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from agent.errors import UserConfigError
from agent.printer import profile_schema as schema

from agent.printer.supplies import LevelCode, SupplyQuirks

PROFILE_DIR = Path(__file__).with_name("profiles")
# standard objects a source may name instead of an OID (each transport reads them its own way)
STANDARD_OBJECTS = ("sysDescr", "sysName", "hrDeviceDescr", "prtGeneralSerialNumber")
IDENTITY_FIELDS = ("serial", "model", "firmware")
_ENTERPRISE = re.compile(r"^\.?1\.3\.6\.1\.4\.1\.(\d+)")


class ProfileError(UserConfigError):
    """A profile file that cannot be used (names the file and the problem)."""


@dataclass(frozen=True)
class Source:
    """Where one fact is read: a numeric OID or a standard object, and an optional regex."""

    text: str
    oid: str | None  # numeric OID to GET (vendor objects); None for standard objects
    alias: str | None  # standard object name, resolved by the reader
    pattern: re.Pattern[str] | None

    def extract(self, value: str | None) -> str | None:
        if value is None:
            return None
        if self.pattern is None:
            return value.strip() or None
        match = self.pattern.search(value)
        if not match:
            return None
        picked = match.group(1) if match.groups() else match.group(0)
        return picked.strip() if picked and picked.strip() else None


@dataclass(frozen=True)
class MeterSpec:
    """Where one meter is read: alternatives (first that answers wins) or the sum of several sources."""

    meter: str
    sources: tuple[Source, ...]
    total_of: bool = False  # True: the meter is the sum of all sources, each must answer
    unit: str | None = None
    keyed: KeyedRows | None = None  # rows of a counter table picked by their type column

    @property
    def oids(self) -> list[str]:
        return [s.oid for s in self.sources if s.oid]


@dataclass(frozen=True)
class KeyedRows:
    """Counter-table rows chosen by type: the key column is walked once the profile is known, the
    matching rows of the value column are read by GET."""

    value_column: str
    key_column: str
    match: tuple[int, ...]


@dataclass(frozen=True)
class Record:
    """What one record code of a vendor's record string means: a supply's remaining life, a meter, or the
    remaining pages of the supply whose record code is `pages_of`."""

    code: int
    type: str | None = None  # supply type (toner, drum, transfer, fuser, maintenance_kit, ...)
    color: str | None = None
    description: str | None = None
    meter: str | None = None
    pages_of: int | None = None


@dataclass(frozen=True)
class RecordBlock:
    """An OctetString of records ``<code:1><flag:1><length:1><value:length>`` (big-endian), as Brother
    publishes maintenance and counters; `full` is the value that means 100 % for supply records."""

    oid: str
    full: int | None
    records: tuple[Record, ...]


@dataclass(frozen=True)
class Brand:
    manufacturer: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Profile:
    name: str
    manufacturer: str | None
    enterprises: tuple[int, ...] = ()
    sys_descr: tuple[re.Pattern[str], ...] = ()
    brands: tuple[Brand, ...] = ()
    model_prefixes: tuple[str, ...] = ()
    identity: dict[str, tuple[Source, ...]] = field(default_factory=dict)
    # a regex with named groups (description, part_number, serial) for supply descriptions that
    # carry more than a name, e.g. Xerox "Black Toner, PN 006R01509;SN 48178080E0000481"
    supply_description: re.Pattern[str] | None = None
    counters: tuple[MeterSpec, ...] = ()
    supply_quirks: SupplyQuirks = field(default_factory=SupplyQuirks)
    # [discovery]: sysObjectID prefixes and sysDescr patterns that identify a printer by themselves
    # (devices that answer SNMP but do not implement the Printer-MIB, or whose vendor also makes
    # switches and servers under the same enterprise number)
    printer_object_ids: tuple[str, ...] = ()
    printer_sys_descr: tuple[re.Pattern[str], ...] = ()
    # [match] device_id_oids / device_id: where the vendor publishes a 1284 Device ID, and what in it
    # names the vendor (identifies devices whose sysDescr and sysObjectID say nothing)
    device_id_oids: tuple[str, ...] = ()
    device_id: tuple[re.Pattern[str], ...] = ()
    record_blocks: tuple[RecordBlock, ...] = ()  # [[record_blocks]]: private code/value record strings

    def identity_oids(self) -> list[str]:
        """Numeric OIDs of the identity sources (serial, model, firmware), read by GET."""
        return list(dict.fromkeys(s.oid for sources in self.identity.values() for s in sources if s.oid))

    def vendor_oids(self) -> list[str]:
        """Numeric OIDs this profile needs read by GET (identity, meters and record blocks)."""
        return list(dict.fromkeys(self.identity_oids() + [oid for spec in self.counters for oid in spec.oids]
                                  + [block.oid for block in self.record_blocks]))

    def names_a_printer(self, sys_object_id: str | None, sys_descr: str | None,
                        device_ids: Mapping[str, str] | None = None) -> bool:
        """True when the sysObjectID or sysDescr alone says "printer" for this vendor, or the vendor's
        printer Device ID object (which only its printers publish) names it."""
        oid = (sys_object_id or "").lstrip(".")
        if oid and any(oid == p or oid.startswith(p + ".") for p in self.printer_object_ids):
            return True
        if self.matches_device_id(device_ids):
            return True
        return bool(sys_descr) and any(p.search(sys_descr) for p in self.printer_sys_descr)

    def matches_device_id(self, device_ids: Mapping[str, str | None] | None) -> bool:
        return bool(device_ids) and any(p.search((device_ids or {}).get(oid) or "")
                                        for oid in self.device_id_oids for p in self.device_id)

    def manufacturer_for(self, sys_descr: str | None) -> str | None:
        """The brand on the device: an OEM brand named in sysDescr, else the profile's manufacturer."""
        for brand in self.brands:
            if sys_descr and brand.pattern.search(sys_descr):
                return brand.manufacturer
        return self.manufacturer

    def clean_model(self, model: str | None) -> str | None:
        """Drop the manufacturer's name in front of a model ("RICOH Aficio MP C3002" -> "Aficio ...")."""
        if not model:
            return None
        for prefix in self.model_prefixes:
            if model.lower().startswith(prefix.lower() + " "):
                model = model[len(prefix) + 1:].strip()
                break
        return model or None


GENERIC = Profile(
    name="generic",
    manufacturer=None,
    identity={
        "serial": (Source("prtGeneralSerialNumber", None, "prtGeneralSerialNumber", None),),
        "model": (Source("hrDeviceDescr", None, "hrDeviceDescr", None),),
        "firmware": (),
    },
)


def parse_source(text: str, where: str) -> Source:
    target, _, regex = (part.strip() for part in text.partition("~"))
    pattern = None
    if regex:
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            raise ProfileError(f"{where}: bad regex {regex!r}: {exc}") from None
    if target in STANDARD_OBJECTS:
        return Source(text, None, target, pattern)
    if re.fullmatch(r"\.?\d+(\.\d+)+", target):
        return Source(text, target.lstrip("."), None, pattern)
    raise ProfileError(f"{where}: {target!r} is neither a numeric OID nor one of {', '.join(STANDARD_OBJECTS)}")


METER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def parse_meters(table: dict, where: str) -> tuple[MeterSpec, ...]:
    """``[counters]``: meter name -> source, [alternatives] or { sum = [...], unit = "..." }."""
    specs = []
    for meter, spec in table.items():
        here = f"{where}.{meter}"
        if not METER_NAME.match(meter):
            raise ProfileError(f"{here}: meter names are lower_snake_case")
        unit, total_of = None, False
        if isinstance(spec, dict) and "table" in spec:
            specs.append(_keyed_meter(meter, spec, here))
            continue
        if isinstance(spec, dict):
            unknown = set(spec) - {"source", "sources", "sum", "unit"}
            if unknown or len({"source", "sources", "sum"} & set(spec)) != 1:
                raise ProfileError(f"{here}: give exactly one of source, sources, sum (and optionally unit)")
            unit = spec.get("unit")
            total_of = "sum" in spec
            spec = spec.get("source") or spec.get("sources") or spec.get("sum")
        texts = [spec] if isinstance(spec, str) else spec
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise ProfileError(f"{here}: expected a source string or a list of them")
        sources = tuple(parse_source(t, here) for t in texts)
        if any(s.alias for s in sources):
            raise ProfileError(f"{here}: a meter is read from a numeric OID, not {sources[0].alias}")
        specs.append(MeterSpec(meter, sources, total_of, unit))
    return tuple(specs)


def _keyed_meter(meter: str, spec: dict, here: str) -> MeterSpec:
    if set(spec) - {"table", "key", "match", "unit"} or not {"table", "key", "match"} <= set(spec):
        raise ProfileError(f"{here}: a table meter has table, key, match (and optionally unit)")
    columns = [parse_source(spec[k], here) for k in ("table", "key")]
    if any(c.oid is None or c.pattern for c in columns):
        raise ProfileError(f"{here}: table and key are numeric column OIDs")
    match = spec["match"] if isinstance(spec["match"], list) else [spec["match"]]
    if not match or not all(isinstance(m, int) for m in match):
        raise ProfileError(f"{here}: match is a list of integer types")
    return MeterSpec(meter, (), unit=spec.get("unit"),
                     keyed=KeyedRows(columns[0].oid, columns[1].oid, tuple(match)))  # type: ignore[arg-type]


def resolve_symbols(text: object, resolve: Callable[[str], str] | None, where: str) -> object:
    """A source string with a MIB symbol ("PWG-IMAGING-COUNTER-MIB::icImpressionTotalImps.1.3.3 ~ re")
    turned into its numeric form; anything else unchanged. `resolve` is the pysmi-backed resolver."""
    if not isinstance(text, str):
        return text
    target, tilde, regex = text.partition("~")
    if "::" not in target:
        return text
    if resolve is None:
        raise ProfileError(f"{where}: {target.strip()!r} is a MIB symbol, and no MIB resolver is available")
    try:
        return resolve(target.strip()) + (f" ~{regex}" if tilde else "")
    except UserConfigError as exc:
        raise ProfileError(f"{where}: {exc}") from None


def resolve_meter_symbols(table: dict, resolve: Callable[[str], str] | None, where: str) -> dict:
    """A ``[counters]``/``[meters]`` table with its MIB symbols turned numeric (before `parse_meters`)."""
    def one(value: object, here: str) -> object:
        if isinstance(value, list):
            return [resolve_symbols(v, resolve, here) for v in value]
        return resolve_symbols(value, resolve, here)

    resolved = {}
    for meter, spec in table.items():
        here = f"{where}.{meter}"
        if isinstance(spec, dict):
            spec = {k: one(v, here) if k != "unit" else v for k, v in spec.items()}
        else:
            spec = one(spec, here)
        resolved[meter] = spec
    return resolved


def load_profile(path: Path, resolve: Callable[[str], str] | None = None) -> Profile:
    """Read and validate one profile file: unknown keys, misspelt sections, bad OIDs, regexes and
    values fail with the file, the key and the reason. MIB symbols stand wherever an OID does."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: {exc}") from None
    where = path.name
    resolve = resolve if resolve is not None else _lazy_resolver()
    for name, sources in data.get("identity", {}).items() if isinstance(data.get("identity"), dict) else ():
        if isinstance(sources, list):
            data["identity"][name] = [resolve_symbols(s, resolve, f"{where} identity.{name}") for s in sources]
    if isinstance(data.get("counters"), dict):
        data["counters"] = resolve_meter_symbols(data["counters"], resolve, f"{where} counters")
    for section, key in (("discovery", "printer_object_ids"), ("match", "device_id_oids")):
        table = data.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), list):
            table[key] = [resolve_symbols(o, resolve, f"{where} {section}.{key}") for o in table[key]]
    for position, block in enumerate(data.get("record_blocks", ()) if isinstance(data.get("record_blocks"), list)
                                     else ()):
        if isinstance(block, dict):
            block["oid"] = resolve_symbols(block.get("oid"), resolve, f"{where} record_blocks[{position}].oid")
    try:
        spec = schema.ProfileFile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(f"{where}: {schema.first_error(exc)}") from None
    identity: dict[str, tuple[Source, ...]] = {}
    for name in IDENTITY_FIELDS:
        sources = getattr(spec.identity, name)
        identity[name] = GENERIC.identity[name] if sources is None else \
            tuple(parse_source(s, f"{where} identity.{name}") for s in sources)
    supplies = spec.supplies
    quirks = SupplyQuirks(
        source=path.stem,
        level_codes=tuple(LevelCode(c.level, c.state, c.percent, c.only_without_capacity, c.receptacle)
                          for c in supplies.level_codes),
        receptacle_level_is_remaining=supplies.receptacle_level_is_remaining, level_step=supplies.level_step,
        part_numbers=tuple(re.compile(p) for p in supplies.part_numbers))
    return Profile(
        name=path.stem,
        manufacturer=spec.manufacturer,
        enterprises=tuple(spec.match.enterprises),
        sys_descr=tuple(re.compile(p, re.I) for p in spec.match.sys_descr),
        device_id_oids=tuple(o.lstrip(".") for o in spec.match.device_id_oids),
        device_id=tuple(re.compile(p, re.I) for p in spec.match.device_id),
        brands=tuple(Brand(b.manufacturer, re.compile(b.sys_descr, re.I)) for b in spec.brands),
        model_prefixes=tuple(spec.model_prefixes),
        identity=identity,
        supply_description=re.compile(supplies.description) if supplies.description else None,
        counters=parse_meters(data.get("counters", {}), f"{where} counters"),
        supply_quirks=quirks,
        record_blocks=tuple(RecordBlock(b.oid.lstrip("."), b.full, tuple(
            Record(r.code, r.type, r.color, r.description, r.meter, r.pages_of) for r in b.records)) for b in spec.record_blocks),
        printer_object_ids=tuple(o.lstrip(".") for o in spec.discovery.printer_object_ids),
        printer_sys_descr=tuple(re.compile(p, re.I) for p in spec.discovery.printer_sys_descr),
    )


def _lazy_resolver() -> Callable[[str], str]:
    """MIB symbols in a profile are compiled with pysmi (as for meters.toml), only when one is used."""
    def resolve(symbol: str) -> str:
        from agent.home import agent_paths
        from agent.mibs import resolver_for

        paths = agent_paths()
        return resolver_for(paths.config, paths.cache).oid_of(symbol)

    return resolve


@lru_cache(maxsize=1)
def all_profiles() -> tuple[Profile, ...]:
    return tuple(load_profile(p) for p in sorted(PROFILE_DIR.glob("*.toml")))


@lru_cache(maxsize=1)
def device_id_scalars() -> tuple[str, ...]:
    """Where some vendor publishes an IEEE 1284 Device ID, as scalars to read by GETNEXT with the system
    group (the OID without its ``.0``): one more varbind in a request that is sent anyway."""
    return tuple(dict.fromkeys(oid.removesuffix(".0") for profile in all_profiles()
                               for oid in profile.device_id_oids))


def device_ids(scalars: Mapping[str, object]) -> dict[str, str]:
    """{device-ID OID (with .0): text} from scalars read at `device_id_scalars()`."""
    found = {}
    for scalar in device_id_scalars():
        value = scalars.get(scalar)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip():
            found[scalar + ".0"] = value.strip()
    return found



def select_profile(sys_object_id: str | None, sys_descr: str | None,
                   device_ids: Mapping[str, str | None] | None = None) -> Profile:
    """The profile that best fits a device: a sysDescr match (or a match of the 1284 Device ID the
    vendor publishes, e.g. Brother's brInfoModel) outranks an enterprise-number match (print servers
    and OEM engines often carry another vendor's sysObjectID, or say nothing in sysDescr)."""
    enterprise = None
    if sys_object_id:
        found = _ENTERPRISE.match(sys_object_id)
        enterprise = int(found.group(1)) if found else None
    best, best_score = GENERIC, 0
    for profile in all_profiles():
        score = 0
        if sys_descr and any(p.search(sys_descr) for p in profile.sys_descr):
            score += 2
        elif profile.matches_device_id(device_ids):
            score += 2
        if enterprise is not None and enterprise in profile.enterprises:
            score += 1
        if score > best_score:
            best, best_score = profile, score
    return best
