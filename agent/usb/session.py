"""Talking to one printer interface through libusb: claim it (detaching a kernel driver only for the
duration, always giving it back), the GET_DEVICE_ID class request, and a bulk-endpoint `Channel`.

Every transfer is counted in `Traffic` so a reading can say what it cost.
"""

from __future__ import annotations

import array
import errno
import os
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import usb.core
import usb.util

from agent.usb.devices import PrinterInterface, UsbPrinter

GET_DEVICE_ID = 0
DEVICE_ID_REQUEST_TYPE = 0xA1  # device-to-host | class | interface
# wLength tried in turn: most devices want room for their whole ID (< 1 KiB), a few stall on more than 255
DEVICE_ID_BUFFERS = (1024, 255)


class InterfaceUnavailable(Exception):
    """The interface cannot be claimed (busy, no permission, driver we may not detach)."""


@dataclass
class Traffic:
    transfers: int = 0
    bytes: int = 0
    warnings: list[str] = field(default_factory=list)


class BulkChannel:
    """The printer interface's bulk OUT/IN endpoints as a `agent.usb.pjl.Channel`."""

    def __init__(self, device: usb.core.Device, interface: PrinterInterface, traffic: Traffic) -> None:
        self.device = device
        self.interface = interface
        self.traffic = traffic

    def write(self, data: bytes, timeout_s: float) -> None:
        self.traffic.transfers += 1
        self.traffic.bytes += self.device.write(self.interface.ep_out, data, timeout=_ms(timeout_s))

    def read(self, timeout_s: float) -> bytes:
        """One packet at most: a read that times out part-way loses what it got (libusb reports only the
        timeout), and a one-packet transfer cannot be part-way."""
        self.traffic.transfers += 1
        try:
            data = bytes(self.device.read(self.interface.ep_in, self.interface.in_packet_size,
                                          timeout=_ms(timeout_s)))
        except usb.core.USBTimeoutError:
            return b""
        except usb.core.USBError as exc:
            if exc.errno == errno.ETIMEDOUT:
                return b""
            raise
        self.traffic.bytes += len(data)
        return data


class LpChannel:
    """A usblp node (/dev/usb/lpN, opened non-blocking) as a `agent.usb.pjl.Channel`."""

    def __init__(self, fd: int, traffic: Traffic) -> None:
        self.fd = fd
        self.traffic = traffic

    def write(self, data: bytes, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = memoryview(data)
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(errno.ETIMEDOUT, f"printer accepted {len(data) - len(pending)} of {len(data)} "
                                                    f"bytes within {timeout_s:g} s")
            _, writable, _ = select.select([], [self.fd], [], remaining)
            if not writable:
                continue
            try:
                written = os.write(self.fd, pending)
            except BlockingIOError:
                time.sleep(0.01)  # usblp says writable but its buffer is still full
                continue
            self.traffic.bytes += written
            pending = pending[written:]
        self.traffic.transfers += 1

    def read(self, timeout_s: float) -> bytes:
        self.traffic.transfers += 1
        readable, _, _ = select.select([self.fd], [], [], max(0.0, timeout_s))
        if not readable:
            return b""
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            data = b""
        if not data:
            time.sleep(min(0.05, max(0.0, timeout_s)))  # readable but empty (zero-length packet): no spin
        self.traffic.bytes += len(data)
        return data


@contextmanager
def claimed(printer: UsbPrinter, interface: PrinterInterface, traffic: Traffic,
            allow_detach: bool = True) -> Iterator[BulkChannel]:
    """The interface claimed for this process. A kernel driver bound to it (usblp) is detached only
    when ``allow_detach``, and is re-attached before this returns, whatever happened inside."""
    device = printer.device
    detached = False
    try:
        if _kernel_driver_active(device, interface.number):
            if not allow_detach:
                raise InterfaceUnavailable(f"interface {interface.number} is held by a kernel driver")
            device.detach_kernel_driver(interface.number)
            detached = True
        try:
            usb.util.claim_interface(device, interface.number)
            if _alt_settings(device, interface) > 1:
                device.set_interface_altsetting(interface.number, interface.alt)
        except usb.core.USBError as exc:
            raise InterfaceUnavailable(f"cannot claim interface {interface.number}: {explain(exc)}") from None
        yield BulkChannel(device, interface, traffic)
    finally:
        try:
            usb.util.release_interface(device, interface.number)
        except usb.core.USBError:
            pass
        if detached:
            try:
                device.attach_kernel_driver(interface.number)
            except usb.core.USBError as exc:
                traffic.warnings.append(
                    f"could not give interface {interface.number} of {printer.path} back to its kernel driver "
                    f"({exc.strerror or exc}); unplug and replug the printer")


def read_device_id(device: usb.core.Device, interface: PrinterInterface, traffic: Traffic,
                   timeout_s: float = 2.0) -> bytes:
    """The raw GET_DEVICE_ID answer (length prefix included). The interface must be claimed.

    pyusb's ``Device.ctrl_transfer`` would claim interface ``wIndex & 0xff`` for an interface-recipient
    request, but the printer class puts the *alternate setting* there (wIndex = interface << 8 | alt),
    so the request goes straight to the backend on pyusb's open handle."""
    for size in DEVICE_ID_BUFFERS[:-1]:
        try:
            return _get_device_id(device, interface, traffic, size, timeout_s)
        except usb.core.USBError as exc:
            if exc.errno not in (errno.EPIPE, errno.EOVERFLOW, errno.EIO):
                raise
    return _get_device_id(device, interface, traffic, DEVICE_ID_BUFFERS[-1], timeout_s)


def _get_device_id(device: usb.core.Device, interface: PrinterInterface, traffic: Traffic, size: int,
                   timeout_s: float) -> bytes:
    context = device._ctx  # pyusb's resource manager: the open handle and its backend
    context.managed_open()
    buffer = array.array("B", bytes(size))
    traffic.transfers += 1
    answer = context.backend.ctrl_transfer(context.handle, DEVICE_ID_REQUEST_TYPE, GET_DEVICE_ID,
                                           interface.config_index, (interface.number << 8) | interface.alt,
                                           buffer, _ms(timeout_s))
    received = answer if isinstance(answer, int) else len(answer)
    traffic.bytes += received
    return buffer[:received].tobytes()


def release(printer: UsbPrinter) -> None:
    """Close pyusb's handle on the device (interfaces are already released by `claimed`)."""
    try:
        usb.util.dispose_resources(printer.device)
    except usb.core.USBError:
        pass  # unplugged meanwhile: nothing left to close


def explain(exc: usb.core.USBError) -> str:
    """A USB error as one line with what to try."""
    text = exc.strerror or str(exc)
    if exc.errno == errno.EBUSY:
        return f"{text} - in use by another program (CUPS, ipp-usb, a scanner driver); tried again next time"
    if exc.errno == errno.EACCES:
        return f"{text} - run the agent as root or give it the device with a udev rule (see README)"
    return text


def _kernel_driver_active(device: usb.core.Device, number: int) -> bool:
    try:
        return bool(device.is_kernel_driver_active(number))
    except (NotImplementedError, usb.core.USBError):
        return False  # Windows and macOS: no detachable kernel drivers through libusb


def _alt_settings(device: usb.core.Device, interface: PrinterInterface) -> int:
    config = device[interface.config_index]
    return sum(1 for i in config if i.bInterfaceNumber == interface.number)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
