"""The service's jobs: discovery, inspections (meters, supplies) and alert collection.

Every job reads through `read_many` (bounded concurrency, one event loop) and USB through `inspect_usb` in a
worker thread, and queues what it read in the outbox in chunks, each committed to disk before the job goes
on: what a job has queued survives a crash. An alerts run queues a device only when its alerts or its
supplies below the low threshold changed since the last run (the first run queues every device), so
printers that are fine cost no upload every five minutes. Every read uses the same settings as `poll`
(`agent.printer.settings`): the user's meters.toml and the configured low-supply threshold, which is also
the one the alerts job compares with.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent.errors import UserConfigError
from agent.network.known_devices import KnownDevices
from agent.outbox import Outbox
from agent.printer.settings import ReadSettings, load_read_settings
from agent.scheduler.config import AgentConfig
from agent.scheduler.targets import Discover, ScanOptions
from agent.snmp.client import SnmpClient
from agent.snmp.fleet import Target, read_many
from agent.usb import NoUsbBackend, UsbOptions, inspect_usb
from fleetmeter_contract.reading import DeviceReading

log = logging.getLogger("fleetmeter.jobs")

CHUNK = 200  # readings per outbox transaction
# supply states (decided in agent.printer.supplies, low at the configured threshold) an alerts run reports
ATTENTION = ("low", "empty", "near_full", "full")
INSPECTIONS = {"meters": "meters", "supplies": "supplies", "inspection": "meters", "alerts": "alerts"}


@dataclass
class JobResult:
    job: str
    devices: int = 0
    read: int = 0
    failed: int = 0
    queued: int = 0
    elapsed_s: float = 0.0
    note: str = ""

    def summary(self) -> str:
        if self.job == "discovery":
            return f"discovery: {self.note} ({self.elapsed_s:.1f} s)"
        text = (f"{self.job}: {self.read}/{self.devices} device(s) read, {self.failed} unreachable, "
                f"{self.queued} queued in {self.elapsed_s:.1f} s")
        return text + (f"; {self.note}" if self.note else "")


@dataclass
class PartHealth:
    """How the network and USB parts of this agent last did (sent with each heartbeat)."""

    ok: bool
    at: float
    detail: str = ""


@dataclass
class Jobs:
    outbox: Outbox
    known: KnownDevices
    discover: Discover
    usb_reader: Callable[[UsbOptions], list[DeviceReading]] = inspect_usb
    on_queued: Callable[[], None] = lambda: None
    parts: dict[str, PartHealth] = field(default_factory=dict)
    config_dir: Path | None = None  # where meters.toml is (None: no user meters)
    cache_dir: Path | None = None
    _alert_state: dict[tuple[str, int], str] = field(default_factory=dict)
    _settings: tuple[object, ReadSettings] | None = None  # (meters.toml's stat, what it gave)

    def read_settings(self, config: AgentConfig) -> ReadSettings:
        """The user's meters (reloaded when meters.toml changed) and the configured low threshold. A file
        that cannot be used is logged in one line and the last good meters stay (none at first)."""
        threshold = config.supply_low_percent
        if self.config_dir is None:
            return ReadSettings(supply_low_percent=threshold)
        path = self.config_dir / "meters.toml"
        try:
            stamp: object = (path.stat().st_mtime_ns, path.stat().st_size)
        except OSError:
            stamp = None
        if self._settings is None or self._settings[0] != stamp:
            try:
                loaded = load_read_settings(self.config_dir, self.cache_dir or self.config_dir, threshold)
            except UserConfigError as exc:
                log.error("%s; the configured meters stay as they were", exc)
                loaded = self._settings[1] if self._settings else ReadSettings()
            self._settings = (stamp, loaded)
        return ReadSettings(self._settings[1].meters, threshold)

    async def discovery(self, config: AgentConfig) -> JobResult:
        started = time.monotonic()
        options = ScanOptions(config.timeout, config.retries, config.concurrency, config.exclude)
        targets: dict[tuple[str, int], Target] = {}
        for group in config.ranges:
            for target in await self.discover(group.entries, group.credentials, options, self.known):
                targets.setdefault((target.host, target.port), target)
        self.known.save(list(targets.values()), config.credentials)
        entries = sum(len(group.entries) for group in config.ranges)
        note = (f"{len(targets)} device(s) answer in {entries} range entr{'y' if entries == 1 else 'ies'}" if entries
                else "no ranges configured (fleetmeter-server config set --agent NAME ranges ..., or agent.toml)")
        return JobResult("discovery", devices=len(targets), elapsed_s=time.monotonic() - started, note=note)

    async def targets(self, config: AgentConfig) -> list[Target]:
        known = self.known.load(config.credentials)
        if not known and config.ranges:
            await self.discovery(config)
            known = self.known.load(config.credentials)
        return known

    async def inspect(self, job: str, config: AgentConfig) -> JobResult:
        """meters / supplies / alerts (and "inspection": meters and supplies in one full reading)."""
        kind = INSPECTIONS[job]
        started = time.monotonic()
        result = JobResult(job)
        targets = await self.targets(config)
        result.devices = len(targets)
        settings = self.read_settings(config)
        pending: list[dict] = []
        if targets:
            client = SnmpClient()
            try:
                async for outcome in read_many(client, targets, timeout=config.timeout, retries=config.retries,
                                               concurrency=config.concurrency, settings=settings):
                    if outcome.reading is None:
                        result.failed += 1
                        log.debug("%s: %s", job, outcome.error)
                        continue
                    result.read += 1
                    if self._wanted(kind, outcome.reading, config):
                        pending.append(outcome.reading.to_json())
                    if len(pending) >= CHUNK:
                        result.queued += self._queue(pending, kind)
            finally:
                client.close()
            ok = result.read > 0 or not targets
            self.parts["network"] = PartHealth(ok, time.time(), "" if ok else "no device answered")
        if config.usb:
            pending.extend(reading.to_json() for reading in await self._usb(result, kind, config))
        result.queued += self._queue(pending, kind)
        result.elapsed_s = time.monotonic() - started
        return result

    async def _usb(self, result: JobResult, kind: str, config: AgentConfig) -> list[DeviceReading]:
        try:
            options = UsbOptions(supply_low_percent=config.supply_low_percent)
            readings = await asyncio.to_thread(self.usb_reader, options)
        except NoUsbBackend:  # no USB stack on this machine: it has no USB part (not a failing one)
            self.parts.pop("usb", None)
            result.note = "USB: no libusb"
            return []
        except (OSError, RuntimeError) as exc:  # a printer that vanished mid-conversation, a busy bus
            self.parts["usb"] = PartHealth(False, time.time(), f"{type(exc).__name__}: {exc}")
            result.note = f"USB failed: {exc}"
            return []
        self.parts["usb"] = PartHealth(True, time.time(), f"{len(readings)} printer(s)")
        result.devices += len(readings)
        result.read += len(readings)
        return [reading for reading in readings if self._wanted(kind, reading, config)]

    def _queue(self, pending: list[dict], kind: str) -> int:
        if not pending:
            return 0
        count = len(self.outbox.put_many(pending, kind))
        pending.clear()
        dropped = self.outbox.enforce_limit()
        if dropped:
            log.warning("outbox full (%d MB limit): dropped the oldest queued %s readings so new ones fit; "
                        "meter reads are kept longest. Check the connection to the server, or raise outbox.max_mb",
                        self.outbox.max_bytes // (1024 * 1024), dropped)
        self.on_queued()
        return count

    def _wanted(self, kind: str, reading: DeviceReading, config: AgentConfig) -> bool:
        if kind != "alerts":
            return True
        low = sorted((s.index, s.state) for s in reading.supplies if s.state in ATTENTION)
        alerts = sorted((a.code or "", a.severity or "", a.group or "", a.group_index or 0) for a in reading.alerts)
        signature = hashlib.sha256(json.dumps([alerts, low, reading.status.errors]).encode()).hexdigest()
        key = (reading.address, reading.port)
        changed = self._alert_state.get(key) != signature
        self._alert_state[key] = signature
        return changed
