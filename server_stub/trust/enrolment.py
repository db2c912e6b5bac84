"""Agents: one-time enrolment keys, certificates issued from CSRs, revocation, the admin listing.

Keys are random, shown once, stored as SHA-256 (they carry 256 bits, so a slow hash adds nothing) and
consumed by the enrolment that uses them. One logical agent has at most one live certificate: a second
machine can enrol only after the first one's certificate is revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import Connection

from server_stub.trust.ca import CertificateAuthority, IssuedCertificate
from server_stub.db.tables import agents, certificates
from server_stub.db.engine import utcnow

KEY_PREFIX = "fmk_"


class AgentNotFound(LookupError):
    pass


class EnrolmentRefused(Exception):
    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(f"{error}: {detail}")
        self.status, self.error, self.detail = status, error, detail


@dataclass(frozen=True)
class NewKey:
    name: str
    client: str
    key: str
    expires_at: datetime
    existing: bool  # a new key for an agent that was already there (re-enrolment)
    live_certificate: bool  # that agent still has an unrevoked certificate


@dataclass(frozen=True)
class AgentRow:
    name: str
    client: str
    state: str
    created_at: datetime
    enrolled_at: datetime | None
    last_seen_at: datetime | None
    version: str | None
    hostname: str | None
    os: str | None
    ip_addresses: list[str]
    remote_ip: str | None
    queue_depth: int | None
    key_expires_at: datetime | None
    fingerprint: str | None
    cert_not_after: datetime | None
    config_refused: dict | None  # {"version", "error"}: the server configuration the agent last refused

    def to_json(self) -> dict:
        iso = lambda value: value.isoformat().replace("+00:00", "Z") if value else None  # noqa: E731
        return {"name": self.name, "client": self.client, "state": self.state,
                "created_at": iso(self.created_at), "enrolled_at": iso(self.enrolled_at),
                "last_seen_at": iso(self.last_seen_at), "version": self.version, "hostname": self.hostname,
                "os": self.os, "ip_addresses": self.ip_addresses, "remote_ip": self.remote_ip,
                "queue_depth": self.queue_depth, "key_expires_at": iso(self.key_expires_at),
                "certificate_fingerprint": self.fingerprint, "certificate_not_after": iso(self.cert_not_after),
                "config_refused": self.config_refused}


class AgentOfAnotherClient(Exception):
    """The agent name belongs to another client: a new key would hand that client's machine this one's
    credentials and readings (moving an agent is not done by `agents add`)."""

    def __init__(self, name: str, client: str) -> None:
        super().__init__(f"agent {name!r} belongs to client {client!r}; choose another name")
        self.client = client


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_agent(conn: Connection, name: str, client: str, valid_for: timedelta) -> NewKey:
    """Create the agent, or give an existing one a fresh key (the old unused key stops working)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    now = utcnow().replace(microsecond=0)
    expires_at = now + valid_for
    fields = {"key_hash": hash_key(key), "key_expires_at": expires_at, "key_used_at": None}
    row = conn.execute(select(agents.c.id, agents.c.client).where(agents.c.name == name)
                       .with_for_update()).first()
    live = False
    if row is None:
        conn.execute(insert(agents).values(name=name, client=client, state="new", created_at=now, **fields))
    else:
        if row.client != client:
            raise AgentOfAnotherClient(name, row.client)
        conn.execute(update(agents).where(agents.c.id == row.id).values(client=client, **fields))
        live = conn.execute(select(certificates.c.fingerprint).where(
            certificates.c.agent_id == row.id, certificates.c.revoked_at.is_(None))).first() is not None
    return NewKey(name, client, key, expires_at, row is not None, live)


def _active_certificate():
    return and_(certificates.c.agent_id == agents.c.id, certificates.c.revoked_at.is_(None))


def list_agents(conn: Connection) -> list[AgentRow]:
    query = (select(agents, certificates.c.fingerprint, certificates.c.not_after)
             .outerjoin(certificates, _active_certificate()).order_by(agents.c.client, agents.c.name))
    return [AgentRow(r.name, r.client, r.state, r.created_at, r.enrolled_at, r.last_seen_at, r.agent_version,
                     r.hostname, r.os, r.ip_addresses or [], r.remote_ip, r.queue_depth, r.key_expires_at,
                     r.fingerprint, r.not_after, r.config_refused) for r in conn.execute(query)]


def revoke_agent(conn: Connection, name: str) -> int:
    """Revoke every live certificate of the agent; returns how many. Effective on its next request."""
    now = utcnow()
    agent_id = conn.execute(select(agents.c.id).where(agents.c.name == name)).scalar()
    if agent_id is None:
        raise AgentNotFound(name)
    count = conn.execute(update(certificates).where(certificates.c.agent_id == agent_id,
                                                    certificates.c.revoked_at.is_(None))
                         .values(revoked_at=now)).rowcount
    conn.execute(update(agents).where(agents.c.id == agent_id).values(state="revoked"))
    return count


def enrol(conn: Connection, ca: CertificateAuthority, key: str, csr_pem: str, hostname: str | None,
          cert_days: int) -> tuple[str, str, IssuedCertificate]:
    """Consume the key and issue a certificate for the CSR's public key: (agent, client, certificate)."""
    now = utcnow()
    agent = conn.execute(select(agents).where(agents.c.key_hash == hash_key(key)).with_for_update()).first()
    if agent is None:
        raise EnrolmentRefused(401, "unknown agent key",
                               "the server knows no such agent key; check it was copied whole, or ask for a "
                               "new one (fleetmeter-server agents add NAME --client CLIENT)")
    if agent.key_used_at is not None:
        raise EnrolmentRefused(401, "agent key already used",
                               f"this key enrolled agent {agent.name!r} at {agent.key_used_at:%Y-%m-%d %H:%M} "
                               "UTC; keys are single-use: ask for a new one")
    if agent.key_expires_at <= now:
        raise EnrolmentRefused(401, "agent key expired",
                               f"the key for agent {agent.name!r} expired at "
                               f"{agent.key_expires_at:%Y-%m-%d %H:%M} UTC; ask for a new one "
                               f"(fleetmeter-server agents add {agent.name} --client ...)")
    live = conn.execute(select(certificates).where(certificates.c.agent_id == agent.id,
                                                   certificates.c.revoked_at.is_(None))).first()
    if live is not None:
        raise EnrolmentRefused(409, "agent already enrolled",
                               f"agent {agent.name!r} is enrolled on host {live.hostname or '?'} (certificate "
                               f"sha256:{live.fingerprint[:16]}); one machine per agent: revoke that "
                               f"certificate first (fleetmeter-server agents revoke {agent.name}), or add a "
                               "separate agent for this machine")
    issued = ca.sign_csr(csr_pem, agent.name, agent.client, cert_days)
    conn.execute(insert(certificates).values(
        fingerprint=issued.fingerprint, agent_id=agent.id, serial=issued.serial, pem=issued.pem,
        not_before=issued.not_before, not_after=issued.not_after, issued_at=now, hostname=hostname))
    conn.execute(update(agents).where(agents.c.id == agent.id).values(
        key_used_at=now, state="enrolled", enrolled_at=now, hostname=hostname or agent.hostname))
    return agent.name, agent.client, issued
