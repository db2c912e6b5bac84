"""Vendor profiles: vendor knowledge as data (one TOML file per vendor in agent/snmp/profiles/).

A profile says which devices it covers (sysObjectID enterprise numbers, sysDescr patterns), the
manufacturer name (and OEM brands sold on the same engine), and where identity facts live. A *source*
is a string ``"<OID or standard name> [~ <regex>]"``: the value at that OID (or of the standard object
``sysDescr``, ``sysName``, ``hrDeviceDescr``, ``prtGeneralSerialNumber``), optionally cut down to the
regex's first group. Sources are tried in order; the first that yields a value wins. The reader never
names a vendor: everything vendor-specific comes from here. See agent/snmp/profiles/README.md.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from agent.snmp.oids import ALIASES

PROFILE_DIR = Path(__file__).with_name("profiles")
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
    # [discovery]: sysObjectID prefixes and sysDescr patterns that identify a printer by themselves
    # (devices that answer SNMP but do not implement the Printer-MIB, or whose vendor also makes
    # switches and servers under the same enterprise number)
    printer_object_ids: tuple[str, ...] = ()
    printer_sys_descr: tuple[re.Pattern[str], ...] = ()

    def vendor_oids(self) -> list[str]:
        """Numeric OIDs this profile needs read by GET."""
        oids = [s.oid for sources in self.identity.values() for s in sources if s.oid]
        return list(dict.fromkeys(oids))

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
    if target in ALIASES:
        return Source(text, None, target, pattern)
    if re.fullmatch(r"\.?\d+(\.\d+)+", target):
        return Source(text, target.lstrip("."), None, pattern)
    raise ProfileError(f"{where}: {target!r} is neither a numeric OID nor one of {', '.join(ALIASES)}")


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
            printer_object_ids=tuple(o.lstrip(".") for o in data.get("discovery", {}).get("printer_object_ids", ())),
            printer_sys_descr=tuple(re.compile(p, re.I)
                                    for p in data.get("discovery", {}).get("printer_sys_descr", ())),
        )
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
