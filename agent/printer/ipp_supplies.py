"""IPP supply attributes as Printer-MIB supply rows: the one mapping for IPP over the network and IPP-USB.

IPP carries supplies two ways, both with the Printer-MIB's level conventions (-1 other, -2 unknown,
-3 some remaining):

- ``printer-supply`` (PWG 5100.13): each value is the RFC 3805 row as ``key=value;`` pairs, with the
  MIB's enumeration names as values (``type=tonerCartridge;class=supplyThatIsConsumed;unit=percent``);
  ``printer-supply-description`` holds the matching descriptions;
- ``marker-names`` / ``marker-types`` / ``marker-levels`` / ``marker-colors`` (CUPS, RFC 3995 era):
  levels in percent, types as keywords (``toner``, ``waste-toner``, ``toner-cartridge``).

Printers write the enumeration names in camelCase, kebab-case or lower case; all of them are matched
by their letters alone (``tonerCartridge`` = ``toner-cartridge`` = ``tonercartridge``), so the type
comes from the code, not from a keyword in the description. Everything here only fills `RawSupply`
rows: what they mean is decided in `agent.printer.supplies`.
"""

from __future__ import annotations

import re

from agent.printer.supplies import RFC_TYPE_NAMES, SUPPLY_UNITS, RawSupply

PERCENT_UNIT = 19  # prtMarkerSuppliesSupplyUnit "percent"


def _letters(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_TYPE_CODES = {_letters(name): code for code, name in RFC_TYPE_NAMES.items()}
_UNIT_CODES = {_letters(name): code for code, name in SUPPLY_UNITS.items()}
_CLASS_CODES = {"other": 1, "supplythatisconsumed": 3, "receptaclethatisfilled": 4}
_HEX_COLORS = {"#000000": "black", "#00ffff": "cyan", "#ff00ff": "magenta", "#ffff00": "yellow",
               "#808080": "gray", "#ff0000": "red", "#0000ff": "blue", "#00ff00": "green", "#ffffff": "white"}


def type_code(keyword: str | None) -> int | None:
    """prtMarkerSuppliesType code of an IPP supply type keyword in any spelling (None if unknown)."""
    return _TYPE_CODES.get(_letters(keyword)) if keyword else None


def parse_supply_value(value: str | bytes) -> dict[str, str]:
    """A printer-supply value (the RFC 3805 row as ``key=value;`` pairs), keys lower-cased."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    pairs = (item.partition("=") for item in text.split(";"))
    return {k.strip().lower(): v.strip() for k, sep, v in pairs if sep and k.strip()}


def printer_supply_row(number: int, value: str | bytes, description: object) -> RawSupply:
    """The `number`-th printer-supply value (1-based) with its printer-supply-description."""
    row = parse_supply_value(value)
    return RawSupply(
        device_index=1, index=_int(row.get("index")) or number, description=_text(description),
        type_code=type_code(row.get("type")),
        class_code=_CLASS_CODES.get(_letters(row.get("class", ""))),
        unit_code=_UNIT_CODES.get(_letters(row.get("unit", ""))),
        max_capacity=_int(row.get("maxcapacity")), level=_int(row.get("level")),
        colorant=row.get("colorantname") or None)


def marker_row(number: int, name: object, kind: object, level: object, color: object) -> RawSupply:
    """The `number`-th marker-* entry (1-based): levels are percentages."""
    return RawSupply(
        device_index=1, index=number, description=_text(name),
        type_code=type_code(kind) if isinstance(kind, str) else None,
        unit_code=PERCENT_UNIT, max_capacity=100,
        level=level if isinstance(level, int) and not isinstance(level, bool) else _int(_text(level)),
        colorant=color_name(color))


def color_name(value: object) -> str | None:
    """marker-colors value ("#00FFFF", "#00FFFF#FF00FF#FFFF00", "none") as a colour word."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    codes = re.findall(r"#[0-9a-fA-F]{6}", value)
    if len(codes) > 1:
        return "tri-color"
    return _HEX_COLORS.get(codes[0].lower()) if codes else None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    return str(value).strip() or None


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and re.fullmatch(r"-?\d+", text) else None
