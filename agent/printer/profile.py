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
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from agent.printer.supplies import LevelCode, SupplyQuirks

PROFILE_DIR = Path(__file__).with_name("profiles")
# standard objects a source may name instead of an OID (each transport reads them its own way)
STANDARD_OBJECTS = ("sysDescr", "sysName", "hrDeviceDescr", "prtGeneralSerialNumber")
IDENTITY_FIELDS = ("serial", "model", "firmware")
_ENTERPRISE = re.compile(r"^\.?1\.3\.6\.1\.4\.1\.(\d+)")


class ProfileError(ValueError):
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

    def identity_oids(self) -> list[str]:
        """Numeric OIDs of the identity sources (serial, model, firmware), read by GET."""
        return list(dict.fromkeys(s.oid for sources in self.identity.values() for s in sources if s.oid))

    def vendor_oids(self) -> list[str]:
        """Numeric OIDs this profile needs read by GET (identity and meters)."""
        return list(dict.fromkeys(self.identity_oids() + [oid for spec in self.counters for oid in spec.oids]))

    def names_a_printer(self, sys_object_id: str | None, sys_descr: str | None) -> bool:
        """True when the sysObjectID or sysDescr alone says "printer" for this vendor."""
        oid = (sys_object_id or "").lstrip(".")
        if oid and any(oid == p or oid.startswith(p + ".") for p in self.printer_object_ids):
            return True
        return bool(sys_descr) and any(p.search(sys_descr) for p in self.printer_sys_descr)

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


def parse_supply_quirks(table: dict, name: str, where: str) -> SupplyQuirks:
    try:
        codes = tuple(LevelCode(level=int(c["level"]), state=str(c["state"]),
                                percent=float(c["percent"]) if "percent" in c else None,
                                only_without_capacity=bool(c.get("only_without_capacity", False)),
                                receptacle=c.get("receptacle"))
                      for c in table.get("level_codes", ()))
        step = table.get("level_step")
        return SupplyQuirks(source=name, level_codes=codes,
                            receptacle_level_is_remaining=bool(table.get("receptacle_level_is_remaining", False)),
                            level_step=float(step) if step is not None else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"{where}: bad supply quirk: {exc!r}") from None


def load_profile(path: Path) -> Profile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: {exc}") from None
    where = path.name
    match = data.get("match", {})
    identity: dict[str, tuple[Source, ...]] = {}
    for name in IDENTITY_FIELDS:
        sources = data.get("identity", {}).get(name)
        if sources is None:
            identity[name] = GENERIC.identity[name]
        else:
            identity[name] = tuple(parse_source(s, f"{where} identity.{name}") for s in sources)
    try:
        return Profile(
            name=path.stem,
            manufacturer=data["manufacturer"],
            enterprises=tuple(int(e) for e in match.get("enterprises", ())),
            sys_descr=tuple(re.compile(p, re.I) for p in match.get("sys_descr", ())),
            brands=tuple(Brand(b["manufacturer"], re.compile(b["sys_descr"], re.I))
                         for b in data.get("brands", ())),
            model_prefixes=tuple(data.get("model_prefixes", ())),
            identity=identity,
            supply_description=re.compile(data["supplies"]["description"])
            if "description" in data.get("supplies", {}) else None,
            counters=parse_meters(data.get("counters", {}), f"{where} counters"),
            supply_quirks=parse_supply_quirks(data.get("supplies", {}), path.stem, f"{where} supplies"),
            printer_object_ids=tuple(o.lstrip(".")
                                     for o in data.get("discovery", {}).get("printer_object_ids", ())),
            printer_sys_descr=tuple(re.compile(p, re.I)
                                    for p in data.get("discovery", {}).get("printer_sys_descr", ())),
        )
    except ProfileError:
        raise
    except (KeyError, TypeError, ValueError, re.error) as exc:
        raise ProfileError(f"{where}: {exc!r}") from None


@lru_cache(maxsize=1)
def all_profiles() -> tuple[Profile, ...]:
    return tuple(load_profile(p) for p in sorted(PROFILE_DIR.glob("*.toml")))



def select_profile(sys_object_id: str | None, sys_descr: str | None) -> Profile:
    """The profile that best fits a device: a sysDescr match outranks an enterprise-number match
    (print servers and OEM engines often carry another vendor's sysObjectID)."""
    enterprise = None
    if sys_object_id:
        found = _ENTERPRISE.match(sys_object_id)
        enterprise = int(found.group(1)) if found else None
    best, best_score = GENERIC, 0
    for profile in all_profiles():
        score = 0
        if sys_descr and any(p.search(sys_descr) for p in profile.sys_descr):
            score += 2
        if enterprise is not None and enterprise in profile.enterprises:
            score += 1
        if score > best_score:
            best, best_score = profile, score
    return best
