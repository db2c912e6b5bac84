"""Human-readable rendering of a reading for the terminal."""

from __future__ import annotations

from fleetmeter_contract.reading import DeviceReading

BAR_WIDTH = 20


def bar(percent: float | None) -> str:
    if percent is None:
        return "[" + "?" * BAR_WIDTH + "]"
    filled = round(percent / 100 * BAR_WIDTH)
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"


def render_reading(reading: DeviceReading) -> str:
    ident = reading.identity
    lines = [
        f"{reading.address}:{reading.port}  "
        f"{' '.join(x for x in (ident.manufacturer, ident.model) if x) or 'unknown device'}"
        f"{'' if reading.is_printer else '  (not a printer)'}",
        f"  serial {ident.serial or '-'}   MAC {ident.mac or '-'}   firmware {ident.firmware or '-'}",
    ]
    if ident.sys_descr:
        lines.append(f"  sysDescr {ident.sys_descr}")
    if ident.location or ident.sys_name:
        lines.append(f"  name {ident.sys_name or '-'}   location {ident.location or '-'}")
    status = reading.status
    if status.device or status.printer or status.errors:
        lines.append(f"  status {status.device or '-'} / {status.printer or '-'}"
                     f"{'   errors: ' + ', '.join(status.errors) if status.errors else ''}")
    meters = {name: value for name, value in reading.counters.items() if value is not None}
    if meters:
        lines.append("  meters")
        for name, value in meters.items():
            source = reading.counter_sources.get(name)
            lines.append(f"    {name:<12} {value:>12,}   {source.origin if source else ''}")
    if reading.supplies:
        lines.append("  supplies")
        for s in reading.supplies:
            amount = f"{s.percent:5.1f}%" if s.percent is not None else s.state.replace("_", " ")
            if s.class_ == "receptacle" and s.percent is not None:
                amount += " full"
            lines.append(f"    {bar(s.percent)} {amount:<14} {s.type:<15} {s.color or '':<8} "
                         f"{s.description or ''}")
    if reading.trays:
        lines.append("  trays")
        for t in reading.trays:
            level = "-" if t.level is None else {-3: "some", -2: "unknown", -1: "other"}.get(t.level, str(t.level))
            capacity = "-" if t.max_capacity is None else str(t.max_capacity)
            lines.append(f"    {t.name or f'tray {t.index}':<20} {level:>7} / {capacity:<6} {t.media or ''}")
    if reading.alerts:
        lines.append("  alerts")
        for a in reading.alerts:
            lines.append(f"    {a.severity or '-':<9} {a.code or '-':<28} {a.description or ''}")
    for warning in reading.warnings:
        lines.append(f"  warning: {warning}")
    st = reading.stats
    lines.append(f"  ({st.pdus} requests, {st.bytes:,} bytes, {st.elapsed_ms} ms)")
    return "\n".join(lines)
