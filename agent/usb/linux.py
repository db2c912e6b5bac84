"""Linux specifics: the usblp kernel driver and sysfs.

When usblp is bound to a printer interface, libusb cannot claim it. The agent then talks through the
driver: the Device ID it cached (sysfs ieee1284_id) or by ioctl LPIOC_GET_DEVICE_ID on its node
(/dev/usb/lpN), PJL by read/write on the node (see `agent.usb.session.LpChannel`), without unbinding it. usblp lets only one process open the
node, so a failed open with EBUSY means a print job (CUPS, a spooler) is using the printer right now:
the agent then leaves it alone.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SYSFS_USB = Path("/sys/bus/usb/devices")
DEV_USB = Path("/dev/usb")
DEVICE_ID_BUFFER = 1024

# LPIOC_GET_DEVICE_ID(len) = _IOC(_IOC_READ, 'P', 1, len), as defined in drivers/usb/class/usblp.c
_IOC_READ, _IOC_NRSHIFT, _IOC_TYPESHIFT, _IOC_SIZESHIFT, _IOC_DIRSHIFT = 2, 0, 8, 16, 30


def lpioc_get_device_id(length: int) -> int:
    return (_IOC_READ << _IOC_DIRSHIFT) | (ord("P") << _IOC_TYPESHIFT) | (1 << _IOC_NRSHIFT) | (length << _IOC_SIZESHIFT)


def lp_node(sysfs_name: str | None, config_value: int, interface: int,
            sysfs: Path = SYSFS_USB, dev: Path = DEV_USB) -> Path | None:
    """The /dev/usb/lpN node usblp created for this interface, if any ("1-1.4:1.0/usbmisc/lp0")."""
    if not sysfs_name:
        return None
    misc = sysfs / f"{sysfs_name}:{config_value}.{interface}" / "usbmisc"
    try:
        names = sorted(p.name for p in misc.iterdir() if p.name.startswith("lp"))
    except OSError:
        return None
    return dev / names[0] if names else None


def sysfs_device_id(sysfs_name: str | None, config_value: int, interface: int,
                    sysfs: Path = SYSFS_USB) -> bytes | None:
    """The Device ID usblp cached at probe time ("1-1.4:1.0/ieee1284_id"), without its length prefix.

    World-readable and costs the printer nothing, so it works while a job is printing."""
    if not sysfs_name:
        return None
    try:
        value = (sysfs / f"{sysfs_name}:{config_value}.{interface}" / "ieee1284_id").read_bytes()
    except OSError:
        return None
    return value.rstrip(b"\n") or None


def sysfs_attribute(sysfs_name: str | None, attribute: str, sysfs: Path = SYSFS_USB) -> str | None:
    """A device attribute from sysfs ("serial", "manufacturer", "product"): readable without root."""
    if not sysfs_name:
        return None
    try:
        value = (sysfs / sysfs_name / attribute).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    return value or None


class PrinterBusy(OSError):
    """The usblp node is open elsewhere: a job is printing."""


@contextmanager
def open_lp(node: Path) -> Iterator[int]:
    """The usblp node, opened non-blocking for this process alone (usblp allows one opener at a time,
    so a spooler trying to print meanwhile gets EBUSY and retries). Raises PrinterBusy when another
    process holds it, OSError when it cannot be opened."""
    try:
        fd = os.open(node, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            raise PrinterBusy(errno.EBUSY, "open by another program (printing?)", str(node)) from None
        raise
    try:
        yield fd
    finally:
        os.close(fd)


def device_id_ioctl(fd: int) -> bytes | None:
    """The raw GET_DEVICE_ID answer (length prefix included) through usblp's ioctl, or None."""
    buffer = bytearray(DEVICE_ID_BUFFER)
    try:
        fcntl.ioctl(fd, lpioc_get_device_id(len(buffer)), buffer, True)
    except OSError:
        return None  # not a usblp node, or the printer did not answer
    return bytes(buffer)
