"""A pyusb backend double: USB printers at the lowest layer (usb.backend.IBackend), so that pyusb's
own core, descriptor walking, claiming and transfers run unchanged above it.

It emulates device/configuration/interface/endpoint descriptors, string descriptors, the printer
class GET_DEVICE_ID request, kernel-driver binding (usblp: claim fails with EBUSY until detached),
and responders on the bulk endpoints: PJL status readback and IPP-USB (HTTP + IPP). Silence is real:
a bulk read with nothing to say sleeps its timeout and raises a timeout, as libusb does.
"""

from __future__ import annotations

import array
import errno
import re
import struct
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import usb.backend
import usb.core

PRINTER, BULK = 7, 2


@dataclass
class Endpoint:
    address: int
    attributes: int = BULK
    max_packet: int = 512


@dataclass
class Interface:
    number: int
    alt: int = 0
    cls: int = PRINTER
    subclass: int = 1
    protocol: int = 2
    endpoints: tuple[Endpoint, ...] = (Endpoint(0x01), Endpoint(0x81))


class PjlResponder:
    """Answers ``@PJL INFO <category>`` lines with blocks; "?" for categories it does not know."""

    def __init__(self, answers: dict[str, str], echo: bool = False, silent: bool = False,
                 chunk: int = 64, unsolicited: str = "") -> None:
        self.answers, self.echo, self.silent, self.chunk = answers, echo, silent, chunk
        self.unsolicited = unsolicited
        self.received = bytearray()
        self.consumed = 0  # bytes of `received` already answered (queries may arrive in pieces)

    def feed(self, data: bytes) -> bytes:
        self.received += data
        if self.silent:
            return b""
        out = self.unsolicited.encode("latin-1") if self.consumed == 0 else b""
        text = self.received[self.consumed:].decode("latin-1")
        complete = text.rfind("\n") + 1
        self.consumed += complete
        for category in re.findall(r"@PJL INFO (\w+)\r?\n", text[:complete]):
            if self.echo:
                out += f"@PJL INFO {category}\r\n".encode()
            body = self.answers.get(category, '"?"')
            out += f"@PJL INFO {category}\r\n{body}\r\n\f".encode("latin-1")
        return out


def ipp_attribute(tag: int, name: str, values: list) -> bytes:
    out = b""
    for number, value in enumerate(values):
        raw = struct.pack(">i", value) if isinstance(value, int) else (
            value if isinstance(value, bytes) else value.encode("utf-8"))
        label = name.encode() if number == 0 else b""
        out += struct.pack(">BH", tag, len(label)) + label + struct.pack(">H", len(raw)) + raw
    return out


class IppResponder:
    """HTTP/1.1 + IPP on the bulk endpoints: answers Get-Printer-Attributes with ``attributes``
    (name -> (value tag, values)), chunked like real IPP-USB printers."""

    def __init__(self, attributes: dict[str, tuple[int, list]], silent: bool = False) -> None:
        self.attributes, self.silent = attributes, silent
        self.received = bytearray()
        self.operations: list[int] = []

    def feed(self, data: bytes) -> bytes:
        self.received += data
        head, sep, body = bytes(self.received).partition(b"\r\n\r\n")
        length = re.search(rb"Content-Length: (\d+)", head)
        if self.silent or not sep or not length or len(body) < int(length.group(1)):
            return b""
        self.received.clear()
        version, operation, request_id = struct.unpack(">HHI", body[:8])
        self.operations.append(operation)
        message = struct.pack(">HHI", 0x0200, 0x0000, request_id) + b"\x01"
        message += ipp_attribute(0x47, "attributes-charset", ["utf-8"])
        message += ipp_attribute(0x48, "attributes-natural-language", ["en"]) + b"\x04"
        for name, (tag, values) in self.attributes.items():
            message += ipp_attribute(tag, name, values)
        message += b"\x03"
        half = len(message) // 2
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (message[:half], message[half:]))
        return (b"HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nTransfer-Encoding: chunked\r\n\r\n"
                + chunks + b"0\r\n\r\n")


@dataclass
class FakeDevice:
    """One USB device: descriptors, strings, Device ID answer, kernel drivers and bulk responders."""

    vendor_id: int
    product_id: int
    bus: int
    ports: tuple[int, ...]
    interfaces: tuple[Interface, ...]
    strings: dict[int, str] = field(default_factory=dict)  # 1 manufacturer, 2 product, 3 serial
    device_id: bytes | None = None  # the raw answer, length prefix and all; None = the request stalls
    responders: dict[int, object] = field(default_factory=dict)  # interface number -> responder
    kernel_driver: set[int] = field(default_factory=set)  # interfaces a kernel driver (usblp) holds
    fail_reattach: bool = False
    busy: set[int] = field(default_factory=set)  # interfaces another process has claimed through usbfs
    stall_above: int | None = None  # GET_DEVICE_ID stalls when wLength exceeds this (some firmware)
    open_error: bool = False  # Windows usbprint: libusb lists the device but cannot open it
    address: int = 0
    events: list[tuple] = field(default_factory=list)
    claimed: set[int] = field(default_factory=set)
    pending: dict[int, bytearray] = field(default_factory=dict)

    def setting(self, logical: int, alt_index: int) -> Interface:
        numbers = sorted({i.number for i in self.interfaces})
        settings = [i for i in self.interfaces if i.number == numbers[logical]]
        if alt_index >= len(settings):
            raise IndexError("no such alternate setting")
        return settings[alt_index]


def usb_error(message: str, code: int, number: int) -> usb.core.USBError:
    return usb.core.USBError(message, code, number)


class FakeBackend(usb.backend.IBackend):
    def __init__(self, devices: list[FakeDevice]) -> None:
        self.devices = devices
        self.opened = 0
        for number, device in enumerate(devices, start=2):
            device.address = device.address or number

    def enumerate_devices(self):
        return iter(self.devices)

    def get_parent(self, dev):
        return None

    def get_device_descriptor(self, dev: FakeDevice):
        return SimpleNamespace(
            bLength=18, bDescriptorType=1, bcdUSB=0x0200, bDeviceClass=0, bDeviceSubClass=0, bDeviceProtocol=0,
            bMaxPacketSize0=64, idVendor=dev.vendor_id, idProduct=dev.product_id, bcdDevice=0x0100,
            iManufacturer=1 if 1 in dev.strings else 0, iProduct=2 if 2 in dev.strings else 0,
            iSerialNumber=3 if 3 in dev.strings else 0, bNumConfigurations=1, address=dev.address, bus=dev.bus,
            port_number=dev.ports[-1] if dev.ports else None, port_numbers=dev.ports, speed=3)

    def get_configuration_descriptor(self, dev: FakeDevice, config: int):
        if config != 0:
            raise IndexError("one configuration")
        return SimpleNamespace(bLength=9, bDescriptorType=2, wTotalLength=64,
                               bNumInterfaces=len({i.number for i in dev.interfaces}), bConfigurationValue=1,
                               iConfiguration=0, bmAttributes=0xC0, bMaxPower=1, extra_descriptors=[])

    def get_interface_descriptor(self, dev: FakeDevice, intf: int, alt: int, config: int):
        setting = dev.setting(intf, alt)
        return SimpleNamespace(bLength=9, bDescriptorType=4, bInterfaceNumber=setting.number,
                               bAlternateSetting=setting.alt, bNumEndpoints=len(setting.endpoints),
                               bInterfaceClass=setting.cls, bInterfaceSubClass=setting.subclass,
                               bInterfaceProtocol=setting.protocol, iInterface=0, extra_descriptors=[])

    def get_endpoint_descriptor(self, dev: FakeDevice, ep: int, intf: int, alt: int, config: int):
        endpoint = dev.setting(intf, alt).endpoints[ep]
        return SimpleNamespace(bLength=7, bDescriptorType=5, bEndpointAddress=endpoint.address,
                               bmAttributes=endpoint.attributes, wMaxPacketSize=endpoint.max_packet, bInterval=0,
                               bRefresh=0, bSynchAddress=0, extra_descriptors=[])

    def open_device(self, dev: FakeDevice):
        if dev.open_error:
            raise usb_error("Operation not supported or unimplemented on this platform", -12, errno.ENOSYS)
        self.opened += 1
        dev.events.append(("open",))
        return dev

    def close_device(self, handle: FakeDevice) -> None:
        self.opened -= 1
        handle.events.append(("close",))

    def get_configuration(self, handle: FakeDevice) -> int:
        return 1

    def set_configuration(self, handle: FakeDevice, value: int) -> None:
        handle.events.append(("set_configuration", value))

    def set_interface_altsetting(self, handle: FakeDevice, intf: int, alt: int) -> None:
        handle.events.append(("set_altsetting", intf, alt))

    def claim_interface(self, handle: FakeDevice, intf: int) -> None:
        if intf in handle.kernel_driver or intf in handle.busy:
            raise usb_error("Resource busy", -6, errno.EBUSY)
        handle.claimed.add(intf)
        handle.events.append(("claim", intf))

    def release_interface(self, handle: FakeDevice, intf: int) -> None:
        handle.claimed.discard(intf)
        handle.events.append(("release", intf))

    def is_kernel_driver_active(self, handle: FakeDevice, intf: int) -> bool:
        return intf in handle.kernel_driver

    def detach_kernel_driver(self, handle: FakeDevice, intf: int) -> None:
        handle.kernel_driver.discard(intf)
        handle.events.append(("detach", intf))

    def attach_kernel_driver(self, handle: FakeDevice, intf: int) -> None:
        if handle.fail_reattach:
            raise usb_error("No such device (it may have been disconnected)", -4, errno.ENODEV)
        if intf in handle.claimed:
            raise usb_error("Resource busy", -6, errno.EBUSY)
        handle.kernel_driver.add(intf)
        handle.events.append(("attach", intf))

    def ctrl_transfer(self, handle: FakeDevice, bmRequestType, bRequest, wValue, wIndex, data, timeout):
        if bmRequestType == 0x80 and bRequest == 6 and wValue >> 8 == 3:  # GET_DESCRIPTOR(STRING)
            index = wValue & 0xFF
            payload = b"\x09\x04" if index == 0 else handle.strings[index].encode("utf-16-le")
            return self._fill(data, bytes([len(payload) + 2, 3]) + payload)
        if bmRequestType == 0xA1 and bRequest == 0:  # printer class GET_DEVICE_ID
            interface = wIndex >> 8
            handle.events.append(("get_device_id", wValue, interface, wIndex & 0xFF, len(data)))
            if interface in handle.kernel_driver:
                raise usb_error("Resource busy", -6, errno.EBUSY)  # usbfs claims the interface itself
            if handle.device_id is None or (handle.stall_above is not None and len(data) > handle.stall_above):
                raise usb_error("Pipe error", -9, errno.EPIPE)
            return self._fill(data, handle.device_id)
        raise usb_error("Pipe error", -9, errno.EPIPE)

    @staticmethod
    def _fill(data: array.array, payload: bytes) -> int:
        count = min(len(data), len(payload))
        data[:count] = array.array("B", payload[:count])
        return count

    def bulk_write(self, handle: FakeDevice, ep, intf, data, timeout) -> int:
        if intf not in handle.claimed:
            raise usb_error("Access denied (insufficient permissions)", -3, errno.EACCES)
        responder = handle.responders.get(intf)
        payload = bytes(data)
        handle.events.append(("write", intf, len(payload)))
        if responder is not None:
            handle.pending.setdefault(intf, bytearray()).extend(responder.feed(payload))
        return len(payload)

    def bulk_read(self, handle: FakeDevice, ep, intf, buff, timeout) -> int:
        if intf not in handle.claimed:
            raise usb_error("Access denied (insufficient permissions)", -3, errno.EACCES)
        pending = handle.pending.get(intf)
        if not pending:
            time.sleep(timeout / 1000)
            raise usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT)
        chunk = getattr(handle.responders.get(intf), "chunk", 512)
        count = min(len(buff), len(pending), chunk)
        buff[:count] = array.array("B", bytes(pending[:count]))
        del pending[:count]
        return count


def framed(device_id: str, encoding: str = "ascii", order: str = "big", extra: int = 0) -> bytes:
    """A GET_DEVICE_ID answer: 2-byte length (counting itself, plus ``extra``) then the ID."""
    body = device_id.encode(encoding)
    return (len(body) + 2 + extra).to_bytes(2, order) + body
