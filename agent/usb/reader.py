"""One USB printer -> one `fleetmeter.device/1` reading (transport "usb").

What is read, in order, each step optional and bounded:
1. USB strings (iSerialNumber, iManufacturer, iProduct, read by `find_printers`) - the serial is the
   device's identity key, the 1284 SN its fallback;
2. the IEEE 1284 Device ID: when the usblp driver holds the printer, the copy it keeps in sysfs or
   through its /dev/usb/lpN node (ioctl); else by the GET_DEVICE_ID class request (detaching a kernel driver only for the moment of
   the conversation and always re-attaching it); on Windows, through usbprint.sys when libusb cannot
   open the device;
3. PJL status readback on a bidirectional (7/1/2) interface - through the usblp node when there is one,
   else on the bulk endpoints - only when the Device ID's command set lists PJL (anything else could
   print the query as text);
4. IPP-USB Get-Printer-Attributes on a 7/1/4 interface.

Precedence (decided here only): supplies from IPP-USB (typed, with classes) outrank PJL's percentages;
the PJL page count (engine counter) outranks IPP's printer-impressions-completed; status from PJL
INFO STATUS outranks printer-state. A printer whose usblp node is open elsewhere (a job is printing),
or whose interface another program has claimed, is left alone: its reading carries the USB strings
and a warning.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import usb.core

from agent.reading import CounterSource, DeviceReading, Status, Supply
from agent.snmp.profile import Profile, select_profile
from agent.snmp.supplies import RFC_TYPE_NAMES, SUPPLY_UNITS, RawSupply, build_supply
from agent.usb import ipp, linux, pjl, windows
from agent.usb.device_id import DeviceId, frame, parse_device_id, unframe
from agent.usb.devices import BIDIRECTIONAL, IPP_USB, PrinterInterface, UsbPrinter
from agent.usb.session import (InterfaceUnavailable, LpChannel, Traffic, claimed, explain, read_device_id,
                               release)

PERCENT_UNIT = 19  # prtMarkerSuppliesSupplyUnit "percent"
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
_IPP_TYPES = {re.sub(r"([A-Z])", r"-\1", name).lower(): code for code, name in RFC_TYPE_NAMES.items()}
_IPP_UNITS = {re.sub(r"_(\w)", lambda m: m.group(1).upper(), name): code for code, name in SUPPLY_UNITS.items()}
_IPP_CLASSES = {"supplythatisconsumed": 3, "receptaclethatisfilled": 4, "other": 1}
_HEX_COLORS = {"#000000": "black", "#00ffff": "cyan", "#ff00ff": "magenta", "#ffff00": "yellow",
               "#808080": "gray", "#ff0000": "red", "#0000ff": "blue", "#00ff00": "green", "#ffffff": "white"}


@dataclass(frozen=True)
class UsbOptions:
    budget_s: float = 3.0  # per conversation (PJL, IPP-USB): the most a silent printer can cost
    allow_detach: bool = True  # detach a kernel driver (usblp) for the moment of a request
    pjl: bool = True
    ipp: bool = True
    sysfs: Path = linux.SYSFS_USB
    dev: Path = linux.DEV_USB


def read_printer(printer: UsbPrinter, options: UsbOptions = UsbOptions()) -> DeviceReading:
    started = time.monotonic()
    id_interface = printer.id_interface
    reading = DeviceReading(address=printer.path, port=id_interface.number, transport="usb", is_printer=True)
    traffic = Traffic()
    serial, usb_manufacturer, usb_product = printer.serial, printer.manufacturer, printer.product
    try:
        conversation = _converse(printer, options, traffic, reading)
    finally:
        release(printer)  # close the handle: a print queue must find the device free
    device_id = conversation.device_id
    profile = select_profile(None, _descr(device_id, usb_manufacturer, usb_product))
    _identity(reading, profile, device_id, serial, usb_manufacturer, usb_product)
    if conversation.pjl_answers is not None:
        _apply_pjl(reading, conversation.pjl_answers)
    if conversation.ipp_attributes is not None:
        _apply_ipp(reading, conversation.ipp_attributes, profile)
    if reading.identity.serial is None:
        reading.warnings.append("no serial number (neither USB iSerialNumber nor 1284 SN); "
                                "this printer is identified by its USB port only")
    reading.warnings.extend(traffic.warnings)
    reading.stats.pdus = traffic.transfers
    reading.stats.bytes = traffic.bytes
    reading.stats.elapsed_ms = int((time.monotonic() - started) * 1000)
    return reading


@dataclass
class Conversation:
    device_id: DeviceId | None = None
    pjl_answers: pjl.PjlAnswers | None = None
    ipp_attributes: dict[str, list[ipp.Value]] | None = None


def _converse(printer: UsbPrinter, options: UsbOptions, traffic: Traffic, reading: DeviceReading) -> Conversation:
    result = Conversation()
    id_interface = printer.id_interface
    pjl_interface = printer.preferred(BIDIRECTIONAL) if options.pjl else None
    ipp_interfaces = printer.speaking(IPP_USB) if options.ipp else ()
    node = linux.lp_node(printer.sysfs_name, id_interface.config_value, id_interface.number,
                         options.sysfs, options.dev)
    cached = linux.sysfs_device_id(printer.sysfs_name, id_interface.config_value, id_interface.number,
                                   options.sysfs)
    raw_id, pjl_tried = frame(cached) if cached else None, False
    if node is not None:
        try:
            raw_id, pjl_tried = _through_usblp(node, raw_id, printer, pjl_interface, options, traffic, result,
                                               reading)
        except linux.PrinterBusy as exc:
            reading.warnings.append(f"{node} is {exc.strerror}; not disturbed this time")
            result.device_id = _parse(raw_id)
            return result
        except OSError as exc:
            reading.warnings.append(f"{node}: {exc.strerror or exc}")
    if raw_id is None and (problem := _cannot_open(printer)):
        raw_id = windows.read_device_id(printer.vendor_id, printer.product_id, printer.serial)
        reading.warnings.append(f"{printer.path}: libusb cannot open this device: {problem}"
                                + ("; Device ID read through usbprint.sys" if raw_id else ""))
        result.device_id = _parse(raw_id)
        return result

    def on_id_interface(channel) -> None:
        nonlocal raw_id
        if raw_id is None:
            raw_id = read_device_id(printer.device, id_interface, traffic, min(2.0, options.budget_s))
        if pjl_interface == id_interface and not pjl_tried and _speaks_pjl(_parse(raw_id)):
            result.pjl_answers = pjl.ask(channel, _pjl_categories(_parse(raw_id)), options.budget_s)

    if raw_id is None or (pjl_interface == id_interface and not pjl_tried):
        _with_interface(printer, id_interface, options, reading, traffic, on_id_interface)
    result.device_id = _parse(raw_id)
    if result.device_id is None:
        reading.warnings.append(f"no IEEE 1284 Device ID from interface {id_interface.number}")
    if pjl_interface not in (None, id_interface) and not pjl_tried and _speaks_pjl(result.device_id):
        result.pjl_answers = _with_interface(printer, pjl_interface, options, reading, traffic, lambda channel: pjl.ask(
            channel, _pjl_categories(result.device_id), options.budget_s))
    if result.pjl_answers is not None and not result.pjl_answers.blocks:
        reading.warnings.append(f"no PJL answer within {options.budget_s:g} s")
    if ipp_interfaces:
        result.ipp_attributes = _ipp_on_a_free_interface(printer, ipp_interfaces, options, reading, traffic)
    return result


def _through_usblp(node: Path, raw_id: bytes | None, printer: UsbPrinter, pjl_interface: PrinterInterface | None,
                   options: UsbOptions, traffic: Traffic, result: Conversation,
                   reading: DeviceReading) -> tuple[bytes | None, bool]:
    """usblp holds the printer: the Device ID (if not cached) and PJL through its node, the driver left
    bound. Returns the raw ID and whether PJL was tried (a failed try is not repeated by unbinding the
    driver: a printer that refuses data on its node refuses it on the bulk endpoint too).
    Raises PrinterBusy, or OSError when the node cannot be opened."""
    with linux.open_lp(node) as fd:
        raw_id = raw_id or linux.device_id_ioctl(fd)
        if pjl_interface is None or pjl_interface.number != printer.id_interface.number \
                or not _speaks_pjl(_parse(raw_id)):
            return raw_id, False
        try:
            result.pjl_answers = pjl.ask(LpChannel(fd, traffic), _pjl_categories(_parse(raw_id)), options.budget_s)
        except OSError as exc:
            reading.warnings.append(f"{node}: PJL not accepted: {exc.strerror or exc}")
        return raw_id, True


def _with_interface(printer: UsbPrinter, interface: PrinterInterface, options: UsbOptions,
                    reading: DeviceReading, traffic: Traffic, work):
    """Run ``work(channel)`` with the interface claimed; USB trouble becomes a warning on the reading."""
    try:
        with claimed(printer, interface, traffic, options.allow_detach) as channel:
            return work(channel)
    except InterfaceUnavailable as exc:
        reading.warnings.append(f"{printer.path}: {exc}")
    except usb.core.USBError as exc:
        reading.warnings.append(f"{printer.path} interface {interface.number}: USB error: {explain(exc)}")
    return None


def _cannot_open(printer: UsbPrinter) -> str | None:
    """Why libusb cannot open the device (Windows: usbprint.sys owns it; Linux: permissions), or None."""
    try:
        printer.device.get_active_configuration()
    except usb.core.USBError as exc:
        return explain(exc)
    return None


def _ipp_on_a_free_interface(printer: UsbPrinter, interfaces: tuple[PrinterInterface, ...], options: UsbOptions,
                             reading: DeviceReading, traffic: Traffic) -> dict[str, list[ipp.Value]] | None:
    """IPP-USB printers offer several 7/1/4 interfaces (one HTTP connection each); the ipp-usb daemon
    or CUPS may hold some. The first free one is used; a warning only when none is."""
    unavailable = None
    for interface in interfaces:
        try:
            with claimed(printer, interface, traffic, options.allow_detach) as channel:
                return _ask_ipp(channel, options, reading)
        except InterfaceUnavailable as exc:
            unavailable = exc
        except usb.core.USBError as exc:
            reading.warnings.append(f"{printer.path} interface {interface.number}: USB error: {explain(exc)}")
            return None
    reading.warnings.append(f"{printer.path}: IPP-USB: {unavailable}")
    return None


def _parse(raw: bytes | None) -> DeviceId | None:
    if not raw:
        return None
    device_id = parse_device_id(unframe(raw))
    return device_id if device_id.text else None


def _speaks_pjl(device_id: DeviceId | None) -> bool:
    return device_id is not None and device_id.speaks("PJL")


def _pjl_categories(device_id: DeviceId | None) -> tuple[str, ...]:
    return pjl.rules().categories_for(select_profile(None, _descr(device_id, None, None)).name)


def _ask_ipp(channel, options: UsbOptions, reading: DeviceReading) -> dict[str, list[ipp.Value]] | None:
    answer = ipp.exchange(channel, ipp.http_request(ipp.encode_get_printer_attributes()), options.budget_s)
    if answer.status != 200:
        reading.warnings.append(f"IPP-USB: no HTTP answer within {options.budget_s:g} s" if answer.status is None
                                else f"IPP-USB: HTTP {answer.status}")
        return None
    status, attributes = ipp.decode_attributes(answer.body)
    if status is None or status >= 0x0100:
        reading.warnings.append(f"IPP-USB: Get-Printer-Attributes failed (status {status!r})")
        return None
    return attributes


def _descr(device_id: DeviceId | None, manufacturer: str | None, product: str | None) -> str:
    """Text for profile matching: "<MFG> <MDL>" (profiles match sysDescr-like strings)."""
    if device_id is not None and (device_id.manufacturer or device_id.model):
        return " ".join(x for x in (device_id.manufacturer, device_id.model) if x)
    return " ".join(x for x in (manufacturer, product) if x)


def _identity(reading: DeviceReading, profile: Profile, device_id: DeviceId | None, serial: str | None,
              usb_manufacturer: str | None, usb_product: str | None) -> None:
    identity = reading.identity
    descr = _descr(device_id, usb_manufacturer, usb_product)
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


def _apply_pjl(reading: DeviceReading, answers: pjl.PjlAnswers) -> None:
    pagecount = pjl.parse_pagecount(answers.info("PAGECOUNT"))
    if pagecount is not None:
        reading.counters["total"] = pagecount
        reading.counter_sources["total"] = CounterSource(oid="@PJL INFO PAGECOUNT", origin="pjl")
    if reading.identity.model is None:
        reading.identity.model = pjl.parse_id(answers.info("ID"))
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
                                               unit_code=PERCENT_UNIT, max_capacity=100, level=s.percent))
                        for number, s in enumerate(found, start=1)]


def _apply_ipp(reading: DeviceReading, attributes: dict[str, list[ipp.Value]], profile: Profile) -> None:
    supplies = _ipp_supplies(attributes) or _ipp_markers(attributes)
    if supplies:
        reading.supplies = supplies
    impressions = _first_int(attributes.get("printer-impressions-completed"))
    if reading.counters["total"] is None and impressions is not None and impressions >= 0:
        reading.counters["total"] = impressions
        reading.counter_sources["total"] = CounterSource(oid="printer-impressions-completed", origin="ipp")
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
            reading.identity.serial = reading.identity.serial or parsed.serial
            reading.identity.manufacturer = reading.identity.manufacturer or parsed.manufacturer
            reading.identity.model = reading.identity.model or profile.clean_model(parsed.model)


def _ipp_supplies(attributes: dict[str, list[ipp.Value]]) -> list[Supply]:
    """printer-supply (PWG 5100.13): RFC 3805 rows as key=value strings, with their descriptions."""
    descriptions = attributes.get("printer-supply-description", [])
    supplies = []
    for number, value in enumerate(attributes.get("printer-supply", []), start=1):
        row = ipp.parse_supply_value(value)
        description = descriptions[number - 1] if number - 1 < len(descriptions) else None
        supplies.append(build_supply(RawSupply(
            device_index=1, index=_int(row.get("index")) or number,
            description=description if isinstance(description, str) and description else None,
            type_code=_IPP_TYPES.get(re.sub(r"([A-Z])", r"-", row.get("type", "")).lower()),
            class_code=_IPP_CLASSES.get(row.get("class", "").lower()),
            unit_code=_IPP_UNITS.get(row.get("unit", "")),
            max_capacity=_int(row.get("maxcapacity")), level=_int(row.get("level")),
            colorant=row.get("colorantname") or None)))
    return supplies


def _ipp_markers(attributes: dict[str, list[ipp.Value]]) -> list[Supply]:
    """marker-names/levels/types/colors (CUPS): levels are percentages, -1/-2/-3 as in RFC 3805."""
    names, levels = attributes.get("marker-names", []), attributes.get("marker-levels", [])
    types, colors = attributes.get("marker-types", []), attributes.get("marker-colors", [])
    supplies = []
    for number, name in enumerate(names, start=1):
        level = levels[number - 1] if number - 1 < len(levels) else None
        kind = types[number - 1] if number - 1 < len(types) else None
        color = colors[number - 1] if number - 1 < len(colors) else None
        supplies.append(build_supply(RawSupply(
            device_index=1, index=number, description=name if isinstance(name, str) and name else None,
            type_code=_IPP_TYPES.get(kind) if isinstance(kind, str) else None,
            unit_code=PERCENT_UNIT, max_capacity=100,
            level=level if isinstance(level, int) and not isinstance(level, bool) else None,
            colorant=_color_name(color))))
    return supplies


def _color_name(value: ipp.Value | None) -> str | None:
    """marker-colors value ("#00FFFF", "#00FFFF#FF00FF#FFFF00", "none") as a colour word."""
    if not isinstance(value, str):
        return None
    codes = re.findall(r"#[0-9a-fA-F]{6}", value)
    if len(codes) > 1:
        return "tri-color"
    return _HEX_COLORS.get(codes[0].lower()) if codes else None


def _first_int(values: list[ipp.Value] | None) -> int | None:
    if values and isinstance(values[0], int) and not isinstance(values[0], bool):
        return values[0]
    return None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
