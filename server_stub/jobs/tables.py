"""The back office's tables (migration 0006): contracts, stock, related stock, manual serial links, the
consumable request queue, consumable jobs with their lines and comments, ERP API tokens and the sync log.

An asset's custom serial and location are asset fields (asset_fields keys `custom_serial`, `location`), not
columns here: the fleet model already keeps the dealer's per-asset values.
"""

from __future__ import annotations

from sqlalchemy import (Boolean, Column, Date, Float, ForeignKey, Index, Integer, String, Table, Text,
                        UniqueConstraint, true)

from server_stub.db.tables import UTCDateTime, metadata

COLOURS = ("black", "cyan", "magenta", "yellow")

stock_items = Table(
    "stock_items", metadata,
    Column("part_code", String(100), primary_key=True),
    Column("description", String(500)),
    Column("colour", String(32)),  # black | cyan | magenta | yellow | ... (a supply's colour)
    Column("supply_class", String(64)),  # the supply type the part is: toner, drum, waste_toner, ...
    Column("yield_pages", Integer),  # rated yield; NULL when the dealer has not set it (a job comment says so)
    Column("updated_at", UTCDateTime, nullable=False),
)

# Related stock of a model (every asset of that model) or of one asset.
related_stock = Table(
    "related_stock", metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(200)),
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE")),
    Column("part_code", String(100), ForeignKey("stock_items.part_code", ondelete="CASCADE"), nullable=False),
    UniqueConstraint("model", "asset_id", "part_code", name="uq_related_stock"),
)

contracts = Table(
    "contracts", metadata,
    Column("id", Integer, primary_key=True),
    Column("number", String(100), nullable=False, unique=True),
    Column("serial", String(200), nullable=False),  # as the dealer's system holds it (may be a suffix)
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="SET NULL"), index=True),  # NULL: unmatched
    Column("status", String(16), nullable=False),  # active | finished
    Column("default_stock_black", String(100)),
    Column("default_stock_cyan", String(100)),
    Column("default_stock_magenta", String(100)),
    Column("default_stock_yellow", String(100)),
    Column("monitor", Boolean, nullable=False, server_default=true()),  # off: no automatic requests
    Column("threshold_override_percent", Float),  # request a supply at this level instead of the default
    Column("last_billed_date", Date),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Manual matching, remembered: a serial the dealer linked to an asset (asset_id set) or unlinked (asset_id NULL:
# this serial matches nothing automatically).
serial_links = Table(
    "serial_links", metadata,
    Column("serial", String(200), primary_key=True),  # normalised (upper case, trimmed)
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE")),
    Column("updated_at", UTCDateTime, nullable=False),
)

consumable_jobs = Table(
    "consumable_jobs", metadata,
    Column("id", Integer, primary_key=True),  # the job number
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("contract_id", Integer, ForeignKey("contracts.id", ondelete="SET NULL")),
    Column("status", String(24), nullable=False),  # booked | in_progress | ready_to_invoice | invoiced
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # when the job first reached ready_to_invoice (or invoiced): its consumables count as delivered then
    # (server_stub.billing.deliveries); cleared if the job goes back to booked or in_progress
    Column("completed_at", UTCDateTime),
    Index("ix_consumable_jobs_asset_status", "asset_id", "status"),
)

consumable_requests = Table(
    "consumable_requests", metadata,
    Column("id", Integer, primary_key=True),
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("device_index", Integer, nullable=False),
    Column("supply_index", Integer, nullable=False),
    Column("source", String(16), nullable=False),  # reorder | dealer | portal
    Column("requested_by", String(200)),
    Column("status", String(16), nullable=False),  # outstanding | actioned | completed
    Column("comment", Text, nullable=False, server_default=""),
    Column("job_id", Integer, ForeignKey("consumable_jobs.id", ondelete="SET NULL")),
    Column("erp_id", String(100)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("actioned_at", UTCDateTime),
    Column("completed_at", UTCDateTime),
    Index("ix_consumable_requests_status", "status"),
    Index("ix_consumable_requests_supply", "asset_id", "device_index", "supply_index"),
)

job_lines = Table(
    "job_lines", metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, ForeignKey("consumable_jobs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("request_id", Integer, ForeignKey("consumable_requests.id", ondelete="SET NULL")),
    Column("device_index", Integer, nullable=False),
    Column("supply_index", Integer, nullable=False),
    Column("colour", String(64)),
    Column("supply_type", String(64)),
    Column("part_code", String(100)),  # NULL: no stock found (a comment says so)
    Column("stock_source", String(16)),  # contract | related | NULL
    Column("created_at", UTCDateTime, nullable=False),
)

job_comments = Table(
    "job_comments", metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, ForeignKey("consumable_jobs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("text", Text, nullable=False),
)

erp_tokens = Table(
    "erp_tokens", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 of a 256-bit random token
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
)

job_syncs = Table(  # one row per request-queue sync (the worker's hourly run or `jobs sync`)
    "job_syncs", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actioned", Integer, nullable=False),
    Column("conflicts", Integer, nullable=False),
)

