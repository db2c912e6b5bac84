"""Heartbeats, agent states and "agent stopped reporting" alerts.

POST /v1/heartbeat (signed like /v1/ingest) records that the agent is alive, what its parts (network
scanning, USB) last did, and answers with the agent's configuration (global < client < agent entries).

States, as Focalist names them:
    new           created on the server, never connected (no heartbeat or upload yet)
    connected     heard from within `server.disconnected_after` (default 15 min) and its parts agree
    ambiguous     heard from, but its parts disagree: the network part works and the USB part does not, or
                  the other way round (the logical agent is only partly collecting)
    disconnected  no heartbeat or upload within `server.disconnected_after`
    revoked       its certificate was revoked (trust spine)

After `server.stopped_reporting_after` (7 days) of silence the server raises "agent stopped reporting",
and a final one after `server.final_alert_after` (30 days); each once per silence (the agent reporting
again clears them, and a later silence raises them anew).

An agent that refuses the configuration the server sends it (a heartbeat with `agent.config_refused`:
version and error) keeps its last good one; the server stores the refusal with the agent and raises a
"config_refused" alert, cleared by the first heartbeat without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, select, update
from sqlalchemy.engine import Connection

from server_stub.api.models import HeartbeatRequest
from server_stub.db.engine import upsert_insert, utcnow
from server_stub.db.tables import agent_alerts, agent_parts, agents
from server_stub.fleet.remote_config import StateTiming, agent_document, document_version, state_timing
from server_stub.trust.secrets import SecretBox

ALERT_KINDS = ("stopped_reporting", "stopped_reporting_final")
CONFIG_REFUSED = "config_refused"


@dataclass(frozen=True)
class PartState:
    part: str
    ok: bool
    detail: str | None
    last_run_at: datetime | None


def connection_state(stored_state: str, last_seen: datetime | None, parts: list[PartState], now: datetime,
                     timing: StateTiming) -> str:
    if stored_state == "revoked":
        return "revoked"
    if last_seen is None:
        return "new"
    if now - last_seen > timing.disconnected_after:
        return "disconnected"
    if len({part.ok for part in parts}) > 1:
        return "ambiguous"
    return "connected"


def agent_states(conn: Connection) -> dict[str, tuple[str, list[PartState]]]:
    """Agent name -> (state, parts), for listings."""
    now = utcnow()
    timing = state_timing(conn)
    parts: dict[int, list[PartState]] = {}
    for row in conn.execute(select(agent_parts).order_by(agent_parts.c.part)):
        parts.setdefault(row.agent_id, []).append(PartState(row.part, row.ok, row.detail, row.last_run_at))
    return {row.name: (connection_state(row.state, row.last_seen_at, parts.get(row.id, []), now, timing),
                       parts.get(row.id, []))
            for row in conn.execute(select(agents.c.id, agents.c.name, agents.c.state, agents.c.last_seen_at))}


def record(conn: Connection, agent_id: int, beat: HeartbeatRequest, remote_ip: str | None,
           box: SecretBox | None) -> dict:
    """Record a verified heartbeat (its nonce already claimed); answer with the agent's configuration."""
    now = utcnow()
    info = beat.agent
    refused = info.config_refused.model_dump() if info.config_refused else None
    conn.execute(update(agents).where(agents.c.id == agent_id).values(
        last_seen_at=now, agent_version=info.version, hostname=info.hostname, os=info.os,
        ip_addresses=[str(ip) for ip in info.ip_addresses], remote_ip=remote_ip, queue_depth=info.queue_depth,
        config_refused=refused))
    conn.execute(delete(agent_parts).where(agent_parts.c.agent_id == agent_id))
    for name, part in beat.parts.items():
        conn.execute(agent_parts.insert().values(agent_id=agent_id, part=name, ok=part.ok,
                                                 detail=part.detail or None, last_run_at=part.at,
                                                 reported_at=now))
    conn.execute(update(agent_alerts).where(agent_alerts.c.agent_id == agent_id, agent_alerts.c.kind.in_(ALERT_KINDS),
                                            agent_alerts.c.cleared_at.is_(None)).values(cleared_at=now))
    row = conn.execute(select(agents.c.name, agents.c.client, agents.c.state).where(agents.c.id == agent_id)).one()
    _config_refusal_alert(conn, agent_id, row.name, row.client, refused, now)
    config = agent_document(conn, row.name, row.client, box)
    parts = [PartState(n, p.ok, p.detail, p.at) for n, p in beat.parts.items()]
    state = connection_state(row.state, now, parts, now, state_timing(conn))
    return {"config": config, "config_version": document_version(config), "state": state}


def _config_refusal_alert(conn: Connection, agent_id: int, name: str, client: str, refused: dict | None,
                          now: datetime) -> None:
    """One open config_refused alert per refusal (a new version or error replaces it); none once accepted."""
    message = refused and (f"agent {name} (client {client}) refused configuration {refused['version']} and keeps "
                           f"its last good one: {refused['error']}")
    is_open = and_(agent_alerts.c.agent_id == agent_id, agent_alerts.c.kind == CONFIG_REFUSED,
                   agent_alerts.c.cleared_at.is_(None))
    if message and conn.execute(select(agent_alerts.c.id).where(is_open, agent_alerts.c.message == message)).first():
        return
    conn.execute(update(agent_alerts).where(is_open).values(cleared_at=now))
    if message:
        conn.execute(agent_alerts.insert().values(agent_id=agent_id, kind=CONFIG_REFUSED, silent_since=now,
                                                  raised_at=now, message=message))


def raise_silence_alerts(conn: Connection) -> int:
    """Raise the stopped-reporting alerts that are due; returns how many were raised now."""
    now = utcnow()
    raised = 0
    timing = state_timing(conn)
    thresholds = dict(zip(ALERT_KINDS, (timing.stopped_reporting_after, timing.final_alert_after)))
    silent = conn.execute(select(agents.c.id, agents.c.name, agents.c.client, agents.c.last_seen_at).where(
        agents.c.last_seen_at.is_not(None), agents.c.state != "revoked",
        agents.c.last_seen_at < now - timing.stopped_reporting_after)).all()
    open_alerts = {(row.agent_id, row.kind) for row in conn.execute(
        select(agent_alerts.c.agent_id, agent_alerts.c.kind).where(agent_alerts.c.cleared_at.is_(None)))}
    for agent in silent:
        for kind, after in thresholds.items():
            if now - agent.last_seen_at < after or (agent.id, kind) in open_alerts:
                continue
            days = (now - agent.last_seen_at).days
            message = (f"agent {agent.name} (client {agent.client}) stopped reporting: no contact since "
                       f"{agent.last_seen_at:%Y-%m-%d %H:%M} UTC ({days} days)" +
                       ("; final notice: its printers are not being read" if kind == ALERT_KINDS[1] else ""))
            inserted = conn.execute(upsert_insert(conn, agent_alerts).values(
                agent_id=agent.id, kind=kind, silent_since=agent.last_seen_at, raised_at=now, message=message)
                .on_conflict_do_nothing(index_elements=["agent_id", "kind", "silent_since"])
                .returning(agent_alerts.c.id)).first()
            raised += inserted is not None
    return raised


@dataclass(frozen=True)
class AlertRow:
    id: int
    agent: str
    client: str
    kind: str
    silent_since: datetime
    raised_at: datetime
    cleared_at: datetime | None
    message: str

    def to_json(self) -> dict:
        iso = lambda value: value.isoformat().replace("+00:00", "Z") if value else None  # noqa: E731
        return {"id": self.id, "agent": self.agent, "client": self.client, "kind": self.kind,
                "silent_since": iso(self.silent_since), "raised_at": iso(self.raised_at),
                "cleared_at": iso(self.cleared_at), "message": self.message}


def list_alerts(conn: Connection, include_cleared: bool = False) -> list[AlertRow]:
    query = (select(agent_alerts, agents.c.name, agents.c.client).join(agents, agents.c.id == agent_alerts.c.agent_id)
             .order_by(agent_alerts.c.raised_at, agent_alerts.c.id))
    if not include_cleared:
        query = query.where(agent_alerts.c.cleared_at.is_(None))
    return [AlertRow(r.id, r.name, r.client, r.kind, r.silent_since, r.raised_at, r.cleared_at, r.message)
            for r in conn.execute(query)]
