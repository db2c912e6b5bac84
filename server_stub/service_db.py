"""Tables of the agent service side: configuration entries (global, per client, per agent), the parts of
each agent as its last heartbeat reported them, and the server's alerts about agents.

They share `server_stub.db.metadata`; migration 0002 creates them.
"""

from __future__ import annotations

from sqlalchemy import (JSON, Boolean, Column, ForeignKey, Integer, PrimaryKeyConstraint, String, Table, Text,
                        UniqueConstraint)

from server_stub.db import UTCDateTime, metadata

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
    Column("kind", String(32), nullable=False),  # stopped_reporting | stopped_reporting_final
    Column("silent_since", UTCDateTime, nullable=False),  # the agent's last contact the alert is about
    Column("raised_at", UTCDateTime, nullable=False),
    Column("cleared_at", UTCDateTime),  # set when the agent reports again
    Column("message", Text, nullable=False),
    UniqueConstraint("agent_id", "kind", "silent_since", name="uq_agent_alert"),
)
