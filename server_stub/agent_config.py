"""Agent configuration held by the server: entries at three levels, each overriding the one before:
global (every agent of this server), client (every agent of one of the dealer's customers) and agent.

A key is a dotted path into the agent's configuration document (see agent/scheduler/config.py for the
keys and their defaults): `ranges`, `credentials`, `schedules.alerts.interval`, `thresholds...`. Global
keys under `server.` are the server's own settings (agent state timing) and are never sent to agents.
Credentials are sent only to the agents they belong to, inside the signed heartbeat answer over TLS; in
listings their secrets are masked.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.engine import Connection, Engine

from agent.scheduler.config import DEFAULTS, ConfigError, build, merge
from server_stub.db import agents, utcnow
from server_stub.service_db import config_entries

SCOPES = ("global", "client", "agent")
SERVER_PREFIX = "server."
SECRET_FIELDS = ("community", "auth_key", "priv_key")
SERVER_DEFAULTS = {"server.disconnected_after": "15m", "server.stopped_reporting_after": "7d",
                   "server.final_alert_after": "30d"}


class ConfigProblem(ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    scope: str
    target: str
    key: str
    value: Any

    def to_json(self, reveal: bool = False) -> dict:
        return {"scope": self.scope, "target": self.target or None, "key": self.key,
                "value": self.value if reveal else mask(self.key, self.value)}


def parse_value(text: str) -> Any:
    """JSON when it parses (numbers, true/false, lists, objects), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def duration_s(value: Any) -> float:
    text = str(value).strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        return float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except (ValueError, KeyError):
        raise ConfigProblem(f"{value!r} is not a duration like 90s, 15m, 12h or 7d") from None


def _check(scope: str, target: str, key: str, value: Any) -> None:
    if scope not in SCOPES:
        raise ConfigProblem(f"scope must be one of {', '.join(SCOPES)}")
    if key.startswith(SERVER_PREFIX):
        if scope != "global" or key not in SERVER_DEFAULTS:
            raise ConfigProblem(f"server settings are global and one of: {', '.join(SERVER_DEFAULTS)}")
        duration_s(value)
    if key == "credentials" and not (isinstance(value, list) and all(isinstance(c, dict) for c in value)):
        raise ConfigProblem('credentials must be a JSON list of objects, e.g. [{"version": "2c", "community": '
                            '"..."}]')
    if key == "ranges" and not (isinstance(value, list) and all(isinstance(r, (str, dict)) for r in value)):
        raise ConfigProblem('ranges must be a JSON list, e.g. ["192.168.1.0/24", "10.0.0.5", {"range": '
                            '"10.9.0.0/24", "credentials": ["branch"]}]')


def _agent_accepts(key: str, value: Any) -> None:
    """The agent's own validation (agent.scheduler.config.build) of this one key over the defaults."""
    if key.startswith(SERVER_PREFIX):
        return
    document: dict = {}
    _put(document, key, value)
    if key == "ranges":  # credential names may be defined at another level: stand-ins for the check
        names = {n for entry in value if isinstance(entry, dict) for n in entry.get("credentials") or []}
        document["credentials"] = [{"name": str(n), "community": "placeholder"} for n in names]
    try:
        build(merge(DEFAULTS, document))
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from None


def _target_exists(conn: Connection, scope: str, target: str) -> None:
    column = agents.c.name if scope == "agent" else agents.c.client
    if scope != "global" and conn.execute(select(agents.c.id).where(column == target).limit(1)).first() is None:
        raise ConfigProblem(f"no {scope} named {target!r}; see: fleetmeter-server agents list")


def set_entry(engine: Engine, scope: str, target: str, key: str, value: Any) -> None:
    _check(scope, target, key, value)
    _agent_accepts(key, value)
    with engine.begin() as conn:
        _target_exists(conn, scope, target)
        where = and_(config_entries.c.scope == scope, config_entries.c.target == target, config_entries.c.key == key)
        conn.execute(delete(config_entries).where(where))
        conn.execute(config_entries.insert().values(scope=scope, target=target, key=key, value=value,
                                                    updated_at=utcnow()))


def unset_entry(engine: Engine, scope: str, target: str, key: str) -> int:
    with engine.begin() as conn:
        return conn.execute(delete(config_entries).where(
            config_entries.c.scope == scope, config_entries.c.target == target,
            config_entries.c.key == key)).rowcount


def entries(engine: Engine, scope: str | None = None, target: str | None = None) -> list[Entry]:
    query = select(config_entries).order_by(config_entries.c.scope, config_entries.c.target, config_entries.c.key)
    if scope:
        query = query.where(config_entries.c.scope == scope)
    if target is not None:
        query = query.where(config_entries.c.target == target)
    with engine.connect() as conn:
        return [Entry(r.scope, r.target, r.key, r.value) for r in conn.execute(query)]


def _put(document: dict, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        child = document.get(part)
        if not isinstance(child, dict):
            child = document[part] = {}
        document = child
    document[last] = copy.deepcopy(value)


def agent_document(conn: Connection, agent: str, client: str) -> dict:
    """The configuration for one agent: global, then client, then agent entries (server.* left out)."""
    rows = conn.execute(select(config_entries).where(or_(
        config_entries.c.scope == "global",
        and_(config_entries.c.scope == "client", config_entries.c.target == client),
        and_(config_entries.c.scope == "agent", config_entries.c.target == agent))))
    document: dict = {}
    for row in sorted(rows, key=lambda r: (SCOPES.index(r.scope), r.key)):
        if not row.key.startswith(SERVER_PREFIX):
            _put(document, row.key, row.value)
    return document


@dataclass(frozen=True)
class StateTiming:
    disconnected_after: timedelta
    stopped_reporting_after: timedelta
    final_alert_after: timedelta


def state_timing(conn: Connection) -> StateTiming:
    values = dict(SERVER_DEFAULTS)
    for row in conn.execute(select(config_entries.c.key, config_entries.c.value).where(
            config_entries.c.scope == "global", config_entries.c.key.in_(list(SERVER_DEFAULTS)))):
        values[row.key] = row.value
    return StateTiming(*(timedelta(seconds=duration_s(values[k])) for k in SERVER_DEFAULTS))


def mask(key: str, value: Any) -> Any:
    """Credentials with their secrets replaced by "***" (for listings)."""
    if key == "credentials" and isinstance(value, list):
        return [{k: ("***" if k in SECRET_FIELDS and v else v) for k, v in c.items()} if isinstance(c, dict) else c
                for c in value]
    if key.startswith("credentials") or key.rsplit(".", 1)[-1] in SECRET_FIELDS:
        return "***"
    return value
