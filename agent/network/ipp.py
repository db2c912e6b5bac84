"""Identity and supply levels over IPP (Get-Printer-Attributes), for printers whose SNMP is off.

Uses pyipp (asyncio, maintained) for the protocol; this module only maps attributes:

- identity: ``printer-device-id`` (IEEE 1284: MFG, MDL, SN/SERN), else ``printer-make-and-model``;
  ``printer-uuid`` is kept as a last-resort serial-like key (``urn:uuid:...``) only when no serial is given;
- supplies: ``printer-supply`` (PWG 5100.13) when present, else the CUPS ``marker-*`` attributes, mapped
  by `agent.printer.ipp_supplies` (shared with IPP-USB) and given meaning by `agent.printer.supplies`.
"""

from __future__ import annotations

from typing import Any

from pyipp import IPP
from pyipp.enums import IppOperation
from pyipp.exceptions import IPPError
from pyipp.parser import parse_ieee1284_device_id

from agent.network.devices import Found
from agent.printer.ipp_supplies import marker_row, printer_supply_row
from agent.printer.profile import select_profile
from agent.printer.supplies import NO_QUIRKS, SupplyQuirks, build_supply
from fleetmeter_contract.reading import Identity, Supply

ATTRIBUTES = [
    "printer-device-id", "printer-make-and-model", "printer-name", "printer-uuid", "printer-info",
    "printer-firmware-string-version", "printer-supply", "printer-supply-description",
    "marker-names", "marker-types", "marker-levels", "marker-high-levels", "marker-colors",
]

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
    identity = ipp_identity(attributes)
    profile = select_profile(None, " ".join(x for x in (identity.manufacturer, identity.model) if x))
    return Found(address, port, "ipp", is_printer=True, identity=identity,
                 printer_evidence="IPP", supplies=ipp_supplies(attributes, profile.supply_quirks))


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


def ipp_supplies(attributes: dict[str, Any], quirks: SupplyQuirks = NO_QUIRKS) -> list[Supply]:
    supplies = _listed(attributes.get("printer-supply"))
    if supplies:
        descriptions = _listed(attributes.get("printer-supply-description"))
        return [build_supply(printer_supply_row(number, raw, _nth(descriptions, number)), quirks)
                for number, raw in enumerate(supplies, 1)]
    names = _listed(attributes.get("marker-names"))
    types, levels = _listed(attributes.get("marker-types")), _listed(attributes.get("marker-levels"))
    colors = _listed(attributes.get("marker-colors"))
    return [build_supply(marker_row(number, name, _nth(types, number), _nth(levels, number), _nth(colors, number)),
                         quirks)
            for number, name in enumerate(names, 1)]


def _nth(values: list, number: int) -> Any:
    return values[number - 1] if number <= len(values) else None


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
