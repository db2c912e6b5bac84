"""Agent configuration held by the server: entries at three levels, each overriding the one before:
global (every agent of this server), client (every agent of one of the dealer's customers) and agent.

A key is a dotted path into the agent's configuration document (see fleetmeter_contract/config.py for the
keys and their defaults): `ranges`, `credentials`, `schedules.alerts.interval`, `thresholds...`. Global
keys under `server.` are the server's own settings (agent state timing) and are never sent to agents.
Credentials are sent only to the agents they belong to, inside the signed heartbeat answer over TLS; in
listings their secrets are masked; in the database they are sealed (server_stub.trust.secrets): set_entry
seals them, entries and agent_document open them with the server's SecretBox.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.engine import Connection

from fleetmeter_contract import durations
from fleetmeter_contract.config import (DEFAULTS, SERVER_DEFAULTS, SERVER_PREFIX, ConfigError, check_key, document_version,  # noqa: F401
                                        put)
from server_stub.db.engine import utcnow
from server_stub.db.tables import agents, config_entries
from server_stub.trust.secrets import SecretBox, SecretKeyError, is_sealed
from server_stub.jobs.contracts import agent_supply_low_percent

SCOPES = ("global", "client", "agent")
SECRET_FIELDS = ("community", "auth_key", "priv_key", "smtp_password")


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


def _check(scope: str, key: str, value: Any) -> None:
    if scope not in SCOPES:
        raise ConfigProblem(f"scope must be one of {', '.join(SCOPES)}")
    if key.startswith(SERVER_PREFIX) and scope != "global":
        raise ConfigProblem(f"{key}: server settings are global (--global)")
    try:
        check_key(key, value)
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from None


def _target_exists(conn: Connection, scope: str, target: str) -> None:
    column = agents.c.name if scope == "agent" else agents.c.client
    if scope != "global" and conn.execute(select(agents.c.id).where(column == target).limit(1)).first() is None:
        raise ConfigProblem(f"no {scope} named {target!r}; see: fleetmeter-server agents list")


def is_secret(key: str) -> bool:
    """Entries stored sealed: credentials (whole or a part of them) and any secret field."""
    return key == "credentials" or key.startswith("credentials.") or key.rsplit(".", 1)[-1] in SECRET_FIELDS


def set_entry(conn: Connection, scope: str, target: str, key: str, value: Any, box: SecretBox | None = None) -> None:
    _check(scope, key, value)
    _target_exists(conn, scope, target)
    if is_secret(key):
        if box is None:
            raise ConfigProblem(f"{key}: no secret key to encrypt it with; run fleetmeter-server init (or set "
                                "FLEETMETER_SECRET_KEY)")
        value = box.seal(value)
    where = and_(config_entries.c.scope == scope, config_entries.c.target == target, config_entries.c.key == key)
    conn.execute(delete(config_entries).where(where))
    conn.execute(config_entries.insert().values(scope=scope, target=target, key=key, value=value,
                                                updated_at=utcnow()))


def unset_entry(conn: Connection, scope: str, target: str, key: str) -> int:
    return conn.execute(delete(config_entries).where(
        config_entries.c.scope == scope, config_entries.c.target == target,
        config_entries.c.key == key)).rowcount


def seal_stored(conn: Connection, box: SecretBox) -> int:
    """Seal secret entries stored in clear (before revision 0005_hardening); returns how many."""
    count = 0
    for row in conn.execute(select(config_entries.c.id, config_entries.c.key, config_entries.c.value)).all():
        if is_secret(row.key) and not is_sealed(row.value):
            conn.execute(config_entries.update().where(config_entries.c.id == row.id)
                         .values(value=box.seal(row.value)))
            count += 1
    return count


def _opened(value: Any, box: SecretBox | None) -> Any:
    if not is_sealed(value):
        return value
    return box.open(value) if box else "***"


def entries(conn: Connection, scope: str | None = None, target: str | None = None,
            box: SecretBox | None = None) -> list[Entry]:
    """Entries with sealed values opened (without a box: shown as "***")."""
    query = select(config_entries).order_by(config_entries.c.scope, config_entries.c.target, config_entries.c.key)
    if scope:
        query = query.where(config_entries.c.scope == scope)
    if target is not None:
        query = query.where(config_entries.c.target == target)
    return [Entry(r.scope, r.target, r.key, _opened(r.value, box)) for r in conn.execute(query)]


def agent_document(conn: Connection, agent: str, client: str, box: SecretBox | None) -> dict:
    """The configuration for one agent: global, then client, then agent entries (server.* left out), secrets
    opened (SecretKeyError when one is sealed and there is no box or another key)."""
    rows = conn.execute(select(config_entries).where(or_(
        config_entries.c.scope == "global",
        and_(config_entries.c.scope == "client", config_entries.c.target == client),
        and_(config_entries.c.scope == "agent", config_entries.c.target == agent))))
    document: dict = {}
    for row in sorted(rows, key=lambda r: (SCOPES.index(r.scope), r.key)):
        if not row.key.startswith(SERVER_PREFIX):
            if is_sealed(row.value) and box is None:
                raise SecretKeyError("stored credentials are sealed and this server has no secret key "
                                     "(FLEETMETER_SECRET_KEY or secret.key beside the CA)")
            put(document, row.key, _opened(row.value, box))
    contract_low = agent_supply_low_percent(conn, agent)  # contracts' request thresholds (server_stub.jobs)
    if contract_low is not None and contract_low > document.get("thresholds", {}).get(
            "supply_low_percent", DEFAULTS["thresholds"]["supply_low_percent"]):
        put(document, "thresholds.supply_low_percent", contract_low)
    return document


@dataclass(frozen=True)
class StateTiming:
    disconnected_after: timedelta
    stopped_reporting_after: timedelta
    final_alert_after: timedelta


TIMING_KEYS = tuple(SERVER_PREFIX + field for field in StateTiming.__dataclass_fields__)


def server_setting(conn: Connection, key: str) -> Any:
    """One global `server.*` setting: its stored value, else the default."""
    value = conn.execute(select(config_entries.c.value).where(
        config_entries.c.scope == "global", config_entries.c.target == "", config_entries.c.key == key)).scalar()
    return SERVER_DEFAULTS[key] if value is None else value


def state_timing(conn: Connection) -> StateTiming:
    values = dict(SERVER_DEFAULTS)
    for row in conn.execute(select(config_entries.c.key, config_entries.c.value).where(
            config_entries.c.scope == "global", config_entries.c.key.in_(TIMING_KEYS))):
        values[row.key] = row.value
    try:
        return StateTiming(*(durations.timedelta_of(values[k], 60, 365 * 86400) for k in TIMING_KEYS))
    except durations.DurationError:  # stored before values were checked: the default keeps heartbeats working
        return StateTiming(*(durations.timedelta_of(SERVER_DEFAULTS[k]) for k in TIMING_KEYS))


def mask(key: str, value: Any) -> Any:
    """Credentials with their secrets replaced by "***" (for listings)."""
    if key == "credentials" and isinstance(value, list):
        return [{k: ("***" if k in SECRET_FIELDS and v else v) for k, v in c.items()} if isinstance(c, dict) else c
                for c in value]
    if key.startswith("credentials") or key.rsplit(".", 1)[-1] in SECRET_FIELDS:
        return "***"
    return value
