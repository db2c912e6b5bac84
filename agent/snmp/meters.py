"""Counter candidates read over SNMP: Printer-MIB marker counts, the PWG Imaging System Counter MIB and
declared meters (a vendor profile's ``[counters]``, the user's ``meters.toml``). Which one wins is decided in
`agent.printer.counters` (the one place of counter precedence), not here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from agent.printer.counters import Candidate
from agent.printer.profile import MeterSpec, Source
from agent.snmp import oids
from agent.snmp.values import Raw, Warnings, as_count, as_text
from fleetmeter_contract.reading import CounterSource, Marker

PAGE_UNITS = ("impressions", "sheets", None)

# PWG 5106.3: which counter of which service feeds which meter. Rows are read for work type
# workTotals(3) and persistence lifetime(3): <column>.<icKeyIndex>.3.3
_PWG_SUFFIX = ".3.3"
PWG_SERVICE_METERS: dict[int, tuple[tuple[str, str], ...]] = {
    3: (("total", oids.IC_IMPRESSION_TOTAL), ("mono", oids.IC_IMPRESSION_MONOCHROME),
        ("color", oids.IC_IMPRESSION_FULL_COLOR), ("duplex", oids.IC_TWO_SIDED_TOTAL)),  # systemTotals
    11: (("print_mono", oids.IC_IMPRESSION_MONOCHROME), ("print_color", oids.IC_IMPRESSION_FULL_COLOR)),
    4: (("copy_mono", oids.IC_IMPRESSION_MONOCHROME), ("copy_color", oids.IC_IMPRESSION_FULL_COLOR)),
    12: (("scan", oids.IC_IMAGE_TOTAL),),  # scan: images scanned
    7: (("fax", oids.IC_IMPRESSION_TOTAL),),  # faxIn: received faxes printed
}


def standard_candidates(markers: Iterable[Marker]) -> list[Candidate]:
    for marker in markers:
        if marker.life_count is not None and marker.counter_unit in PAGE_UNITS:
            oid = f"{oids.PRT_MARKER_LIFE_COUNT}.{marker.device_index}.{marker.index}"
            return [Candidate("total", marker.life_count, CounterSource(oid=oid, origin="rfc3805", unit=marker.counter_unit))]
    return []


def pwg_oids(service_types: Mapping[str, Raw]) -> list[str]:
    """The PWG counter cells to GET for the services a device lists in icKeyTable (none if absent)."""
    wanted = []
    for key, service in _pwg_services(service_types):
        wanted += [f"{column}.{key}{_PWG_SUFFIX}" for _meter, column in PWG_SERVICE_METERS[service]]
    return wanted


def pwg_candidates(service_types: Mapping[str, Raw], cells: Mapping[str, Raw],
                   warnings: Warnings) -> list[Candidate]:
    candidates = []
    for key, service in _pwg_services(service_types):
        for meter, column in PWG_SERVICE_METERS[service]:
            oid = f"{column}.{key}{_PWG_SUFFIX}"
            value = _count(cells.get(oid), oid, warnings)
            if value is not None:
                unit = "images" if column == oids.IC_IMAGE_TOTAL else "impressions"
                candidates.append(Candidate(meter, value, CounterSource(oid=oid, origin="pwg-imaging", unit=unit)))
    return candidates


def key_columns(specs: Iterable[MeterSpec]) -> list[str]:
    """Type columns of the counter tables these meters pick rows from (walked before the GETs)."""
    return list(dict.fromkeys(spec.keyed.key_column for spec in specs if spec.keyed))


def keyed_oids(specs: Iterable[MeterSpec], tables: Mapping[str, Mapping[str, Raw]]) -> list[str]:
    """The value cells of the counter-table rows the meters pick by type."""
    return [oid for spec in specs if spec.keyed for oid in _keyed_cells(spec, tables)]


def meter_candidates(specs: Iterable[MeterSpec], cells: Mapping[str, Raw], origin: str,
                     warnings: Warnings, tables: Mapping[str, Mapping[str, Raw]] | None = None) -> list[Candidate]:
    """Candidates from declared meters (a vendor profile's ``[counters]`` or the user's configuration).

    `tables` holds the walked key columns of counter tables (for meters that pick rows by type)."""
    candidates = []
    for spec in specs:
        if spec.keyed:
            found = [(oid, _count(cells.get(oid), oid, warnings)) for oid in _keyed_cells(spec, tables or {})]
            found = [(oid, value) for oid, value in found if value is not None]
            if found:
                candidates.append(Candidate(spec.meter, sum(v for _oid, v in found),
                                            CounterSource(oid="+".join(o for o, _v in found), origin=origin, unit=spec.unit)))
            continue
        if spec.total_of:
            parts = [_source_value(s, cells, warnings) for s in spec.sources]
            if all(p is not None for p in parts):
                oid = "+".join(s.oid or "" for s in spec.sources)
                candidates.append(Candidate(spec.meter, sum(parts), CounterSource(oid=oid, origin=origin, unit=spec.unit)))
            elif any(p is not None for p in parts):
                missing = [s.oid for s, p in zip(spec.sources, parts) if p is None]
                warnings.add(f"counter {spec.meter}", f"{origin} sum incomplete ({', '.join(missing)} "
                                                      "did not answer); not used")
            continue
        for source in spec.sources:
            value = _source_value(source, cells, warnings)
            if value is not None:
                candidates.append(Candidate(spec.meter, value, CounterSource(oid=source.oid or "", origin=origin, unit=spec.unit)))
                break
    return candidates


def _keyed_cells(spec: MeterSpec, tables: Mapping[str, Mapping[str, Raw]]) -> list[str]:
    keyed = spec.keyed
    assert keyed is not None
    rows = tables.get(keyed.key_column, {})
    return [f"{keyed.value_column}.{row}" for row, kind in rows.items() if isinstance(kind, int)
            and kind in keyed.match]


def _pwg_services(service_types: Mapping[str, Raw]) -> list[tuple[str, int]]:
    """(icKeyIndex, service type) for the services we read, first of each type only."""
    seen: dict[int, str] = {}
    for key, raw in sorted(service_types.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0):
        service = raw if isinstance(raw, int) else None
        if key.isdigit() and service in PWG_SERVICE_METERS and service not in seen:
            seen[service] = key
    return [(key, service) for service, key in seen.items()]


def _source_value(source: Source, cells: Mapping[str, Raw], warnings: Warnings) -> int | None:
    raw = cells.get(source.oid or "")
    if source.pattern is None:
        return _count(raw, source.oid or "", warnings)
    text = source.extract(as_text(raw, source.oid or "", warnings))
    return _count(text.replace(",", "") if text else None, source.oid or "", warnings)


def _count(raw: Raw, where: str, warnings: Warnings) -> int | None:
    return as_count(raw, f"counter {where}", warnings)
