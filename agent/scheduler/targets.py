"""Which devices the inspections read: the configured ranges turned into SNMP targets.

The scheduler only knows the `Discover` signature: ranges and credentials in, answering targets (each with
the credential that worked) out. `sweep_printers` implements it with the network discovery's SNMP sweep
(agent/network/sweep.py: rate-limited, one probe per address and credential, printers only);
`probe_configured` is the plain variant that keeps every answering address (used by bench/fleet.py). The
last result is kept in the known-devices store (agent/network/known_devices.py) so a restart inspects at once.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

from agent.snmp.client import SnmpClient, SnmpError
from agent.snmp.credentials import Credentials
from agent.snmp.fleet import Target

SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
MAX_ADDRESSES = 65_536  # per range entry: a /16 at most; larger ones are refused with a message


class RangeError(ValueError):
    pass


@dataclass(frozen=True)
class ScanOptions:
    timeout: float = 2.0
    retries: int = 1
    concurrency: int = 64


Discover = Callable[[Sequence[str], Sequence[Credentials], ScanOptions], Awaitable[list[Target]]]


def expand(entry: str) -> Iterator[tuple[str, int]]:
    """Addresses of one range entry: "10.0.0.5", "host:1161", "10.0.0.0/24", "10.0.0.20-10.0.0.40"."""
    text, port = entry.strip(), 161
    if text.count(":") == 1:  # host:port (IPv6 addresses are written without a port)
        text, _, port_text = text.partition(":")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise RangeError(f"range {entry!r}: port must be 1-65535")
        port = int(port_text)
    if "/" in text:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise RangeError(f"range {entry!r}: {exc}") from None
        if network.num_addresses > MAX_ADDRESSES:
            raise RangeError(f"range {entry!r} has {network.num_addresses} addresses; split it (at most a /16)")
        hosts = network.hosts() if network.num_addresses > 2 else iter(network)
        yield from ((str(address), port) for address in hosts)
    elif "-" in text:
        first_text, _, last_text = text.partition("-")
        try:
            first, last = ipaddress.ip_address(first_text.strip()), ipaddress.ip_address(last_text.strip())
        except ValueError as exc:
            raise RangeError(f"range {entry!r}: {exc}") from None
        if first.version != last.version or int(last) < int(first) or int(last) - int(first) >= MAX_ADDRESSES:
            raise RangeError(f"range {entry!r}: expected FIRST-LAST with FIRST <= LAST, at most 65,536 addresses")
        yield from ((str(ipaddress.ip_address(n)), port) for n in range(int(first), int(last) + 1))
    else:
        yield text, port


async def probe_configured(ranges: Sequence[str], credentials: Sequence[Credentials],
                           options: ScanOptions) -> list[Target]:
    """Every configured address that answers SNMP, with the first credential it answers to."""
    addresses = list(dict.fromkeys(address for entry in ranges for address in expand(entry)))
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
                         options: ScanOptions) -> list[Target]:
    """The printers in the configured ranges, found by the discovery sweep, each with the credential
    that answered; other devices (switches, PCs) are not inspected."""
    from agent.network.sweep import Sweep, SweepSettings

    by_port: dict[int, list[str]] = {}
    for entry in ranges:
        for address, port in expand(entry):
            by_port.setdefault(port, []).append(address)
    by_description = {c.describe(): c for c in credentials}
    client = SnmpClient()
    targets: list[Target] = []
    try:
        for port, addresses in by_port.items():
            unique = list(dict.fromkeys(addresses))
            settings = SweepSettings(credentials=tuple(credentials), ports=(port,), timeout=options.timeout,
                                     retries=options.retries, concurrency=options.concurrency)
            for found in await Sweep(client, settings).run(unique, len(unique)):
                credential = by_description.get(found.credential or "")
                if found.is_printer and credential is not None:
                    targets.append(Target(found.address, found.port, credential))
    finally:
        client.close()
    return targets
