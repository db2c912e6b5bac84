"""USB printers attached to the agent's machine: identity (IEEE 1284 Device ID, USB serial), meters
and supplies (PJL, IPP-USB), as `fleetmeter.device/1` readings with ``transport: "usb"``.

The scheduler's entry point is `inspect_usb`; `fleetmeter-agent usb list|poll` are the commands.
"""

from __future__ import annotations

import usb.backend

from fleetmeter_contract.reading import DeviceReading
from agent.usb.backend import NoUsbBackend, default_backend
from agent.usb.devices import UsbPrinter, find_printers
from agent.usb.reader import UsbOptions, read_printer

__all__ = ["NoUsbBackend", "UsbOptions", "UsbPrinter", "find_printers", "inspect_usb", "read_printer"]


def inspect_usb(options: UsbOptions = UsbOptions(), backend: usb.backend.IBackend | None = None) -> list[DeviceReading]:
    """Read every USB printer attached to this machine; one reading per device, in bus/port order.

    Blocking (run it in a worker thread from asyncio code). Each printer costs at most about
    2 x ``options.budget_s`` when it never answers. A printer being printed to is not disturbed (its
    reading says so in ``warnings``). Raises `NoUsbBackend` when no libusb can be loaded; returns []
    when no printer is attached.
    """
    printers = find_printers(backend or default_backend(), options.sysfs)
    return [read_printer(printer, options) for printer in printers]
