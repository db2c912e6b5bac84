"""Which devices the inspections read: the configured ranges turned into SNMP targets.

The scheduler only knows the `Discover` signature: ranges, credentials and the known-devices store in,
answering targets (each with the credential that worked) out. `sweep_printers` implements it with the network
discovery's SNMP sweep (agent/network/sweep.py: rate-limited, one probe per address and credential, printers
only) and records every device it found in the store as `fleetmeter-agent discover` does (one code path:
`KnownDevices.record_findings`);
`probe_configured` is the plain variant that keeps every answering address and reads no identity, so records
nothing (used by bench/fleet.py). The
last result is kept in the known-devices store (agent/network/known_devices.py) so a restart inspects at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from agent.network.devices import Found
from agent.network.known_devices import KnownDevices
from agent.snmp.client import SnmpClient, SnmpError
from agent.snmp.credentials import Credentials
from agent.snmp.fleet import Target
from fleetmeter_contract.ranges import RangeError, TargetSet, expand  # noqa: F401 (RangeError: callers catch it here)

SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"


@dataclass(frozen=True)
class ScanOptions:
    timeout: float = 2.0
    retries: int = 1
    concurrency: int = 64
    exclude: tuple[str, ...] = ()  # configured exclusions, in the range syntax

    def excluded(self) -> TargetSet | None:
        return TargetSet.parse(self.exclude) if self.exclude else None


Discover = Callable[[Sequence[str], Sequence[Credentials], ScanOptions, KnownDevices], Awaitable[list[Target]]]


async def probe_configured(ranges: Sequence[str], credentials: Sequence[Credentials],
                           options: ScanOptions, store: KnownDevices | None = None) -> list[Target]:
    """Every configured address that answers SNMP, with the first credential it answers to."""
    excluded = options.excluded()
    addresses = list(dict.fromkeys(address for entry in ranges for address in expand(entry, excluded)))
    client = SnmpClient()
    semaphore = asyncio.Semaphore(options.concurrency)

    async def probe(host: str, port: int) -> Target | None:
        async with semaphore:
            for credential in credentials:
                session = client.session(host, port, credential, timeout=options.timeout, retries=options.retries)
                try:
                    if (await session.get([SYS_OBJECT_ID])).get(SYS_OBJECT_ID) is not None:
                        return Target(host, port, credential)
                except SnmpError:
                    continue
        return None

    try:
        found = await asyncio.gather(*(probe(host, port) for host, port in addresses))
    finally:
        client.close()
    return [target for target in found if target is not None]


async def sweep_printers(ranges: Sequence[str], credentials: Sequence[Credentials],
                         options: ScanOptions, store: KnownDevices | None = None) -> list[Target]:
    """The printers in the configured ranges, found by the discovery sweep, each with the credential
    that answered; other devices (switches, PCs) are not inspected. Every device found is recorded in
    `store` (identity, address, credential), as the `discover` command records it."""
    from agent.network.sweep import Sweep, SweepSettings

    by_port: dict[int, list[str]] = {}
    excluded = options.excluded()
    for entry in ranges:
        for address, port in expand(entry, excluded):
            by_port.setdefault(port, []).append(address)
    by_description = {c.describe(): c for c in credentials}
    client = SnmpClient()
    findings: list[Found] = []
    try:
        for port, addresses in by_port.items():
            unique = list(dict.fromkeys(addresses))
            settings = SweepSettings(credentials=tuple(credentials), ports=(port,), timeout=options.timeout,
                                     retries=options.retries, concurrency=options.concurrency)
            findings += await Sweep(client, settings).run(unique, len(unique))
    finally:
        client.close()
    if store is not None:
        store.record_findings(findings)
    targets = []
    for found in findings:
        credential = by_description.get(found.credential or "")
        if found.is_printer and credential is not None:
            targets.append(Target(found.address, found.port, credential))
    return targets
