"""Finding USB printers: every device with a printer-class interface (bInterfaceClass 7), with pyusb.

A device can carry several printer interfaces (a 7/1/2 bidirectional one for PJL and a 7/1/4 IPP-USB
one, or several alternate settings of one interface); they belong to one `UsbPrinter`. Nothing here
sends a request to the printer beyond the standard descriptor reads pyusb does for string indexes.
"""

from __future__ import annotations

from dataclasses import dataclass

from pathlib import Path

import usb.backend
import usb.core
import usb.util

from agent.usb.linux import SYSFS_USB, sysfs_attribute

PRINTER_CLASS = 7
# bInterfaceProtocol of the printer class
UNIDIRECTIONAL, BIDIRECTIONAL, IEEE1284_4, IPP_USB = 1, 2, 3, 4
PROTOCOL_NAMES = {UNIDIRECTIONAL: "unidirectional", BIDIRECTIONAL: "bidirectional",
                  IEEE1284_4: "1284.4", IPP_USB: "ipp-usb"}


@dataclass(frozen=True)
class PrinterInterface:
    """One alternate setting of one printer-class interface, with its bulk endpoints."""

    config_index: int  # logical index of the configuration (GET_DEVICE_ID's wValue)
    config_value: int
    number: int  # bInterfaceNumber
    alt: int  # bAlternateSetting
    protocol: int
    ep_out: int | None
    ep_in: int | None
    in_packet_size: int = 512  # wMaxPacketSize of the bulk IN endpoint

    @property
    def protocol_name(self) -> str:
        return PROTOCOL_NAMES.get(self.protocol, f"protocol {self.protocol}")


@dataclass
class UsbPrinter:
    """A USB device with at least one printer interface. ``device`` is the pyusb device."""

    device: usb.core.Device
    bus: int | None
    ports: tuple[int, ...]
    vendor_id: int
    product_id: int
    interfaces: tuple[PrinterInterface, ...]
    serial: str | None = None  # iSerialNumber string
    manufacturer: str | None = None  # iManufacturer string
    product: str | None = None  # iProduct string

    @property
    def path(self) -> str:
        """A stable address: bus and the hub port chain ("usb:1-1.4"), as Linux names it in sysfs."""
        if self.bus is None:
            return f"usb:{self.vendor_id:04x}:{self.product_id:04x}:{self.serial or '?'}"
        if not self.ports:
            return f"usb:{self.bus}-0:{getattr(self.device, 'address', 0)}"
        return f"usb:{self.bus}-{'.'.join(str(p) for p in self.ports)}"

    @property
    def sysfs_name(self) -> str | None:
        """The device's name under /sys/bus/usb/devices ("1-1.4")."""
        if self.bus is None or not self.ports:
            return None
        return f"{self.bus}-{'.'.join(str(p) for p in self.ports)}"

    def speaking(self, protocol: int) -> tuple[PrinterInterface, ...]:
        """The interfaces of ``protocol`` that have both bulk endpoints, in interface order."""
        return tuple(i for i in self.interfaces
                     if i.protocol == protocol and i.ep_in is not None and i.ep_out is not None)

    def preferred(self, protocol: int) -> PrinterInterface | None:
        found = self.speaking(protocol)
        return found[0] if found else None

    @property
    def id_interface(self) -> PrinterInterface:
        """The interface to ask for the Device ID: a classic printer interface before IPP-USB."""
        return min(self.interfaces, key=lambda i: (i.protocol == IPP_USB, i.number, i.alt))


def find_printers(backend: usb.backend.IBackend, sysfs: Path = SYSFS_USB) -> list[UsbPrinter]:
    """Every attached device with a printer-class interface, in bus/port order.

    USB strings come from the device, else (Linux, agent not allowed to open the device) from sysfs."""
    printers = []
    for device in usb.core.find(find_all=True, backend=backend):
        interfaces = printer_interfaces(device)
        if not interfaces:
            continue
        printer = UsbPrinter(device=device, bus=device.bus, ports=tuple(device.port_numbers or ()),
                             vendor_id=device.idVendor, product_id=device.idProduct, interfaces=interfaces)
        for attribute, index in (("serial", device.iSerialNumber), ("manufacturer", device.iManufacturer),
                                 ("product", device.iProduct)):
            setattr(printer, attribute, _string(device, index)
                    or (sysfs_attribute(printer.sysfs_name, attribute, sysfs) if index else None))
        printers.append(printer)
    return sorted(printers, key=lambda p: (p.bus or 0, p.ports))


def printer_interfaces(device: usb.core.Device) -> tuple[PrinterInterface, ...]:
    found = []
    try:
        for config in device:
            for intf in config:
                if intf.bInterfaceClass != PRINTER_CLASS:
                    continue
                ep_out = usb.util.find_descriptor(intf, custom_match=_bulk(usb.util.ENDPOINT_OUT))
                ep_in = usb.util.find_descriptor(intf, custom_match=_bulk(usb.util.ENDPOINT_IN))
                found.append(PrinterInterface(
                    config_index=config.index, config_value=config.bConfigurationValue,
                    number=intf.bInterfaceNumber, alt=intf.bAlternateSetting, protocol=intf.bInterfaceProtocol,
                    ep_out=ep_out.bEndpointAddress if ep_out is not None else None,
                    ep_in=ep_in.bEndpointAddress if ep_in is not None else None,
                    in_packet_size=(ep_in.wMaxPacketSize & 0x7FF) or 512 if ep_in is not None else 512))
    except (usb.core.USBError, NotImplementedError, ValueError):
        pass  # descriptors we cannot read: keep what we found
    return tuple(found)


def _bulk(direction: int):
    def match(endpoint) -> bool:
        return (usb.util.endpoint_type(endpoint.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK
                and usb.util.endpoint_direction(endpoint.bEndpointAddress) == direction)
    return match


def _string(device: usb.core.Device, index: int) -> str | None:
    """A string descriptor, or None when the device has none or will not say (permissions, usbprint)."""
    if not index:
        return None
    try:
        value = usb.util.get_string(device, index)
    except (usb.core.USBError, ValueError, NotImplementedError, UnicodeDecodeError):
        return None
    value = (value or "").replace("\x00", "").strip()
    return value or None
