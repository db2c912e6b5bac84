"""What the service does and when: built-in LAN defaults <- the server's configuration for this agent
(client-level defaults merged with agent settings, fetched on every heartbeat) <- a local override file.

The server's document is cached in the data directory sealed by the vault (it holds SNMP credentials), so a
restart without network keeps the last configuration. The local file (`<config dir>/agent.toml`) wins over
the server key by key; it may hold credentials only if no other user can read it.

Keys, bounds and defaults: fleetmeter_contract/config.py (the same schema the server checks with).

The server's document is checked (`check_remote`) before it is cached: one that cannot be applied is
refused, and the last good one stays in use.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.snmp.credentials import Credentials, CredentialError
from agent.vault import Vault, VaultError
from fleetmeter_contract import durations
from fleetmeter_contract.config import DEFAULTS, JOBS, ConfigError, check_document, document_version, merge

REMOTE_FILE = "remote-config.sealed"
LOCAL_FILE = "agent.toml"
__all__ = ["DEFAULTS", "ConfigError", "document_version", "merge", "build", "ConfigStore", "Schedule", "AgentConfig"]


@dataclass(frozen=True)
class Schedule:
    job: str
    enabled: bool
    interval_s: float | None = None
    cron: str | None = None

    def describe(self) -> str:
        if not self.enabled:
            return "disabled"
        return f"cron '{self.cron}'" if self.cron else f"every {self.interval_s:g} s"


@dataclass(frozen=True)
class RangeGroup:
    """Range entries and the credentials tried on them."""

    entries: tuple[str, ...]
    credentials: tuple[Credentials, ...]


@dataclass(frozen=True)
class AgentConfig:
    """The effective configuration, validated."""

    document: dict[str, Any]
    schedules: dict[str, Schedule]
    credentials: tuple[Credentials, ...]
    ranges: tuple[RangeGroup, ...]
    exclude: tuple[str, ...]
    usb: bool
    heartbeat_s: float
    supply_low_percent: float
    timeout: float
    retries: int
    concurrency: int
    outbox_max_bytes: int
    retry_min_s: float
    retry_max_s: float

    @property
    def version(self) -> str:
        return document_version(self.document)


def build(document: dict[str, Any]) -> AgentConfig:
    """The effective configuration: `document` checked against the schema, then turned into objects
    (credentials, schedules, range groups). Raises ConfigError naming the key."""
    from apscheduler.triggers.cron import CronTrigger

    checked = check_document(document)
    schedules = {}
    for job in JOBS:
        spec = getattr(checked.schedules, job)
        if spec.cron is not None:
            try:
                CronTrigger.from_crontab(spec.cron)
            except ValueError as exc:
                raise ConfigError(f"schedules.{job}.cron: {spec.cron!r} is not a crontab expression ({exc})") from None
            schedules[job] = Schedule(job, spec.enabled, cron=spec.cron)
        else:
            schedules[job] = Schedule(job, spec.enabled, interval_s=durations.seconds(spec.interval or "1h"))
    credentials, named = [], {}
    for position, spec in enumerate(checked.credentials):
        fields = spec.model_dump(exclude_none=True, exclude={"name"})
        try:
            credentials.append(Credentials(**fields))
        except CredentialError as exc:
            raise ConfigError(f"credentials[{position}]: {exc}") from None
        if spec.name:
            named[spec.name] = credentials[-1]
    return AgentConfig(
        document=document, schedules=schedules, credentials=tuple(credentials),
        ranges=_range_groups(checked.ranges, tuple(credentials), named), exclude=tuple(checked.exclude),
        usb=checked.usb, heartbeat_s=durations.seconds(checked.heartbeat),
        supply_low_percent=checked.thresholds.supply_low_percent, timeout=checked.snmp.timeout,
        retries=checked.snmp.retries, concurrency=checked.snmp.concurrency,
        outbox_max_bytes=int(checked.outbox.max_mb * 1024 * 1024),
        retry_min_s=durations.seconds(checked.upload.retry_min), retry_max_s=durations.seconds(checked.upload.retry_max))


def check_remote(document: Any) -> str | None:
    """Why the server's document cannot be applied on its own (one line), or None when it can."""
    if not isinstance(document, dict):
        return f"expected a table of settings, not {type(document).__name__}"
    try:
        build(merge(DEFAULTS, document))
    except ConfigError as exc:
        return str(exc)
    return None


def _range_groups(ranges: list, credentials: tuple[Credentials, ...], named: dict[str, Credentials]
                  ) -> tuple[RangeGroup, ...]:
    groups: dict[tuple[Credentials, ...], list[str]] = {}
    for position, entry in enumerate(ranges):
        if isinstance(entry, str):
            groups.setdefault(credentials, []).append(entry)
            continue
        unknown = [name for name in entry.credentials if name not in named]
        if unknown:
            raise ConfigError(f"ranges[{position}]: no credential named {unknown[0]!r} in credentials")
        groups.setdefault(tuple(named[name] for name in entry.credentials) or credentials, []).append(entry.range)
    return tuple(RangeGroup(tuple(entries), creds) for creds, entries in groups.items())


class ConfigStore:
    """The cached server document (sealed) and the local override file."""

    def __init__(self, data_dir: Path, config_dir: Path, vault: Vault) -> None:
        self.remote_file = data_dir / REMOTE_FILE
        self.local_file = config_dir / LOCAL_FILE
        self.vault = vault

    def remote(self) -> dict:
        """The cached server document; {} when there is none, it does not open, or it cannot be applied (a
        cache written by an older agent, which cached documents before checking them)."""
        if not self.remote_file.exists():
            return {}
        try:
            document = json.loads(self.vault.open(self.remote_file.read_bytes()))
        except (VaultError, ValueError):
            return {}
        return document if check_remote(document) is None else {}

    def save_remote(self, document: dict) -> None:
        from agent.certs.files import write_private

        write_private(self.remote_file, self.vault.seal(json.dumps(document, sort_keys=True).encode()))

    def local(self) -> dict:
        if not self.local_file.exists():
            return {}
        try:
            document = tomllib.loads(self.local_file.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{self.local_file}: not valid TOML ({exc})") from None
        if "credentials" in document and os.name == "posix" and self.local_file.stat().st_mode & 0o077:
            raise ConfigError(f"{self.local_file} holds SNMP credentials but other users can read it; "
                              f"run: chmod 600 {self.local_file} (or keep credentials on the server)")
        return document

    def effective(self, with_remote: bool = True) -> AgentConfig:
        return build(merge(merge(DEFAULTS, self.remote() if with_remote else {}), self.local()))


def local_supply_low_percent(paths) -> float:
    """The low-supply threshold the service uses (cached server document + agent.toml), for one-shot
    commands such as `poll`, so a supply is "low" by the same number everywhere."""
    store = ConfigStore(paths.data, paths.config, Vault(paths.data))
    try:
        return store.effective().supply_low_percent
    except ConfigError:  # a bad cached server document: the service falls back the same way
        return store.effective(with_remote=False).supply_low_percent
