"""One USB printer -> one `fleetmeter.device/1` reading (transport "usb").

What is read, in order, each step optional and bounded:
1. USB strings (iSerialNumber, iManufacturer, iProduct, read by `find_printers`) - the serial is the
   device's identity key, the 1284 SN its fallback;
2. the IEEE 1284 Device ID: when the usblp driver holds the printer, the copy it keeps in sysfs or
   through its /dev/usb/lpN node (ioctl); else by the GET_DEVICE_ID class request (detaching a kernel
   driver only for the moment of the conversation and always re-attaching it); on Windows, through
   usbprint.sys when libusb cannot open the device;
3. PJL status readback on a bidirectional (7/1/2) interface - through the usblp node when there is one,
   else on the bulk endpoints - only when the Device ID's command set lists PJL (anything else could
   print the query as text);
4. IPP-USB Get-Printer-Attributes on a 7/1/4 interface.

What wins when sources disagree is decided in agent/usb/mapping.py. A printer whose usblp node is open
elsewhere (a job is printing), or whose interface another program has claimed, is left alone: its
reading carries the USB strings (and sysfs Device ID) and a warning.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import usb.core

from agent.printer.counters import choose
from agent.printer.profile import select_profile
from agent.printer.supplies import DEFAULT_LOW_PERCENT
from agent.usb import ipp, linux, pjl, windows
from agent.usb.device_id import DeviceId, frame, parse_device_id, unframe
from agent.usb.devices import BIDIRECTIONAL, IPP_USB, PrinterInterface, UsbPrinter
from agent.usb.mapping import apply_identity, apply_ipp, apply_pjl, profile_text
from agent.usb.session import (InterfaceUnavailable, LpChannel, Traffic, claimed, explain, read_device_id,
                               release)
from fleetmeter_contract.reading import DeviceReading


@dataclass(frozen=True)
class UsbOptions:
    budget_s: float = 3.0  # per conversation (PJL, IPP-USB): the most a silent printer can cost
    allow_detach: bool = True  # detach a kernel driver (usblp) for the moment of a request
    pjl: bool = True
    ipp: bool = True
    supply_low_percent: float = DEFAULT_LOW_PERCENT  # thresholds.supply_low_percent (agent.printer.settings)
    sysfs: Path = linux.SYSFS_USB
    dev: Path = linux.DEV_USB


def read_printer(printer: UsbPrinter, options: UsbOptions = UsbOptions()) -> DeviceReading:
    started = time.monotonic()
    id_interface = printer.id_interface
    reading = DeviceReading(address=printer.path, port=id_interface.number, transport="usb", is_printer=True)
    traffic = Traffic()
    usb_manufacturer, usb_product = printer.manufacturer, printer.product
    try:
        conversation = _converse(printer, options, traffic, reading)
    finally:
        release(printer)  # close the handle: a print queue must find the device free
    device_id = conversation.device_id
    profile = select_profile(None, profile_text(device_id, usb_manufacturer, usb_product))
    apply_identity(reading, profile, device_id, printer.serial or conversation.serial, usb_manufacturer,
                   usb_product)
    candidates = []
    if conversation.pjl_answers is not None:
        candidates += apply_pjl(reading, conversation.pjl_answers, profile, options.supply_low_percent)
    if conversation.ipp_attributes is not None:
        candidates += apply_ipp(reading, conversation.ipp_attributes, profile, options.supply_low_percent)
    reading.counters, reading.counter_sources = choose(candidates, reading.warnings)
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
    serial: str | None = None  # from another source than the USB descriptor (Windows usbprint path)
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
        usbprint = windows.read_device_id(printer.vendor_id, printer.product_id, printer.serial)
        reading.warnings.append(f"{printer.path}: libusb cannot open this device: {problem}"
                                + ("; Device ID read through usbprint.sys" if usbprint else ""))
        if usbprint is not None:
            result.device_id, result.serial = _parse(usbprint.device_id), usbprint.serial
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
    return pjl.rules().categories_for(select_profile(None, profile_text(device_id, None, None)).name)


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
