"""Which libusb the agent uses: the system's libusb-1.0, else the one shipped in the `libusb-package`
wheel (so a fresh Windows machine needs nothing installed besides the agent)."""

from __future__ import annotations

import usb.backend
import usb.backend.libusb1


class NoUsbBackend(RuntimeError):
    """No libusb could be loaded."""


def default_backend() -> usb.backend.IBackend:
    backend = usb.backend.libusb1.get_backend()
    if backend is not None:
        return backend
    try:
        import libusb_package
    except ImportError:
        libusb_package = None
    if libusb_package is not None:
        backend = libusb_package.get_libusb1_backend()
        if backend is not None:
            return backend
    raise NoUsbBackend("no libusb-1.0 found; install it (Debian: apt install libusb-1.0-0) "
                       "or reinstall the agent with its libusb-package dependency")
