"""A discovery run: the SNMP sweep plus the other sources, merged into devices, recorded in the
known-devices store. Data flows one way: findings -> `merge_findings` -> store -> result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.network.devices import Found, merge_findings
from agent.network.known_devices import KnownDevice, KnownDevices
from agent.snmp.client import SnmpClient
from agent.snmp.discovery import Sweep, SweepSettings, SweepStats
from agent.snmp.targets import TargetSet


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
                   progress: Callable[[SweepStats], None] | None = None) -> DiscoveryResult:
    client = SnmpClient()
    try:
        sweep = Sweep(client, settings, progress)
        findings = await sweep.run(iter(targets), len(targets))
    finally:
        client.close()
    devices = merge_findings(findings)
    found_ids: set[int] = set()
    moved: dict[str, str] = {}
    for device in devices:
        device_id, moved_from = store.record(device)
        found_ids.add(device_id)
        if moved_from:
            moved[device.address] = moved_from
    stats = sweep.stats.to_json()
    stats["devices"] = len(devices)
    stats["duplicates_merged"] = len(findings) - len(devices)
    return DiscoveryResult(devices, store.to_complete(targets, found_ids), moved, stats)
