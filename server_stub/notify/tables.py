"""The notification domain's tables: per-client settings and the outbox of mails (queued in the transaction
of the event, sent by the worker: at once, or in the client's daily digest)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from server_stub.db.tables import Document, UTCDateTime, metadata

# Notifications per client (server_stub.notify): categories, recipients, immediate or digest, own text.
notify_settings = Table(
    "notify_settings", metadata,
    Column("client_id", Integer, ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True),
    Column("document", Document, nullable=False),
)
notify_outbox = Table(
    "notify_outbox", metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False),
    Column("category", String(16), nullable=False),  # device | consumable | snmp_alert | agent | other
    Column("digest", Boolean, nullable=False),  # sent in the client's daily digest, else at once
    Column("dedupe_key", String(200), nullable=False),  # one mail per event, however many runs see it
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    UniqueConstraint("client_id", "dedupe_key", name="uq_notify_outbox_key"),
)
