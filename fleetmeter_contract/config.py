"""The one configuration schema: the agent's configuration document and the server's own settings.

The agent validates every document it builds with it (agent.scheduler.config.build); the server checks each
`fleetmeter-server config set` value with it before storing it. Unknown keys, wrong types, NaN, infinities,
negative durations or counts are refused with one line naming the key.

Defaults (the one place they are written; `DEFAULTS` is this schema's defaults as a document):

    ranges = []                         addresses, networks, FIRST-LAST or FIRST-lastoctet ranges, host[:port];
                                        a table {range = ..., credentials = [names]} limits a range to named
                                        credentials (fleetmeter_contract.ranges)
    exclude = []                        addresses or ranges the service's discovery leaves alone
    credentials = [{version = "2c", community = "public"}]   tried in order
    schedules.alerts.interval = "5m", schedules.supplies.interval = "1h",
    schedules.meters.cron = "0 2 * * *", schedules.discovery.cron = "0 1 * * *"  (interval >= 1 min)
    usb = true
    thresholds.supply_low_percent = 10  (0-100) a supply at or below it is "low" (in every reading, the agent's
                                        `poll` too); an alerts run uploads at once when a supply crosses it
    heartbeat = "5m"                    (>= 30 s)
    snmp.timeout = 2 (0.1-60 s), snmp.retries = 1 (0-10), snmp.concurrency = 64 (1-1024)
    outbox.max_mb = 256                 (>= 16)
    upload.retry_min = "5s", upload.retry_max = "15m"
    server.disconnected_after = "15m", server.stopped_reporting_after = "7d", server.final_alert_after = "30d"
                                        (server only, global; 1 min .. 365 days)
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from fleetmeter_contract import ranges
from fleetmeter_contract.durations import Duration

MINUTE, DAY = 60, 86400
JOBS = ("alerts", "supplies", "meters", "discovery")
CRON_FIELD = re.compile(r"[0-9A-Za-z*/,\-?LW#]+")


class ConfigError(ValueError):
    """A configuration value that cannot be used (one line: which key, what is wrong)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def _cron(value: str) -> str:
    fields = value.split()
    if len(fields) != 5 or not all(CRON_FIELD.fullmatch(f) for f in fields):
        raise ValueError(f"{value!r} is not a crontab expression (five fields: minute hour day month weekday)")
    return value


def _range(value: str) -> str:
    ranges.check(value)
    return value


def _exclusion(value: str) -> str:
    text, port = ranges.split_port(value)
    if port is not None:
        raise ValueError(f"{value!r}: exclusions are addresses or ranges, without a port")
    ranges.check(text, ranges.MAX_ADDRESSES)
    return value


RangeText = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_range)]
Name = Annotated[str, Field(min_length=1, max_length=100)]


class Schedule(_Strict):
    enabled: bool = True
    interval: Duration(minimum=MINUTE) | None = None
    cron: Annotated[str, Field(max_length=200), AfterValidator(_cron)] | None = None


class Schedules(_Strict):
    alerts: Schedule = Schedule(interval="5m")
    supplies: Schedule = Schedule(interval="1h")
    meters: Schedule = Schedule(cron="0 2 * * *")
    discovery: Schedule = Schedule(cron="0 1 * * *")


class Credential(_Strict):
    name: Name | None = None
    version: Literal["1", "2c", "3"] = "2c"
    community: Annotated[str, Field(max_length=255)] | None = None
    user: Annotated[str, Field(max_length=255)] | None = None
    auth_proto: Annotated[str, Field(max_length=16)] | None = None
    auth_key: Annotated[str, Field(max_length=255)] | None = None
    priv_proto: Annotated[str, Field(max_length=16)] | None = None
    priv_key: Annotated[str, Field(max_length=255)] | None = None
    context: Annotated[str, Field(max_length=255)] | None = None

    @model_validator(mode="after")
    def _usable(self) -> Credential:
        if self.version == "3" and not self.user:
            raise ValueError("SNMPv3 needs a user name (user)")
        for name in ("auth_key", "priv_key"):
            if getattr(self, name) is not None and len(getattr(self, name)) < 8:
                raise ValueError(f"{name}: SNMPv3 keys are at least 8 characters (RFC 3414)")
        return self


class NamedRange(_Strict):
    range: RangeText
    credentials: list[Name] = []


class Thresholds(_Strict):
    supply_low_percent: Annotated[float, Field(ge=0, le=100)] = 10


class Snmp(_Strict):
    timeout: Annotated[float, Field(ge=0.1, le=60)] = 2.0
    retries: Annotated[int, Field(ge=0, le=10)] = 1
    concurrency: Annotated[int, Field(ge=1, le=1024)] = 64


class Outbox(_Strict):
    max_mb: Annotated[float, Field(ge=16, le=1024 * 1024)] = 256


class Upload(_Strict):
    retry_min: Duration(maximum=DAY) = "5s"
    retry_max: Duration(maximum=DAY) = "15m"


class AgentDocument(_Strict):
    """The agent's configuration document (server entries merged, then the local file)."""

    ranges: Annotated[list[RangeText | NamedRange], Field(max_length=10_000)] = []
    exclude: Annotated[list[Annotated[str, AfterValidator(_exclusion)]], Field(max_length=10_000)] = []
    credentials: Annotated[list[Credential], Field(max_length=100)] = [Credential(version="2c",
                                                                                   community="public")]
    schedules: Schedules = Schedules()
    usb: bool = True
    thresholds: Thresholds = Thresholds()
    heartbeat: Duration(minimum=30, maximum=DAY) = "5m"
    snmp: Snmp = Snmp()
    outbox: Outbox = Outbox()
    upload: Upload = Upload()


class ServerSettings(_Strict):
    """`server.*` keys: the server's own timing (global entries only)."""

    disconnected_after: Duration(minimum=MINUTE, maximum=365 * DAY) = "15m"
    stopped_reporting_after: Duration(minimum=MINUTE, maximum=365 * DAY) = "7d"
    final_alert_after: Duration(minimum=MINUTE, maximum=365 * DAY) = "30d"
    readings_retention: Duration(minimum=DAY, maximum=3650 * DAY) = "400d"  # raw readings kept for audit
    jobs_sync_interval: Duration(minimum=MINUTE, maximum=DAY) = "1h"  # consumable request queue -> jobs
    # customer portal (SDF KundOnline's general settings) and the mail it sends (server_stub/portal/settings.py)
    portal_timeout: Duration(minimum=MINUTE, maximum=DAY) = "30m"  # logout after this long inactive
    portal_show_order_lines: bool = False
    portal_report_email: Annotated[str, Field(max_length=320, pattern=r"^([^@\s]+@[^@\s]+)?$")] = ""
    portal_copy_reference: bool = False  # copy each fault report to the client's main coordinator
    portal_statistics: bool = False
    portal_calendar: bool = False
    portal_hide_cancelled: bool = False  # hide rejected reports and cancelled orders
    # outgoing mail (server_stub.notify.mail): fault reports, orders, digests, agents that stopped reporting;
    # no smtp_host: nothing is sent (mail stays queued); the password is sealed at rest like SNMP credentials
    smtp_host: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 25
    smtp_starttls: bool = False
    smtp_user: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    smtp_password: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    mail_from: Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")] = "fleetmeter@localhost"


SERVER_PREFIX = "server."
DEFAULTS: dict[str, Any] = AgentDocument().model_dump(exclude_none=True)
SERVER_DEFAULTS: dict[str, Any] = {SERVER_PREFIX + k: v for k, v in ServerSettings().model_dump().items()}


def one_line(exc: ValidationError, prefix: str = "") -> str:
    """The first problem as "key.path: message"."""
    error = exc.errors(include_url=False)[0]
    path = prefix
    for part in error["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not (isinstance(part, str) and ("[" in part or part in ("str", "NamedRange", "int", "float"))):
            path += f".{part}" if path else str(part)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{path or 'document'}: {message}"


def check_document(document: Any) -> AgentDocument:
    """The document validated (raises ConfigError naming the key)."""
    if not isinstance(document, dict):
        raise ConfigError("configuration: expected a table of keys")
    try:
        return AgentDocument.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(one_line(exc)) from None


def check_server(values: dict[str, Any]) -> ServerSettings:
    try:
        return ServerSettings.model_validate({k.removeprefix(SERVER_PREFIX): v for k, v in values.items()})
    except ValidationError as exc:
        raise ConfigError(one_line(exc, "server")) from None


def check_key(key: str, value: Any) -> None:
    """One dotted key and its value, alone (what `config set` stores)."""
    if not re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", key):
        raise ConfigError(f"{key}: not a configuration key")
    if key.startswith(SERVER_PREFIX):
        if key not in SERVER_DEFAULTS:
            raise ConfigError(f"{key}: unknown key; server settings are {', '.join(SERVER_DEFAULTS)}")
        check_server({key: value})
        return
    document: dict = {}
    put(document, key, value)
    check_document(document)


def put(document: dict, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        child = document.get(part)
        if not isinstance(child, dict):
            child = document[part] = {}
        document = child
    document[last] = copy.deepcopy(value)


def merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def document_version(document: dict) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]
