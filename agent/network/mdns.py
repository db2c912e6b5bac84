"""mDNS/DNS-SD browsing for printing services (python-zeroconf, asyncio).

Printers announce ``_ipp._tcp``, ``_ipps._tcp`` (IPP Everywhere, AirPrint), ``_pdl-datastream._tcp``
(raw port 9100) and ``_printer._tcp`` (LPD). The TXT record carries the model (``ty``, ``usb_MFG``,
``usb_MDL``), the IPP resource path (``rp``) and often ``UUID``. Browsing is passive apart from one
multicast query per service type; `interfaces` limits it to given local addresses (tests use 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

from zeroconf import IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

SERVICE_TYPES = ("_ipp._tcp.local.", "_ipps._tcp.local.", "_pdl-datastream._tcp.local.", "_printer._tcp.local.")


@dataclass(frozen=True)
class PrintService:
    service_type: str  # "_ipp._tcp.local." etc.
    name: str  # the instance name ("HP LaserJet M404 [A1B2C3]._ipp._tcp.local.")
    address: str
    port: int
    txt: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def is_ipp(self) -> bool:
        return self.service_type.startswith(("_ipp.", "_ipps."))

    @property
    def ipp_path(self) -> str:
        return "/" + self.txt.get("rp", "ipp/print").lstrip("/")


async def browse(seconds: float, interfaces: list[str] | None = None) -> list[PrintService]:
    """Listen for `seconds` and return the print services seen (IPv4 addresses)."""
    zeroconf = AsyncZeroconf(interfaces=interfaces or "all", ip_version=IPVersion.V4Only)
    names: set[tuple[str, str]] = set()

    def changed(zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is not ServiceStateChange.Removed:
            names.add((service_type, name))

    browser = AsyncServiceBrowser(zeroconf.zeroconf, list(SERVICE_TYPES), handlers=[changed])
    try:
        await asyncio.sleep(seconds)
        services: list[PrintService] = []
        for service_type, name in sorted(names):
            info = AsyncServiceInfo(service_type, name)
            if not await info.async_request(zeroconf.zeroconf, 1500):
                continue
            txt = {k.decode(errors="replace"): (v or b"").decode(errors="replace")
                   for k, v in (info.properties or {}).items()}
            for raw in info.addresses:
                if len(raw) == 4:
                    services.append(PrintService(service_type, name, socket.inet_ntoa(raw), info.port or 0, txt))
        return services
    finally:
        await browser.async_cancel()
        await zeroconf.async_close()
