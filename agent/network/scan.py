"""A discovery run: the SNMP sweep plus the other sources, merged into devices, recorded in the
known-devices store. Data flows one way: sources -> findings -> `KnownDevices.record_findings` (merge, record) -> result.

Addresses that mDNS or the neighbour table name are swept too, even outside the targets (that is how
they find printers a sweep of the given ranges misses), but never when an exclusion covers them.
mDNS IPP services at addresses where SNMP found no printer are read over IPP (SNMP disabled).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

from agent.network.devices import Found
from agent.network.known_devices import KnownDevice, KnownDevices
from agent.network.sweep import Sweep, SweepSettings, SweepStats, settings_json
from agent.snmp.client import SnmpClient
from fleetmeter_contract.ranges import TargetSet
from fleetmeter_contract.reading import Identity

if TYPE_CHECKING:
    from agent.network.mdns import PrintService


@dataclass(frozen=True)
class OtherSources:
    mdns_seconds: float = 0.0  # 0: do not browse
    mdns_interfaces: tuple[str, ...] = ()  # local addresses to browse on; empty = all
    neighbours: dict[str, str] = field(default_factory=dict)  # the neighbour table, when asked for
    ipp_timeout: float = 5.0


@dataclass
class DiscoveryResult:
    devices: list[Found]
    to_complete: list[KnownDevice]
    moved: dict[str, str] = field(default_factory=dict)  # new address -> previous address
    stats: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "devices": [d.to_json() for d in self.devices],
            "to_complete": [d.to_json() for d in self.to_complete],
            "moved": self.moved,
            "stats": self.stats,
        }


async def discover(targets: TargetSet, settings: SweepSettings, store: KnownDevices,
                   progress: Callable[[SweepStats], None] | None = None,
                   sources: OtherSources = OtherSources()) -> DiscoveryResult:
    services: list[PrintService] = []
    if sources.mdns_seconds > 0:
        from agent.network.mdns import browse  # zeroconf and aiohttp (IPP) cost ~2 s of start-up: only when asked

        services = await browse(sources.mdns_seconds, list(sources.mdns_interfaces) or None)
    named = {s.address for s in services} | set(sources.neighbours)
    extra = sorted(a for a in named if a not in targets and not targets.excludes(a))
    client = SnmpClient()
    try:
        sweep = Sweep(client, settings, progress)
        findings = await sweep.run(itertools.chain(targets, extra), len(targets) + len(extra))
    finally:
        client.close()
    findings += await _service_findings(services, {f.address for f in findings if f.is_printer}, sources)
    for finding in findings:
        finding.identity.mac = finding.identity.mac or sources.neighbours.get(finding.address)
    devices, found_ids, moved = store.record_findings(findings)
    stats = sweep.stats.to_json()
    stats.update(devices=len(devices), duplicates_merged=len(findings) - len(devices),
                 mdns_services=len(services), neighbours=len(sources.neighbours), extra_addresses=len(extra),
                 ipp_read=sum(f.source == "ipp" for f in findings), settings=settings_json(settings))
    return DiscoveryResult(devices, store.to_complete(targets, found_ids), moved, stats)


async def _service_findings(services: list[PrintService], snmp_printers: set[str],
                            sources: OtherSources) -> list[Found]:
    """One finding per announced service; IPP read once per address that SNMP did not identify."""
    ipp_first = {}
    for service in services:
        if service.is_ipp and service.address not in snmp_printers:
            ipp_first.setdefault(service.address, service)
    reads = await asyncio.gather(*(_read_ipp(s, sources.ipp_timeout) for s in ipp_first.values()))
    findings = [f for f in reads if f is not None]
    for service in services:
        findings.append(Found(service.address, service.port, "mdns", is_printer=True,
                              identity=_txt_identity(service), printer_evidence=f"mDNS {service.service_type}",
                              names=[service.name]))
    return findings


async def _read_ipp(service: PrintService, timeout: float) -> Found | None:
    from agent.network.ipp import IppUnavailable, read_ipp

    try:
        found = await read_ipp(service.address, service.port, service.ipp_path,
                               tls=service.service_type.startswith("_ipps."), timeout=timeout)
    except IppUnavailable:
        return None
    found.names = [service.name]
    return found


def _txt_identity(service: PrintService) -> Identity:
    txt = service.txt
    return Identity(manufacturer=txt.get("usb_MFG") or None, model=txt.get("usb_MDL") or txt.get("ty") or None)
