"""The SNMP sweep: probe many addresses at once, politely, and identify the printers among them.

How it spends packets and time:

- A fixed pool of `concurrency` workers takes (address, port) pairs from the target iterator: no task,
  thread or process per host, and memory does not grow with the size of the range.
- Every request packet (first try and each retry) waits for a slot of one shared `PacketRate`: the
  network never sees more than `rate` packets per second, however many addresses are in flight.
  Probe retries are ours (sessions are told ``retries=0``) so that they are paced too. Identity reads
  of printers are paced per request PDU; only the transport's own resends of those (to a device that
  just answered) bypass the limit.
- One probe per address and credential: a single GETNEXT-style read of the few objects that tell a
  printer apart (`PROBE_OBJECTS`); it finds the first row of hrDeviceType and of the Printer-MIB
  columns whatever their index. v1/v2c probes go through the client's lean codec on its one shared UDP
  socket (microseconds of CPU each). SNMPv3 sets start with an unauthenticated engine-ID discovery on
  the same socket; only SNMPv3 agents that answer get the USM engine's authenticated probe.
- Credential sets are tried in order; the first that answers wins and the rest are never sent (a
  wrong community triggers authentication-failure traps on many devices). A silent address therefore
  costs ``timeout x (retries + 1)`` per community set, and once for all SNMPv3 sets together; an
  SNMPv3 "unknown user" or "wrong digest" report moves on to the next set at once.
- Printers (Printer-MIB present, hrDeviceType printer, or a vendor profile's printer sysObjectID /
  sysDescr) get a short identity read (`reader.read_identity`: 2 PDUs); other devices are listed with
  what the probe returned and are not inventoried.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from agent.network.devices import Found
from agent.network.ratelimit import PacketRate
from agent.printer.profile import device_id_scalars, device_ids, select_profile
from agent.snmp import oids
from agent.snmp.client import SnmpAuthError, SnmpClient, SnmpError, SnmpTimeout
from agent.snmp.credentials import Credentials
from agent.snmp.reader import read_identity
from agent.snmp.values import Raw, Warnings, as_mac, as_oid, as_text
from fleetmeter_contract.reading import Identity

# GETNEXT on each: the first instance below it (scalars .0, first rows of the columns).
PROBE_OBJECTS = (
    oids.SYS_DESCR,
    oids.SYS_OBJECT_ID,
    oids.SYS_NAME,
    oids.HR_DEVICE_TYPE,
    oids.PRT_GENERAL_SERIAL_NUMBER,
    oids.PRT_MARKER_LIFE_COUNT,
    oids.IF_PHYS_ADDRESS,
)

# SNMP agents of general-purpose operating systems (Microsoft, Net-SNMP) list the computer's print
# queues as hrDevicePrinter rows: on them hrDeviceType is no evidence; the Printer-MIB still is.
COMPUTER_OBJECT_IDS = ("1.3.6.1.4.1.311.", "1.3.6.1.4.1.8072.")

DEFAULT_RATE = 500.0  # request packets per second on a LAN: about 45 kB/s of small UDP packets
DEFAULT_CONCURRENCY = 256  # addresses in flight: a /24 at once


@dataclass(frozen=True)
class SweepSettings:
    credentials: tuple[Credentials, ...]
    ports: tuple[int, ...] = (161,)
    timeout: float = 2.0
    retries: int = 1
    rate: float = DEFAULT_RATE
    concurrency: int = DEFAULT_CONCURRENCY


@dataclass
class SweepStats:
    targets: int = 0  # address x port pairs to probe
    scanned: int = 0  # pairs finished
    answered: int = 0  # pairs where some credential set answered
    printers: int = 0
    refused: int = 0  # pairs that refused some SNMPv3 set (unknown user, wrong key: an answer, no wait)
    packets: int = 0  # probe request packets sent, retries included
    identity_pdus: int = 0  # request PDUs of the identity reads of printers
    elapsed_s: float = 0.0
    by_credential: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {**self.__dict__, "elapsed_s": round(self.elapsed_s, 3)}


def settings_json(settings: SweepSettings) -> dict:
    """The settings a sweep ran with, for its report (credential sets described, never their secrets)."""
    return {"credential_sets": [c.describe() for c in settings.credentials], "ports": list(settings.ports),
            "timeout_s": settings.timeout, "retries": settings.retries, "rate": settings.rate,
            "concurrency": settings.concurrency}


@dataclass
class Probe:
    """What the one probe request returned."""

    values: dict[str, Raw]

    def identity(self) -> Identity:
        warnings = Warnings()
        identity = Identity(
            sys_descr=as_text(self.values.get(oids.SYS_DESCR), "sysDescr", warnings),
            sys_object_id=as_oid(self.values.get(oids.SYS_OBJECT_ID), "sysObjectID", warnings),
            sys_name=as_text(self.values.get(oids.SYS_NAME), "sysName", warnings),
            mac=as_mac(self.values.get(oids.IF_PHYS_ADDRESS)),
        )
        profile = select_profile(identity.sys_object_id, identity.sys_descr, device_ids(self.values))
        identity.manufacturer = profile.manufacturer_for(identity.sys_descr)
        return identity

    def printer_evidence(self) -> str | None:
        """Why this device is a printer, or None: the standard MIBs first, then the vendor profiles."""
        warnings = Warnings()
        sys_object_id = as_oid(self.values.get(oids.SYS_OBJECT_ID), "sysObjectID", warnings)
        sys_descr = as_text(self.values.get(oids.SYS_DESCR), "sysDescr", warnings)
        if self.values.get(oids.PRT_GENERAL_SERIAL_NUMBER) is not None or \
                self.values.get(oids.PRT_MARKER_LIFE_COUNT) is not None:
            return "Printer-MIB"
        computer = (sys_object_id or "").lstrip(".").startswith(COMPUTER_OBJECT_IDS)
        if not computer and \
                as_oid(self.values.get(oids.HR_DEVICE_TYPE), "hrDeviceType", warnings) == oids.HR_DEVICE_PRINTER:
            return "hrDeviceType"
        ids = device_ids(self.values)
        profile = select_profile(sys_object_id, sys_descr, ids)
        if profile.names_a_printer(sys_object_id, sys_descr, ids):
            return f"profile {profile.name}"
        return None


Progress = Callable[[SweepStats], None]


class Sweep:
    def __init__(self, client: SnmpClient, settings: SweepSettings, progress: Progress | None = None) -> None:
        if not settings.credentials:
            raise ValueError("a sweep needs at least one credential set")
        self.client = client
        self.settings = settings
        self.rate = PacketRate(settings.rate)
        self.stats = SweepStats()
        self.progress = progress

    async def run(self, addresses: Iterable[str], count: int) -> list[Found]:
        """Probe every address on every port; returns one `Found` per answering address and port."""
        started = time.perf_counter()
        self.stats.targets = count * len(self.settings.ports)
        pairs = ((address, port) for address in addresses for port in self.settings.ports)
        found: list[Found] = []

        async def worker() -> None:
            for address, port in pairs:  # a shared generator: each pair goes to one worker
                result = await self._one(address, port)
                self.stats.scanned += 1
                if result is not None:
                    found.append(result)
                if self.progress:
                    self.progress(self.stats)

        workers = max(1, min(self.settings.concurrency, self.stats.targets))
        await asyncio.gather(*(worker() for _ in range(workers)))
        self.stats.elapsed_s = time.perf_counter() - started
        return sorted(found, key=lambda f: (_address_key(f.address), f.port))

    async def _one(self, address: str, port: int) -> Found | None:
        refused = False
        speaks_v3: bool | None = None  # engine-ID discovery names no user: its outcome holds for all v3 sets
        for credentials in self.settings.credentials:
            try:
                if credentials.version == "3":
                    if speaks_v3 is None:
                        speaks_v3 = await self._discover_v3_engine(address, port, credentials)
                    probe = await self._probe(address, port, credentials) if speaks_v3 else None
                else:
                    probe = await self._probe(address, port, credentials)
            except SnmpAuthError:  # the device is there but does not take this set: try the next one
                self.stats.refused += not refused
                refused = True
                continue
            except SnmpError:
                continue
            if probe is None:
                continue
            return await self._identify(address, port, credentials, probe)
        return None

    async def _probe(self, address: str, port: int, credentials: Credentials) -> Probe | None:
        """One GETNEXT-style read of `PROBE_OBJECTS` (non-repeaters of a GETBULK; GETNEXT for SNMPv1),
        each try paced by the sweep's packet rate; None when the address stays silent."""
        session = self.client.session(address, port, credentials, timeout=self.settings.timeout, retries=0,
                                      pace=self._paced_probe)
        for _attempt in range(self.settings.retries + 1):
            try:
                walked = await session.walk((), PROBE_OBJECTS + device_id_scalars())
            except SnmpTimeout:
                continue
            return Probe(walked.scalars)
        return None

    async def _discover_v3_engine(self, address: str, port: int, credentials: Credentials) -> bool:
        """Whether an SNMPv3 agent answers the unauthenticated engine-ID discovery (one small packet per
        try, no USM engine): a silent address costs one timeout for all SNMPv3 sets together."""
        session = self.client.session(address, port, credentials, timeout=self.settings.timeout, retries=0,
                                      pace=self._paced_probe)
        for _attempt in range(self.settings.retries + 1):
            if await session.speaks_snmpv3():
                return True
        return False

    async def _paced_probe(self) -> None:
        await self.rate.acquire()
        self.stats.packets += 1

    async def _identify(self, address: str, port: int, credentials: Credentials, probe: Probe) -> Found:
        described = credentials.describe()
        self.stats.answered += 1
        self.stats.by_credential[described] = self.stats.by_credential.get(described, 0) + 1
        found = Found(address, port, "snmp", credential=described, identity=probe.identity(),
                      printer_evidence=probe.printer_evidence())
        if found.printer_evidence is None:
            return found
        found.is_printer = True
        self.stats.printers += 1
        session = self.client.session(address, port, credentials, timeout=self.settings.timeout,
                                      retries=self.settings.retries, pace=self.rate.acquire)
        try:
            identity = await read_identity(session)
        except SnmpError:
            return found  # it answered the probe; keep what the probe said
        finally:
            self.stats.identity_pdus += session.pdus
        identity.mac = identity.mac or found.identity.mac
        found.identity = identity
        return found


def _address_key(address: str) -> tuple[int, ...]:
    return tuple(int(part) for part in address.split("."))
