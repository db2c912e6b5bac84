"""Counter precedence: the one place that decides which page meter wins.

Order, for each meter name (total, mono, color, ...), first available wins:

1. ``rfc3805`` — Printer-MIB prtMarkerLifeCount of the printer's first marker whose counter unit
   is impressions or sheets (only for ``total``). A standard counter is never silently replaced;
2. ``vendor:<profile>`` — the vendor profile's counter for that meter (private MIB);

When a lower-precedence source also has a value for the same meter and it differs, the reading
carries a warning naming both, so a bill can be explained.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agent.reading import COUNTER_NAMES, CounterSource, Marker
from agent.snmp import oids

PAGE_UNITS = ("impressions", "sheets", None)


@dataclass(frozen=True)
class Candidate:
    meter: str
    value: int
    source: CounterSource


def standard_candidates(markers: Iterable[Marker]) -> list[Candidate]:
    for marker in markers:
        if marker.life_count is not None and marker.counter_unit in PAGE_UNITS:
            oid = f"{oids.PRT_MARKER_LIFE_COUNT}.{marker.device_index}.{marker.index}"
            return [Candidate("total", marker.life_count, CounterSource(oid, "rfc3805", marker.counter_unit))]
    return []


def choose(candidates: Iterable[Candidate], warnings: list[str]) -> tuple[dict, dict]:
    """Pick one value per meter from candidates given in precedence order."""
    counters: dict[str, int | None] = dict.fromkeys(COUNTER_NAMES)
    sources: dict[str, CounterSource] = {}
    for candidate in candidates:
        if candidate.meter not in counters:
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
