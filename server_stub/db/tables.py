"""The server's core tables (SQLAlchemy Core): agents, certificates, nonces, readings.

Everything that several `serve` processes must agree on lives here, not in process memory: agents and
their enrolment keys, certificates and revocations, seen nonces, rate-limit windows and readings.
Alembic migrations (server_stub/db/migrations) create these tables; this module is their one description.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, BigInteger, Boolean, Column, DateTime, ForeignKey, Integer, MetaData,
                        PrimaryKeyConstraint, String, Table, Text, TypeDecorator, UniqueConstraint)

metadata = MetaData()


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out; `timestamptz` on PostgreSQL, naive UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# `json`, not `jsonb`, on PostgreSQL: each reading is kept as the exact text the agent signed (an audit trail
# for billing), and converting to jsonb cost more than the rest of the insert. Queries extract with ->/->>.
Document = JSON()
Id = BigInteger().with_variant(Integer(), "sqlite")

agents = Table(
    "agents", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("client", String(200), nullable=False),
    Column("state", String(16), nullable=False),  # new | enrolled | revoked
    Column("created_at", UTCDateTime, nullable=False),
    Column("key_hash", String(64), unique=True),  # SHA-256 of the one-time agent key
    Column("key_expires_at", UTCDateTime),
    Column("key_used_at", UTCDateTime),
    Column("enrolled_at", UTCDateTime),
    Column("last_seen_at", UTCDateTime),
    Column("agent_version", String(100)),
    Column("hostname", String(255)),
    Column("os", String(255)),
    Column("ip_addresses", JSON),
    Column("remote_ip", String(64)),
    Column("queue_depth", Integer),
    Column("rate_window", BigInteger, nullable=False, server_default="0"),
    Column("rate_count", Integer, nullable=False, server_default="0"),
    Column("config_refused", JSON),  # {"version", "error"}: the configuration its last heartbeat refused (0005)
)

certificates = Table(
    "certificates", metadata,
    Column("fingerprint", String(64), primary_key=True),  # SHA-256 of the DER certificate, hex
    Column("agent_id", Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("serial", String(64), nullable=False),
    Column("pem", Text, nullable=False),
    Column("not_before", UTCDateTime, nullable=False),
    Column("not_after", UTCDateTime, nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("hostname", String(255)),
    Column("revoked_at", UTCDateTime),
)

nonces = Table(
    "nonces", metadata,
    Column("nonce", String(128), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False, index=True),
)

readings = Table(
    "readings", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("agent_id", Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    Column("device_key", String(300), nullable=False),
    Column("collected_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("document", Document, nullable=False),
    UniqueConstraint("agent_id", "device_key", "collected_at", name="uq_readings_idempotency"),
)

# The agent service side: configuration entries (global, per client, per agent), the parts of each agent as
# its last heartbeat reported them, and the server's alerts about agents (migration 0002).
config_entries = Table(
    "config_entries", metadata,
    Column("id", Integer, primary_key=True),
    Column("scope", String(16), nullable=False),  # global | client | agent
    Column("target", String(200), nullable=False),  # client or agent name; "" for global
    Column("key", String(200), nullable=False),  # dotted path, e.g. schedules.alerts.interval
    Column("value", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("scope", "target", "key", name="uq_config_entry"),
)

agent_parts = Table(
    "agent_parts", metadata,
    Column("agent_id", Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    Column("part", String(32), nullable=False),  # network | usb
    Column("ok", Boolean, nullable=False),
    Column("detail", String(255)),
    Column("last_run_at", UTCDateTime),  # when the agent says this part last ran
    Column("reported_at", UTCDateTime, nullable=False),  # the heartbeat that said so
    PrimaryKeyConstraint("agent_id", "part"),
)

agent_alerts = Table(
    "agent_alerts", metadata,
    Column("id", Integer, primary_key=True),
    Column("agent_id", Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),  # stopped_reporting | stopped_reporting_final | config_refused
    # the agent's last contact the alert is about (config_refused: the heartbeat that first reported it)
    Column("silent_since", UTCDateTime, nullable=False),
    Column("raised_at", UTCDateTime, nullable=False),
    Column("cleared_at", UTCDateTime),  # set when the agent reports again
    Column("message", Text, nullable=False),
    UniqueConstraint("agent_id", "kind", "silent_since", name="uq_agent_alert"),
)

# Periodic work (server_stub/worker): one row per task, claimed by advancing next_run_at (migration 0003).
worker_tasks = Table(
    "worker_tasks", metadata,
    Column("name", String(64), primary_key=True),
    Column("next_run_at", UTCDateTime, nullable=False),
    Column("last_started_at", UTCDateTime),
    Column("last_finished_at", UTCDateTime),
    Column("last_duration_ms", Integer),
    Column("last_error", Text),
    Column("runs", Integer, nullable=False, server_default="0"),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("total_duration_ms", BigInteger, nullable=False, server_default="0"),  # over all runs (0006)
)

# Ingest requests refused, by reason (the problem's error, e.g. "invalid document"): counted here so every
# serve process's refusals add up in /metrics (migration 0006).
ingest_rejections = Table(
    "ingest_rejections", metadata,
    Column("reason", String(64), primary_key=True),
    Column("count", BigInteger, nullable=False),
)

# Rate-limit windows shared by every serve process (heartbeats per agent, enrolment attempts per address and
# per key): one row per bucket, the count of the current one-minute window (migration 0005).
rate_limits = Table(
    "rate_limits", metadata,
    Column("bucket", String(120), primary_key=True),
    Column("window", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
)
