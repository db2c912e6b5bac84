"""What the service does and when: built-in LAN defaults <- the server's configuration for this agent
(client-level defaults merged with agent settings, fetched on every heartbeat) <- a local override file.

The server's document is cached in the data directory sealed by the vault (it holds SNMP credentials), so a
restart without network keeps the last configuration. The local file (`<config dir>/agent.toml`) wins over
the server key by key; it may hold credentials only if no other user can read it.

Keys (same names on the server, `fleetmeter-server config set KEY VALUE`):

    ranges = ["192.168.1.0/24", "10.0.0.5", "10.0.0.20-10.0.0.40", "printer.example:1161",
              {range = "10.9.0.0/24", credentials = ["branch"]}]   a table limits a range to named credentials
    credentials = [{version = "2c", community = "..."}, {name = "branch", version = "3", user = "...",
                   auth_proto = "SHA256", auth_key = "...", priv_proto = "AES", priv_key = "..."}]
        tried in order; the first that answers is kept for that device
    schedules.<job>.interval = "5m" | schedules.<job>.cron = "0 2 * * *" | schedules.<job>.enabled = false
        jobs: alerts (5m), supplies (1h), meters (daily 02:00 local), discovery (daily 01:00 local)
    usb = true                          also inspect USB printers attached to this machine
    thresholds.supply_low_percent = 10  an alerts run uploads at once when a supply crosses it
    heartbeat = "5m"                    heartbeat (and configuration fetch) interval
    snmp.timeout = 2, snmp.retries = 1, snmp.concurrency = 64
    outbox.max_mb = 256                 disk bound of the outbox
    upload.retry_min = "5s", upload.retry_max = "15m"   backoff between failed uploads (see service.Backoff)

The server's document is checked (`check_remote`) before it is cached: one that cannot be applied is
refused, and the last good one stays in use.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.scheduler.targets import RangeError, expand
from agent.snmp.credentials import Credentials, CredentialError
from agent.vault import Vault, VaultError

JOBS = ("alerts", "supplies", "meters", "discovery")

DEFAULTS: dict[str, Any] = {
    "ranges": [],
    "credentials": [{"version": "2c", "community": "public"}],
    "schedules": {
        "alerts": {"enabled": True, "interval": "5m"},
        "supplies": {"enabled": True, "interval": "1h"},
        "meters": {"enabled": True, "cron": "0 2 * * *"},
        "discovery": {"enabled": True, "cron": "0 1 * * *"},
    },
    "usb": True,
    "thresholds": {"supply_low_percent": 10},
    "heartbeat": "5m",
    "snmp": {"timeout": 2.0, "retries": 1, "concurrency": 64},
    "outbox": {"max_mb": 256},
    "upload": {"retry_min": "5s", "retry_max": "15m"},
}

REMOTE_FILE = "remote-config.sealed"
LOCAL_FILE = "agent.toml"


class ConfigError(ValueError):
    """A configuration value that cannot be used (one line: which key, what is wrong)."""


def parse_duration(value: Any, key: str) -> float:
    """Seconds from 300, "90s", "5m", "1h", "1d"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(value))
    if not match or float(match[1]) <= 0:
        raise ConfigError(f"{key}: {value!r} is not a duration like 90s, 5m, 1h or 1d")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]


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


def document_version(document: dict) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


def merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def build(document: dict[str, Any]) -> AgentConfig:
    from apscheduler.triggers.cron import CronTrigger

    schedules = {}
    for job in JOBS:
        spec = document.get("schedules", {}).get(job, {})
        if not isinstance(spec, dict):
            raise ConfigError(f"schedules.{job}: expected a table with interval or cron")
        enabled = spec.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"schedules.{job}.enabled: expected true or false, not {enabled!r}")
        cron = spec.get("cron")
        if cron is not None:
            try:
                CronTrigger.from_crontab(str(cron))
            except ValueError as exc:
                raise ConfigError(f"schedules.{job}.cron: {cron!r} is not a crontab expression ({exc})") from None
            schedules[job] = Schedule(job, enabled, cron=str(cron))
        else:
            schedules[job] = Schedule(job, enabled, interval_s=parse_duration(spec.get("interval", "1h"),
                                                                              f"schedules.{job}.interval"))
    credentials, named = [], {}
    for position, spec in enumerate(document.get("credentials") or []):
        if not isinstance(spec, dict):
            raise ConfigError(f"credentials[{position}]: expected a table")
        fields = {k: str(v) for k, v in spec.items() if k in Credentials.__dataclass_fields__ and v is not None}
        try:
            credentials.append(Credentials(**fields))
        except CredentialError as exc:
            raise ConfigError(f"credentials[{position}]: {exc}") from None
        if spec.get("name"):
            named[str(spec["name"])] = credentials[-1]
    ranges = _range_groups(document.get("ranges") or [], tuple(credentials), named)
    snmp, thresholds, upload = document.get("snmp", {}), document.get("thresholds", {}), document.get("upload", {})
    try:
        return AgentConfig(
            document=document, schedules=schedules, credentials=tuple(credentials), ranges=tuple(ranges),
            usb=bool(document.get("usb", True)), heartbeat_s=parse_duration(document.get("heartbeat"), "heartbeat"),
            supply_low_percent=float(thresholds.get("supply_low_percent", 10)),
            timeout=float(snmp.get("timeout", 2)), retries=int(snmp.get("retries", 1)),
            concurrency=max(1, int(snmp.get("concurrency", 64))),
            outbox_max_bytes=int(float(document.get("outbox", {}).get("max_mb", 256)) * 1024 * 1024),
            retry_min_s=parse_duration(upload.get("retry_min", "5s"), "upload.retry_min"),
            retry_max_s=parse_duration(upload.get("retry_max", "15m"), "upload.retry_max"))
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"snmp/thresholds/outbox: {exc}") from None


def checked_build(document: dict[str, Any]) -> AgentConfig:
    """build(), with any value of a type it does not expect reported as a ConfigError too."""
    try:
        return build(document)
    except ConfigError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise ConfigError(f"a value of the wrong type ({type(exc).__name__}: {exc})") from None


def check_remote(document: Any) -> str | None:
    """Why the server's document cannot be applied on its own (one line), or None when it can."""
    if not isinstance(document, dict):
        return f"expected a table of settings, not {type(document).__name__}"
    for key, default in DEFAULTS.items():  # the defaults' shape: a table stays a table, a list a list
        if key in document and isinstance(default, (dict, list)) and not isinstance(document[key], type(default)):
            return f"{key}: expected a {'table' if isinstance(default, dict) else 'list'}, " \
                   f"not {type(document[key]).__name__}"
    try:
        checked_build(merge(DEFAULTS, document))
    except ConfigError as exc:
        return str(exc)
    return None


def _range_groups(ranges: Any, credentials: tuple[Credentials, ...], named: dict[str, Credentials]
                  ) -> tuple[RangeGroup, ...]:
    if not isinstance(ranges, list):
        raise ConfigError("ranges: expected a list of addresses, networks or address ranges")
    groups: dict[tuple[Credentials, ...], list[str]] = {}
    for position, entry in enumerate(ranges):
        if isinstance(entry, str):
            groups.setdefault(credentials, []).append(_checked(entry))
            continue
        if not (isinstance(entry, dict) and isinstance(entry.get("range"), str)):
            raise ConfigError(f"ranges[{position}]: expected an address or a table with range and credentials")
        _checked(entry["range"])
        names = entry.get("credentials") or []
        unknown = [name for name in names if name not in named]
        if unknown:
            raise ConfigError(f"ranges[{position}]: no credential named {unknown[0]!r} in credentials")
        groups.setdefault(tuple(named[name] for name in names) or credentials, []).append(entry["range"])
    return tuple(RangeGroup(tuple(entries), creds) for creds, entries in groups.items())


def _checked(entry: str) -> str:
    try:
        next(expand(entry), None)
    except RangeError as exc:
        raise ConfigError(str(exc)) from None
    return entry


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
        return checked_build(merge(merge(DEFAULTS, self.remote() if with_remote else {}), self.local()))
