"""Windows: the IEEE 1284 Device ID through usbprint.sys, for printers libusb cannot open.

On Windows the in-box usbprint.sys driver owns USB printers; libusb (WinUSB) can list them but not
open them. usbprint exposes each printer as a GUID_DEVINTERFACE_USBPRINT device interface whose handle
answers IOCTL_USBPRINT_GET_1284_ID with the Device ID (its length prefix included). The device path
names vendor, product and serial ("\\\\?\\usb#vid_03f0&pid_2b17#SERIAL#{28d78fad-...}"), which is how a
path is matched to a libusb device - only when exactly one path fits: identical printers whose serials
libusb cannot read are not told apart by guessing. Everything here is a no-op on other platforms.

NOT TESTED on real Windows: the project's tests run on Linux; this module is exercised only for
its platform guard, path matching and serial extraction. PJL/IPP-USB through usbprint are not done.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

GUID_DEVINTERFACE_USBPRINT = "{28d78fad-5a12-11d1-ae5b-0000f803a8c2}"
IOCTL_USBPRINT_GET_1284_ID = (0x22 << 16) | (13 << 2)  # CTL_CODE(FILE_DEVICE_UNKNOWN, 13, METHOD_BUFFERED, 0)
BUFFER = 1024
_PATH = re.compile(r"vid_([0-9a-f]{4})&pid_([0-9a-f]{4})(?:&[^#]*)?#([^#]*)#", re.I)


@dataclass(frozen=True)
class UsbprintAnswer:
    device_id: bytes | None  # raw, length prefix included
    serial: str | None  # the device instance name when Windows took it from iSerialNumber


def path_matches(path: str, vendor_id: int, product_id: int, serial: str | None) -> bool:
    """Whether a usbprint device path may belong to this USB device (serial compared when both have one)."""
    match = _PATH.search(path)
    if not match or int(match.group(1), 16) != vendor_id or int(match.group(2), 16) != product_id:
        return False
    instance = serial_from_path(path)
    return not serial or instance is None or instance.lower() == serial.lower()


def serial_from_path(path: str) -> str | None:
    """The USB serial Windows used as instance name, or None when it invented one ("6&1a2b3c&0&USB001")."""
    match = _PATH.search(path)
    if not match or "&" in match.group(3) or not match.group(3):
        return None
    return match.group(3)


def pick_path(paths: list[str], vendor_id: int, product_id: int, serial: str | None) -> str | None:
    """The one usbprint path of this device; None when none or several fit (two identical printers
    without readable serials cannot be told apart here, and a wrong guess would swap their identities)."""
    fitting = [path for path in paths if path_matches(path, vendor_id, product_id, serial)]
    return fitting[0] if len(fitting) == 1 else None


def read_device_id(vendor_id: int, product_id: int, serial: str | None) -> UsbprintAnswer | None:
    """The Device ID (and serial) of the matching usbprint printer, or None (not Windows, not found)."""
    if sys.platform != "win32":
        return None
    try:
        path = pick_path(_usbprint_paths(), vendor_id, product_id, serial)
        return UsbprintAnswer(_ioctl_device_id(path), serial_from_path(path)) if path else None
    except (OSError, AttributeError, ValueError):  # Win32 errors, or an API missing on this Windows
        return None


def _usbprint_paths() -> list[str]:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    setupapi = ctypes.WinDLL("setupapi", use_last_error=True)

    class GUID(ctypes.Structure):
        _fields_ = [("Data1", wintypes.DWORD), ("Data2", wintypes.WORD), ("Data3", wintypes.WORD),
                    ("Data4", ctypes.c_ubyte * 8)]

    class SP_DEVICE_INTERFACE_DATA(ctypes.Structure):
        _fields_ = [("cbSize", wintypes.DWORD), ("InterfaceClassGuid", GUID), ("Flags", wintypes.DWORD),
                    ("Reserved", ctypes.c_void_p)]

    guid = GUID()
    ctypes.oledll.ole32.CLSIDFromString(GUID_DEVINTERFACE_USBPRINT, ctypes.byref(guid))
    DIGCF_PRESENT, DIGCF_DEVICEINTERFACE = 0x2, 0x10
    setupapi.SetupDiGetClassDevsW.restype = ctypes.c_void_p
    info = setupapi.SetupDiGetClassDevsW(ctypes.byref(guid), None, None, DIGCF_PRESENT | DIGCF_DEVICEINTERFACE)
    if not info or info == ctypes.c_void_p(-1).value:
        raise ctypes.WinError(ctypes.get_last_error())
    paths = []
    try:
        index = 0
        while True:
            data = SP_DEVICE_INTERFACE_DATA()
            data.cbSize = ctypes.sizeof(data)
            if not setupapi.SetupDiEnumDeviceInterfaces(ctypes.c_void_p(info), None, ctypes.byref(guid), index,
                                                         ctypes.byref(data)):
                break
            index += 1
            needed = wintypes.DWORD()
            setupapi.SetupDiGetDeviceInterfaceDetailW(ctypes.c_void_p(info), ctypes.byref(data), None, 0,
                                                      ctypes.byref(needed), None)
            buffer = ctypes.create_string_buffer(needed.value)
            # SP_DEVICE_INTERFACE_DETAIL_DATA_W.cbSize: 8 on 64-bit, 6 on 32-bit Python
            ctypes.c_uint32.from_buffer(buffer).value = 8 if ctypes.sizeof(ctypes.c_void_p) == 8 else 6
            if setupapi.SetupDiGetDeviceInterfaceDetailW(ctypes.c_void_p(info), ctypes.byref(data), buffer,
                                                         needed, None, None):
                paths.append(ctypes.wstring_at(ctypes.addressof(buffer) + 4))
    finally:
        setupapi.SetupDiDestroyDeviceInfoList(ctypes.c_void_p(info))
    return paths


def _ioctl_device_id(path: str) -> bytes | None:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.CreateFileW.restype = ctypes.c_void_p
    GENERIC_READ, GENERIC_WRITE, SHARE_RW, OPEN_EXISTING = 0x80000000, 0x40000000, 0x3, 3
    handle = kernel32.CreateFileW(path, GENERIC_READ | GENERIC_WRITE, SHARE_RW, None, OPEN_EXISTING, 0, None)
    if handle in (None, ctypes.c_void_p(-1).value):
        return None
    try:
        buffer = ctypes.create_string_buffer(BUFFER)
        returned = wintypes.DWORD()
        if not kernel32.DeviceIoControl(ctypes.c_void_p(handle), IOCTL_USBPRINT_GET_1284_ID, None, 0, buffer,
                                        BUFFER, ctypes.byref(returned), None):
            return None
        return buffer.raw[:returned.value]
    finally:
        kernel32.CloseHandle(ctypes.c_void_p(handle))
