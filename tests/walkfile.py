"""Convert net-snmp `snmpwalk` text with symbolic names (glpi-agent's *.walk files) to snmpsim format.

Names are resolved through pysnmp's bundled MIBs (the system group is all the shared walk holds);
DISMAN-EVENT-MIB's `sysUpTimeInstance` is the well-known alias of sysUpTime.0.
"""

from __future__ import annotations

import re
from pathlib import Path

from pysnmp.smi import builder, view

_LINE = re.compile(r"^(?P<name>[\w-]+::[\w.]+) = (?:(?P<type>[\w-]+): ?)?(?P<value>.*)$")
_TAGS = {"STRING": 4, "OID": 6, "INTEGER": 2, "Timeticks": 67, "Counter32": 65, "Gauge32": 66,
         "Hex-STRING": "4x", "IpAddress": 64}
_ALIASES = {"DISMAN-EVENT-MIB::sysUpTimeInstance": "1.3.6.1.2.1.1.3.0"}


def walk_to_snmprec(walk: Path, out: Path) -> int:
    mib_view = view.MibViewController(builder.MibBuilder())
    mib_view.mibBuilder.load_modules("SNMPv2-MIB")
    rows: list[tuple[tuple[int, ...], str]] = []
    for line in walk.read_text().splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        oid = _ALIASES.get(match["name"]) or _resolve(mib_view, match["name"])
        kind = match["type"] or "STRING"
        value = match["value"]
        if kind == "OID":
            value = _resolve(mib_view, value)
        elif kind == "Timeticks":
            value = re.match(r"\((\d+)\)", value).group(1)
        rows.append((tuple(int(x) for x in oid.split(".")), f"{oid}|{_TAGS[kind]}|{value}"))
    out.write_text("".join(row + "\n" for _key, row in sorted(rows)))
    return len(rows)


def _resolve(mib_view: view.MibViewController, name: str) -> str:
    module, _, symbol = name.partition("::")
    parts = symbol.split(".")
    oid, _label, _suffix = mib_view.get_node_name((parts[0],), module)
    return ".".join(str(x) for x in tuple(oid) + tuple(int(p) for p in parts[1:]))
