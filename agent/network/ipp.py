"""Identity and supply levels over IPP (Get-Printer-Attributes), for printers whose SNMP is off.

Uses pyipp (asyncio, maintained) for the protocol; this module only maps attributes:

- identity: ``printer-device-id`` (IEEE 1284: MFG, MDL, SN/SERN), else ``printer-make-and-model``;
  ``printer-uuid`` is kept as a last-resort serial-like key (``urn:uuid:...``) only when no serial is given;
- supplies: ``printer-supply`` (PWG 5100.13: ``type=toner;maxcapacity=100;level=40;colorantname=black``)
  when present, else the CUPS/RFC 3995 ``marker-*`` attributes. IPP uses the same level conventions as
  the Printer-MIB (-1 other, -2 unknown, -3 some remaining) and the same supply type names (kebab-case),
  so both go through `agent.snmp.supplies.build_supply`, the one place of supply semantics.
"""

from __future__ import annotations

import re
from typing import Any

from pyipp import IPP
from pyipp.enums import IppOperation
from pyipp.exceptions import IPPError
from pyipp.parser import parse_ieee1284_device_id

from agent.network.devices import Found
from fleetmeter_contract.reading import Identity, Supply
from agent.snmp.supplies import RFC_TYPE_NAMES, RawSupply, build_supply

ATTRIBUTES = [
    "printer-device-id", "printer-make-and-model", "printer-name", "printer-uuid", "printer-info",
    "printer-firmware-string-version", "printer-supply", "printer-supply-description",
    "marker-names", "marker-types", "marker-levels", "marker-high-levels", "marker-colors",
]
# IPP supply keywords are the Printer-MIB type names in kebab-case ("waste-toner" = wasteToner)
_TYPE_CODES = {re.sub(r"(?<!^)([A-Z])", r"-\1", name).lower(): code for code, name in RFC_TYPE_NAMES.items()}
_CLASS_CODES = {"supplythatisconsumed": 3, "receptaclethatisfilled": 4, "other": 1}
_UNIT_CODES = {"percent": 19, "sheets": 8, "impressions": 7, "items": 18}
_COLORS = {"#000000": "black", "#00ffff": "cyan", "#ff00ff": "magenta", "#ffff00": "yellow"}


class IppUnavailable(Exception):
    """The address does not speak IPP at that port and path."""


async def read_ipp(address: str, port: int = 631, path: str = "/ipp/print", tls: bool = False,
                   timeout: float = 5.0) -> Found:
    async with IPP(host=address, port=port, base_path=path, tls=tls, request_timeout=int(max(1, timeout)),
                   verify_ssl=False) as ipp:
        try:
            response = await ipp.execute(IppOperation.GET_PRINTER_ATTRIBUTES,
                                         {"operation-attributes-tag": {"requested-attributes": ATTRIBUTES}})
        except (IPPError, OSError) as exc:
            raise IppUnavailable(f"no IPP answer from {address}:{port}{path}: {exc}") from None
    attributes = next(iter(response.get("printers") or []), {})
    return Found(address, port, "ipp", is_printer=True, identity=ipp_identity(attributes),
                 printer_evidence="IPP", supplies=ipp_supplies(attributes))


def ipp_identity(attributes: dict[str, Any]) -> Identity:
    device_id = parse_ieee1284_device_id(_text(attributes.get("printer-device-id")) or "")
    make_model = _text(attributes.get("printer-make-and-model"))
    manufacturer = device_id.get("MFG") or device_id.get("MANUFACTURER")
    model = device_id.get("MDL") or device_id.get("MODEL")
    if make_model and not model:
        model = make_model
    if manufacturer and model and model.lower().startswith(manufacturer.lower() + " "):
        model = model[len(manufacturer) + 1:]
    serial = device_id.get("SN") or device_id.get("SERN") or device_id.get("SERIALNUMBER")
    return Identity(serial=serial or None, manufacturer=manufacturer or None, model=model or None,
                    sys_name=_text(attributes.get("printer-name")),
                    firmware=_text(attributes.get("printer-firmware-string-version")))


def ipp_supplies(attributes: dict[str, Any]) -> list[Supply]:
    supplies = _listed(attributes.get("printer-supply"))
    if supplies:
        descriptions = _listed(attributes.get("printer-supply-description"))
        return [build_supply(_from_printer_supply(i, _text(raw) or "", descriptions))
                for i, raw in enumerate(supplies, 1)]
    names = _listed(attributes.get("marker-names"))
    types, levels = _listed(attributes.get("marker-types")), _listed(attributes.get("marker-levels"))
    colors = _listed(attributes.get("marker-colors"))
    result = []
    for i, name in enumerate(names):
        kind = str(types[i]) if i < len(types) else "unknown"
        result.append(build_supply(RawSupply(
            device_index=1, index=i + 1, description=_text(name), part_number=None, serial=None,
            type_code=_TYPE_CODES.get(kind, 1), class_code=4 if kind.startswith("waste") else 3, unit_code=19,
            max_capacity=100, level=int(levels[i]) if i < len(levels) else -2,
            colorant=_COLORS.get(str(colors[i]).lower()) if i < len(colors) else None)))
    return result


def _from_printer_supply(index: int, raw: str, descriptions: list) -> RawSupply:
    fields = dict(part.split("=", 1) for part in raw.split(";") if "=" in part)

    def number(key: str) -> int | None:
        value = fields.get(key, "")
        return int(value) if re.fullmatch(r"-?\d+", value) else None

    description = _text(descriptions[index - 1]) if index <= len(descriptions) else None
    return RawSupply(
        device_index=1, index=number("index") or index, description=description, part_number=None, serial=None,
        type_code=_TYPE_CODES.get(fields.get("type", "").lower(), 1),
        class_code=_CLASS_CODES.get(fields.get("class", "").lower()),
        unit_code=_UNIT_CODES.get(fields.get("unit", "").lower()),
        max_capacity=number("maxcapacity"), level=number("level"),
        colorant=fields.get("colorantname") or None)


def _listed(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None:
        return None
    text = str(value).strip()
    return text or None
