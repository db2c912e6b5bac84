"""The supply domain's tables: the engine's state per asset supply (with its forecast for listings), the
site rows that serialise decisions, orders and their lines, the policy levels, and notification settings.

The engine (server_stub.supply.engine) is the one place that decides; these tables only keep its plain-value
state between worker runs (server_stub.supply.live) so every server process sharing the database continues
the same engine.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from server_stub.db.tables import Document, Id, UTCDateTime, metadata

# One row per asset supply the engine follows: the Slot as tagged JSON, the last forecast flattened for
# listings, and the watermark (readings.id) of the last observation applied.
supply_state = Table(
    "supply_state", metadata,
    Column("id", Integer, primary_key=True),  # creation order = the engine's order of a site's supplies
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("supply_key", String(32), nullable=False),
    Column("site_key", String(64), nullable=False, index=True),
    Column("state", Document, nullable=False),
    Column("watermark", Id, nullable=False),
    Column("percent", Float),
    Column("days_left", Float),
    Column("pages_left", Integer),
    Column("empty_on", UTCDateTime),
    Column("empty_earliest", UTCDateTime),
    Column("empty_latest", UTCDateTime),
    Column("method", String(32)),
    Column("supply_class", String(16)),  # the policy class (mono_toner, ...): the console filters on it
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("asset_id", "supply_key", name="uq_supply_state_slot"),
    Index("ix_supply_state_empty_on", "empty_on"),
)

# Per asset: what the engine keeps for the device (page history and the day's usage rate) and the watermark
# of the last reading the worker applied.
supply_assets = Table(
    "supply_assets", metadata,
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True),
    Column("state", Document, nullable=False),
    Column("watermark", Id, nullable=False),
)

# Fleet-wide learning and cartridge serials (which asset a cartridge was first seen on).
supply_fleet = Table(
    "supply_fleet", metadata,
    Column("fleet_key", String(300), primary_key=True),
    Column("pages_per_percent", Document, nullable=False),
)
supply_cartridges = Table(
    "supply_cartridges", metadata,
    Column("serial", String(200), primary_key=True),
    Column("device", String(200), nullable=False),
)

# A site's decisions are serialised on this row (SELECT ... FOR UPDATE; PostgreSQL also takes an advisory
# lock) so two processes never place the same order.
supply_sites = Table(
    "supply_sites", metadata,
    Column("site_key", String(64), primary_key=True),
    Column("client_id", Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False),
    Column("decided_at", UTCDateTime),
)

supply_orders = Table(
    "supply_orders", metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False),
    Column("site_key", String(64), nullable=False),
    Column("status", String(32), nullable=False),  # server_stub.supply.orders.Status values
    Column("blocked", Boolean, nullable=False),
    Column("kind", String(16), nullable=False),  # auto | query | manual
    Column("rule", String(64), nullable=False),
    Column("placed_at", UTCDateTime, nullable=False),
    Column("shipped_at", UTCDateTime),
    Column("delivered_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("why", Document, nullable=False),  # forecast, rule, readings that fired it, consolidated lines
    Column("notified_at", UTCDateTime),
    Column("backordered_at", UTCDateTime),  # the supplier cannot deliver yet (server_stub.supply.orders)
    Column("backordered_until", UTCDateTime),  # when the goods are expected (NULL: not known)
    Column("backorder_note", String(2000)),
    Index("ix_supply_orders_site_status", "site_key", "status"),
)
supply_order_lines = Table(
    "supply_order_lines", metadata,
    Column("order_id", Integer, ForeignKey("supply_orders.id", ondelete="CASCADE"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("device", String(200), nullable=False),
    Column("supply_key", String(32), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("installed", Integer, nullable=False),
    Column("part_number", String(200)),
    Column("reason", String(64), nullable=False),
    UniqueConstraint("order_id", "line_no", name="uq_supply_order_line"),
)

# Which consumable request (server_stub.jobs.requests) an order line was queued as (server_stub.supply.links): a
# new request, or the supply's request that was already open. Billing counts an order line and the job line of
# its request as one shipment (server_stub.billing.deliveries).
supply_order_requests = Table(
    "supply_order_requests", metadata,
    Column("order_id", Integer, ForeignKey("supply_orders.id", ondelete="CASCADE"), nullable=False),
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("supply_key", String(32), nullable=False),
    Column("request_id", Integer, ForeignKey("consumable_requests.id", ondelete="CASCADE"), nullable=False,
           index=True),
    UniqueConstraint("order_id", "asset_id", "supply_key", name="uq_supply_order_request"),
)

# Policy levels: ("global", "") holds a whole policy file; ("client", name) and ("device", serial) hold the
# rules of that level. Checked with the policy's strict model before storing.
supply_policy = Table(
    "supply_policy", metadata,
    Column("level", String(8), nullable=False),
    Column("key", String(200), nullable=False),
    Column("document", Document, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("level", "key", name="uq_supply_policy_level"),
)

# What the engine detected, kept for people (the device page): each replacement with what the removed cartridge
# still held, and each alarm (premature, low efficiency, without order, ...). Written by the worker's run
# (server_stub.supply.events); the engine never reads them back.
supply_replacements = Table(
    "supply_replacements", metadata,
    Column("id", Integer, primary_key=True),
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("supply_key", String(32), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("cause", String(32), nullable=False),
    Column("left_percent", Float),
    Column("premature", Boolean, nullable=False),
    Column("wasted_pages", Integer),
    Column("removed_pages", Integer),
    Column("new_percent", Float),
    Column("new_serial", String(200)),
    Column("order_id", Integer),  # the order line it fulfilled (no foreign key: an order may be purged)
    UniqueConstraint("asset_id", "supply_key", "at", name="uq_supply_replacement"),
)
supply_alarms = Table(
    "supply_alarms", metadata,
    Column("id", Integer, primary_key=True),
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("supply_key", String(32), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Document, nullable=False),
    UniqueConstraint("asset_id", "supply_key", "at", "kind", name="uq_supply_alarm"),
)
