"""What a discovery finds, and the one place that decides when two findings are the same device.

Rule: findings are one device when they share a serial number, else a MAC address, else an address
(one address answering on two ports, or over SNMP and IPP). Two findings with *different* serials are
never merged, whatever else they share (a print server with two printers behind it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from fleetmeter_contract.reading import Identity, Supply

IDENTITY_KEYS = ("serial", "manufacturer", "model", "sys_descr", "sys_object_id", "mac")
SOURCE_RANK = {"snmp": 0, "ipp": 1, "mdns": 2, "arp": 3}  # which finding speaks for a merged device


@dataclass
class Found:
    address: str
    port: int
    source: str  # "snmp", "ipp", "mdns" or "arp"
    is_printer: bool = False
    credential: str | None = None  # Credentials.describe() of the set that answered: never the secret
    identity: Identity = field(default_factory=Identity)
    printer_evidence: str | None = None  # why it counts as a printer: "Printer-MIB", "hrDeviceType", ...
    supplies: list[Supply] = field(default_factory=list)  # read over IPP when SNMP is off
    names: list[str] = field(default_factory=list)  # mDNS service instance names
    seen_at: list[str] = field(default_factory=list)  # "source address:port" of every merged finding

    def to_json(self) -> dict[str, Any]:
        identity = self.identity.model_dump()
        doc: dict[str, Any] = {
            "address": self.address, "port": self.port, "is_printer": self.is_printer,
            "credential": self.credential, "source": self.source,
            "identity": {k: identity[k] for k in IDENTITY_KEYS},
            "printer_evidence": self.printer_evidence,
            "seen_at": self.seen_at,
        }
        if self.names:
            doc["names"] = self.names
        if self.supplies:
            doc["supplies"] = [s.to_json() for s in self.supplies]
        return doc


def normalise_serial(serial: str) -> str:
    return "".join(serial.split()).upper()


def merge_findings(findings: list[Found]) -> list[Found]:
    """Group findings into devices (see module doc) and return one `Found` per device."""
    groups: list[list[Found]] = []
    for finding in findings:
        matches = [g for g in groups if any(_same_device(finding, other) for other in g)]
        merged = [finding]
        for group in matches:
            merged.extend(group)
            groups.remove(group)
        if any(_different_serials(a, b) for a in merged for b in merged):
            # joining would mix two serials: keep the finding on its own
            groups.extend(matches)
            merged = [finding]
        groups.append(merged)
    return [_combine(group) for group in groups]


def _same_device(a: Found, b: Found) -> bool:
    if _different_serials(a, b):
        return False
    if a.identity.serial and b.identity.serial:
        return True
    if a.identity.mac and b.identity.mac:
        return a.identity.mac.lower() == b.identity.mac.lower()
    return a.address == b.address


def _different_serials(a: Found, b: Found) -> bool:
    return bool(a.identity.serial and b.identity.serial
                and normalise_serial(a.identity.serial) != normalise_serial(b.identity.serial))


def _combine(group: list[Found]) -> Found:
    ordered = sorted(group, key=lambda f: (not f.is_printer, SOURCE_RANK.get(f.source, 9),
                                           -sum(v is not None for v in f.identity.model_dump().values())))
    best = dataclasses.replace(ordered[0], identity=ordered[0].identity.model_copy(),
                               names=list(ordered[0].names), supplies=list(ordered[0].supplies))
    for other in ordered[1:]:
        for name, value in other.identity.model_dump().items():
            if getattr(best.identity, name) is None and value is not None:
                setattr(best.identity, name, value)
        best.is_printer = best.is_printer or other.is_printer
        best.printer_evidence = best.printer_evidence or other.printer_evidence
        best.credential = best.credential or other.credential
        best.supplies = best.supplies or other.supplies
        best.names += [n for n in other.names if n not in best.names]
    best.seen_at = sorted({f"{f.source} {f.address}:{f.port}" for f in group})
    return best
