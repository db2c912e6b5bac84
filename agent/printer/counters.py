"""Counter precedence: the one place that decides which page meter wins, for every transport.

Every source offers *candidates* (meter name, value, where it was read, origin). For each meter the
candidate of the highest-ranked origin wins:

1. ``config`` — a meter the user configured for this site (numeric OID or MIB symbol in the agent's
   ``meters.toml``): an explicit choice, e.g. the counter a contract bills on;
2. ``rfc3805`` — Printer-MIB prtMarkerLifeCount of the printer's first marker whose counter unit is
   impressions or sheets (``total`` only);
3. ``pwg-imaging`` — the PWG Imaging System Counter MIB (PWG 5106.3, 1.3.6.1.4.1.2699.1.3), read
   wherever a device implements it: lifetime work totals per service (system, print, copy, scan, fax);
4. ``vendor:<profile>`` — the vendor profile's private-MIB meter (agent/printer/profiles/<profile>.toml);
5. ``pjl`` — a USB printer's engine page count (``@PJL INFO PAGECOUNT``);
6. ``ipp`` — ``printer-impressions-completed`` over IPP (IPP-USB): a job counter, kept only when
   nothing better answered.

A higher-ranked counter is never silently replaced: when a lower-ranked source also has a value for the
same meter and it differs, the reading carries a warning naming both sources and values, so a bill
can be explained. Meters outside the standard twelve (e.g. Zebra's printed length) are kept under
their own names after the standard ones. The transports (agent/snmp/meters.py, agent/usb/mapping.py)
only gather candidates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fleetmeter_contract.reading import COUNTER_NAMES, MAX_COUNT, CounterSource

PRECEDENCE = ("config", "rfc3805", "pwg-imaging", "vendor", "pjl", "ipp")


@dataclass(frozen=True)
class Candidate:
    meter: str
    value: int
    source: CounterSource


def rank(origin: str) -> int:
    return PRECEDENCE.index(origin.split(":", 1)[0])


def choose(candidates: Iterable[Candidate], warnings: list[str]) -> tuple[dict, dict]:
    """One value per meter: the highest-ranked origin wins; differing lower-ranked values are warned.
    A value outside the reading's bounds (0..MAX_COUNT) is no candidate: warned, never sent."""
    counters: dict[str, int | None] = dict.fromkeys(COUNTER_NAMES)
    sources: dict[str, CounterSource] = {}
    for candidate in sorted(candidates, key=lambda c: rank(c.source.origin)):
        if not 0 <= candidate.value <= MAX_COUNT:
            warnings.append(f"counter {candidate.meter}: {candidate.source.origin} {candidate.source.oid} = "
                            f"{candidate.value} is outside 0..{MAX_COUNT}; not used")
            continue
        if candidate.meter not in sources:
            counters[candidate.meter] = candidate.value
            sources[candidate.meter] = candidate.source
        elif counters[candidate.meter] != candidate.value:
            kept = sources[candidate.meter]
            warnings.append(
                f"counter {candidate.meter}: {kept.origin} {kept.oid} = {counters[candidate.meter]} kept; "
                f"{candidate.source.origin} {candidate.source.oid} = {candidate.value} differs")
    return counters, sources
