"""Turning what a USB printer said (1284 Device ID, PJL answers, IPP attributes) into a reading.

Precedence (decided here only): the USB iSerialNumber is the identity key, the 1284 SN/SERN its
fallback (placeholders such as "000000000000" count as missing); supplies from IPP-USB (typed RFC 3805
rows, with classes) outrank PJL's percentages; the PJL page count (engine counter) outranks IPP's
printer-impressions-completed (counter precedence: `agent.printer.counters`, with origins ``pjl`` and
``ipp``); PJL INFO STATUS outranks printer-state. IPP supply rows come from `agent.printer.ipp_supplies`
(shared with IPP over the network); supply semantics stay in agent/printer/supplies.py.
"""

from __future__ import annotations

from agent.printer.counters import Candidate
from agent.printer.ipp_supplies import PERCENT_UNIT, marker_row, printer_supply_row
from agent.printer.profile import Profile
from agent.printer.supplies import DEFAULT_LOW_PERCENT, RawSupply, build_supply
from agent.usb import ipp, pjl
from agent.usb.device_id import DeviceId, parse_device_id
from fleetmeter_contract.reading import CounterSource, DeviceReading, Status, Supply

IPP_STATE = {3: "idle", 4: "printing", 5: "other"}  # printer-state -> hrPrinterStatus name
IPP_STATE_DEVICE = {3: "running", 4: "running", 5: "down"}
# printer-state-reasons keyword -> hrPrinterDetectedErrorState name
IPP_REASON_ERRORS = {
    "media-low": "lowPaper", "media-empty": "noPaper", "media-needed": "noPaper", "toner-low": "lowToner",
    "toner-empty": "noToner", "marker-supply-low": "lowToner", "marker-supply-empty": "noToner",
    "door-open": "doorOpen", "cover-open": "doorOpen", "media-jam": "jammed", "offline": "offline",
    "marker-supply-missing": "markerSupplyMissing", "output-area-almost-full": "outputNearFull",
    "output-area-full": "outputFull", "input-tray-missing": "inputTrayMissing",
    "output-tray-missing": "outputTrayMissing",
}

def profile_text(device_id: DeviceId | None, manufacturer: str | None, product: str | None) -> str:
    """Text for profile matching: "<MFG> <MDL>" (profiles match sysDescr-like strings)."""
    if device_id is not None and (device_id.manufacturer or device_id.model):
        return " ".join(x for x in (device_id.manufacturer, device_id.model) if x)
    return " ".join(x for x in (manufacturer, product) if x)


def apply_identity(reading: DeviceReading, profile: Profile, device_id: DeviceId | None, serial: str | None,
                   usb_manufacturer: str | None, usb_product: str | None) -> None:
    identity = reading.identity
    descr = profile_text(device_id, usb_manufacturer, usb_product)
    raw_manufacturer = (device_id.manufacturer if device_id else None) or usb_manufacturer
    raw_model = (device_id.model if device_id else None) or usb_product
    identity.serial = usable_serial(serial) or usable_serial(device_id.serial if device_id else None)
    identity.manufacturer = profile.manufacturer_for(descr) or raw_manufacturer
    identity.model = profile.clean_model(raw_model)
    identity.sys_descr = device_id.text if device_id else None
    reading.profile = profile.name if profile.manufacturer else None


def usable_serial(serial: str | None) -> str | None:
    """A serial number, or None for the placeholders some firmware sends ("000000000000", "0", "?")."""
    value = (serial or "").strip().strip("\x00")
    if len(value) < 3 or len(set(value.upper())) == 1 or value.upper() in ("0123456789", "1234567890", "UNKNOWN"):
        return None
    return value


def apply_pjl(reading: DeviceReading, answers: pjl.PjlAnswers, profile: Profile,
              low_percent: float = DEFAULT_LOW_PERCENT) -> list[Candidate]:
    """Identity, status and supplies from PJL answers; returns the counter candidates (origin ``pjl``)."""
    pagecount = pjl.parse_pagecount(answers.info("PAGECOUNT"))
    candidates = [] if pagecount is None else \
        [Candidate("total", pagecount, CounterSource(oid="@PJL INFO PAGECOUNT", origin="pjl"))]
    if reading.identity.model is None:
        reading.identity.model = profile.clean_model(pjl.parse_id(answers.info("ID")))
    unsolicited = answers.blocks.get("USTATUS DEVICE")  # left on by a driver; never switched on by us
    status = pjl.parse_status(answers.info("STATUS")) or pjl.parse_status(unsolicited)
    meaning = pjl.rules().status_meaning(status.code if status else None)
    if meaning is not None:
        reading.status = Status(device=meaning.device, printer=meaning.printer, errors=list(meaning.errors))
    elif status is not None and status.code is not None:
        reading.warnings.append(f"PJL status code {status.code} ({status.display or 'no display text'}) not known")
    found = [s for category in pjl.rules().supply_categories for s in pjl.parse_supplies(answers.info(category))]
    found = found or pjl.parse_supplies(unsolicited)
    reading.supplies = [build_supply(RawSupply(device_index=1, index=number, description=s.description,
                                               unit_code=PERCENT_UNIT, max_capacity=100, level=s.percent),
                                      profile.supply_quirks, low_percent)
                        for number, s in enumerate(found, start=1)]
    return candidates


def apply_ipp(reading: DeviceReading, attributes: dict[str, list[ipp.Value]], profile: Profile,
              low_percent: float = DEFAULT_LOW_PERCENT) -> list[Candidate]:
    """Supplies, firmware, status and identity gaps from IPP-USB; returns the counter candidates (``ipp``)."""
    supplies = _ipp_supplies(attributes, profile, low_percent) or _ipp_markers(attributes, profile, low_percent)
    if supplies:
        reading.supplies = supplies
    impressions = _first_int(attributes.get("printer-impressions-completed"))
    candidates = [] if impressions is None or impressions < 0 else \
        [Candidate("total", impressions, CounterSource(oid="printer-impressions-completed", origin="ipp"))]
    firmware = attributes.get("printer-firmware-string-version")
    if firmware and isinstance(firmware[0], str):
        reading.identity.firmware = firmware[0] or None
    state = _first_int(attributes.get("printer-state"))
    if reading.status.device is None and state in IPP_STATE:
        reasons = [str(r).rsplit("-", 1)[0] if str(r).endswith(("-error", "-warning", "-report")) else str(r)
                   for r in attributes.get("printer-state-reasons", ())]
        errors = list(dict.fromkeys(IPP_REASON_ERRORS[r] for r in reasons if r in IPP_REASON_ERRORS))
        reading.status = Status(device=IPP_STATE_DEVICE[state] if not errors or state == 5 else "warning",
                                printer=IPP_STATE[state], errors=errors)
    if reading.identity.sys_descr is None:
        device_id = attributes.get("printer-device-id")
        if device_id and isinstance(device_id[0], str) and device_id[0]:
            parsed = parse_device_id(device_id[0])
            reading.identity.sys_descr = parsed.text
            reading.identity.serial = reading.identity.serial or usable_serial(parsed.serial)
            reading.identity.manufacturer = reading.identity.manufacturer or parsed.manufacturer
            reading.identity.model = reading.identity.model or profile.clean_model(parsed.model)
    return candidates


def _ipp_supplies(attributes: dict[str, list[ipp.Value]], profile: Profile, low_percent: float) -> list[Supply]:
    descriptions = attributes.get("printer-supply-description", [])
    return [build_supply(printer_supply_row(number, value, _nth(descriptions, number)), profile.supply_quirks,
                         low_percent)
            for number, value in enumerate(attributes.get("printer-supply", []), start=1)]


def _ipp_markers(attributes: dict[str, list[ipp.Value]], profile: Profile, low_percent: float) -> list[Supply]:
    names, levels = attributes.get("marker-names", []), attributes.get("marker-levels", [])
    types, colors = attributes.get("marker-types", []), attributes.get("marker-colors", [])
    return [build_supply(marker_row(number, name, _nth(types, number), _nth(levels, number), _nth(colors, number)),
                         profile.supply_quirks, low_percent) for number, name in enumerate(names, start=1)]


def _nth(values: list, number: int) -> ipp.Value | None:
    return values[number - 1] if number <= len(values) else None


def _first_int(values: list[ipp.Value] | None) -> int | None:
    if values and isinstance(values[0], int) and not isinstance(values[0], bool):
        return values[0]
    return None
