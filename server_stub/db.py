"""The server's tables (SQLAlchemy Core) and engine.

Everything that several `serve` processes must agree on lives here, not in process memory: agents and
their enrolment keys, certificates and revocations, seen nonces, rate-limit windows and readings.
Alembic migrations (server_stub/migrations) create these tables; this module is their one description.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, BigInteger, Column, DateTime, ForeignKey, Integer, MetaData, String,
                        Table, Text, TypeDecorator, UniqueConstraint, create_engine, event)
from sqlalchemy.engine import Engine

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


def make_engine(url: str) -> Engine:
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
