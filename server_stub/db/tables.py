"""The server's core tables (SQLAlchemy Core): agents, certificates, nonces, readings.

Everything that several `serve` processes must agree on lives here, not in process memory: agents and
their enrolment keys, certificates and revocations, seen nonces, rate-limit windows and readings.
Alembic migrations (server_stub/db/migrations) create these tables; this module is their one description.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, BigInteger, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, MetaData,
                        PrimaryKeyConstraint, String, Table, Text, TypeDecorator, UniqueConstraint, false, text,
                        true)

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
    Column("client", String(200), nullable=False),  # the client's name (clients.name), as given to `agents add`
    Column("client_id", Integer, ForeignKey("clients.id"), index=True),  # no ON DELETE: see migration 0004
    Column("site_id", Integer, ForeignKey("sites.id")),
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

# On PostgreSQL readings, meter_reads and supply_observations are partitioned by month on their time column
# (migration 0010, server_stub.db.partitions), and readings' primary key there is (id, collected_at): a
# partitioned table's keys include the partition column; id stays unique by its sequence. Declared here is the
# plain form SQLite uses (id alone: SQLite autoincrements only a one-column INTEGER key); Alembic's comparison
# does not look at primary-key columns, and the partitions themselves are left out of it (include_name).
readings = Table(
    "readings", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("agent_id", Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    Column("device_key", String(300), nullable=False),
    Column("collected_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("document", Document, nullable=False),
    Column("asset_id", Integer, ForeignKey("assets.id")),  # set by ingest; no index (insert speed); assets are never deleted
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
    Column("total_duration_ms", BigInteger, nullable=False, server_default="0"),  # over all runs (0010)
)

# Ingest requests refused, by reason (the problem's error, e.g. "invalid document"): counted here so every
# serve process's refusals add up in /metrics (migration 0010).
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

# ---------------------------------------------------------------------------------------------------------------
# The dealer's fleet model (migration 0004): clients, sites, coordinators, assets, and the history ingest derives
# from each stored reading (meter reads, supply observations, alert events, the latest state per asset).
# Time-series tables carry their time column in the primary key, so PostgreSQL can range-partition them by month.

clients = Table(
    "clients", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("prefix", String(32), unique=True),  # the dealer's short code (asset numbers, ERP exports)
    Column("tax_id", String(64)),
    Column("language", String(16)),  # BCP 47, e.g. "de", "pt-BR"
    Column("currency", String(3)),  # ISO 4217
    Column("address", Text),
    Column("created_at", UTCDateTime, nullable=False),
)

coordinators = Table(
    "coordinators", metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320)),
    Column("phone", String(64)),
    Column("is_main", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("client_id", "name", name="uq_coordinator_name"),
    # one main coordinator per client
    Index("uq_coordinator_main", "client_id", unique=True, sqlite_where=text("is_main"),
          postgresql_where=text("is_main")),
)

sites = Table(
    "sites", metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("address", Text),
    Column("coordinator_id", Integer, ForeignKey("coordinators.id", ondelete="SET NULL")),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("client_id", "name", name="uq_site_name"),
)

# Assets: one per physical printer of one client. `state`: to_complete (found by an agent, not yet accepted by the
# dealer), active (billed, listed), deleted (the dealer refused it; its readings still resolve to it so it does
# not come back), merged (folded into `merged_into_id`).
assets = Table(
    "assets", metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="SET NULL")),
    Column("state", String(16), nullable=False),  # to_complete | active | deleted | merged
    Column("manufacturer", String(200)),  # normalised (server_stub.assets.identity)
    Column("model", String(200)),
    Column("serial", String(200)),
    Column("mac", String(64)),
    Column("first_seen_at", UTCDateTime, nullable=False),  # received time of the first reading
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("last_agent_id", Integer, ForeignKey("agents.id", ondelete="SET NULL")),
    Column("last_address", String(255)),
    Column("merged_into_id", Integer, ForeignKey("assets.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("activated_at", UTCDateTime),
    Index("ix_assets_client_state", "client_id", "state"),
)

# The identities (server_stub.assets.identity.asset_key) that resolve to an asset, per client: a reading's
# key is looked up within its agent's client only, so one client's agents never write into another's assets.
# A merge points the merged asset's identities at the survivor; a split moves one identity to a new asset.
asset_identities = Table(
    "asset_identities", metadata,
    Column("client_id", Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False),
    Column("identity_key", String(300), nullable=False),
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("client_id", "identity_key"),
)

asset_fields = Table(  # the dealer's custom parameters: floor, department, inventory number, contract end ...
    "asset_fields", metadata,
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(100), nullable=False),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("asset_id", "key"),
)

asset_audit = Table(
    "asset_audit", metadata,
    Column("id", Integer, primary_key=True),
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(32), nullable=False),  # activate | delete | merge | split | set | unset | site
    Column("detail", Text, nullable=False),  # one human line, e.g. "merged asset 12 into 7"
    Column("actor", String(200)),
)

# One row per asset, meter and reading; `meter` is a counter name of the reading (total, mono, color, ... or a
# named extra a profile adds); `source_oid` / `origin` say where the number came from (bills are explained).
# `reading_id` refers to readings.id (no foreign key: raw readings expire before their meter reads).
meter_reads = Table(
    "meter_reads", metadata,
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("meter", String(64), nullable=False),
    Column("read_at", UTCDateTime, nullable=False),  # the reading's collected_at
    Column("value", BigInteger, nullable=False),
    Column("source_oid", String(255)),
    Column("origin", String(64)),
    Column("reading_id", Id),
    PrimaryKeyConstraint("asset_id", "meter", "read_at"),
)

# A supply of an asset is (device_index, supply_index); type, colour, part number and serial are recorded so a
# replacement can be detected (server_stub/supply). A row is written when anything changed since the supply's
# previous observation, and at least once a day.
supply_observations = Table(
    "supply_observations", metadata,
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("device_index", Integer, nullable=False),
    Column("supply_index", Integer, nullable=False),
    Column("observed_at", UTCDateTime, nullable=False),
    Column("type", String(64)),
    Column("color", String(64)),
    Column("description", String(1024)),
    Column("part_number", String(255)),
    Column("supply_serial", String(255)),
    Column("supply_class", String(32)),  # consumed | receptacle
    Column("unit", String(64)),
    Column("level", BigInteger),  # raw RFC 3805 value (-1 other, -2 unknown, -3 some remaining)
    Column("max_capacity", BigInteger),
    Column("percent", Float),
    Column("state", String(32)),
    Column("reading_id", Id),
    Column("pages_remaining", BigInteger),  # the printer's estimate of pages left (null: it did not say)
    PrimaryKeyConstraint("asset_id", "device_index", "supply_index", "observed_at"),
)

alert_events = Table(
    "alert_events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("code", String(255), nullable=False),  # the printer's alert code (or group/index when it sends none)
    Column("severity", String(64)),
    Column("description", String(1024)),
    Column("opened_at", UTCDateTime, nullable=False),  # collected_at of the first reading showing it
    Column("cleared_at", UTCDateTime),  # collected_at of the first reading without it
    Column("opened_reading_id", Id),
    Column("cleared_reading_id", Id),
    Index("ix_alert_events_asset_open", "asset_id", "cleared_at"),
)

# The latest state per asset, kept by ingest in the reading's transaction (listings read this, not readings).
# counters: {meter: value}; supplies: [{device_index, index, type, color, ..., percent, state, observed_at}]
# (also the base of the change test for supply observations); alerts: the open alert codes. On PostgreSQL its pages
# are half filled (fillfactor 50, migration 0018) so ingest's updates stay on their page (HOT).
asset_latest = Table(
    "asset_latest", metadata,
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True),
    Column("collected_at", UTCDateTime, nullable=False),
    Column("reading_id", Id),
    Column("agent_id", Integer, ForeignKey("agents.id", ondelete="SET NULL")),
    Column("address", String(255)),
    Column("readings", BigInteger, nullable=False, server_default="0"),  # readings stored for this asset
    Column("counters", JSON, nullable=False),
    Column("supplies", JSON, nullable=False),
    Column("alerts", JSON, nullable=False),
    Column("status", JSON),
    Column("updated_at", UTCDateTime, nullable=False),
)
