"""Customer portal tables (SDF KundOnline's model): portal accounts and the sites and projects each may see,
fault reports and the dealer's queue, service orders with their lines, projects with their lines, and the
consumable requests customers make by hand. Money columns are Numeric (Decimal in Python)."""

from __future__ import annotations

from sqlalchemy import (Boolean, Column, ForeignKey, Integer, Numeric, PrimaryKeyConstraint, String, Table, Text,
                        false)

from server_stub.db.tables import UTCDateTime, metadata

Money = Numeric(14, 2)
Quantity = Numeric(12, 3)

# One per web user of kind `portal`: the client it belongs to and the per-account options of the seed.
portal_accounts = Table(
    "portal_accounts", metadata,
    Column("user_id", Integer, ForeignKey("web_users.id", ondelete="CASCADE"), primary_key=True),
    Column("client_id", Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("order_directly", Boolean, nullable=False, server_default=false()),  # "Order direkt"
    Column("hide_performed_actions", Boolean, nullable=False, server_default=false()),  # "Dölj utf. åtg"
    Column("show_project_purchase_prices", Boolean, nullable=False, server_default=false()),
    Column("show_order_purchase_prices", Boolean, nullable=False, server_default=false()),
)

portal_account_sites = Table(
    "portal_account_sites", metadata,
    Column("user_id", Integer, ForeignKey("portal_accounts.user_id", ondelete="CASCADE"), nullable=False),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False, index=True),
    PrimaryKeyConstraint("user_id", "site_id"),
)

projects = Table(
    "projects", metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
)

project_lines = Table(
    "project_lines", metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("description", String(500), nullable=False),
    Column("quantity", Quantity, nullable=False),
    Column("unit_price", Money, nullable=False),
    Column("purchase_price", Money),
)

portal_account_projects = Table(
    "portal_account_projects", metadata,
    Column("user_id", Integer, ForeignKey("portal_accounts.user_id", ondelete="CASCADE"), nullable=False),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True),
    PrimaryKeyConstraint("user_id", "project_id"),
)

# status: planned | in_progress | performed | cancelled. `performed_action` is what the technician did.
service_orders = Table(
    "service_orders", metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="RESTRICT"), nullable=False, index=True),
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="SET NULL")),
    Column("status", String(16), nullable=False),
    Column("description", Text, nullable=False),
    Column("performed_action", Text),
    Column("planned_for", UTCDateTime),  # the calendar's date; NULL until the dealer schedules it
    Column("created_at", UTCDateTime, nullable=False),
)

service_order_lines = Table(
    "service_order_lines", metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("service_orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("description", String(500), nullable=False),
    Column("quantity", Quantity, nullable=False),
    Column("unit_price", Money, nullable=False),
    Column("purchase_price", Money),
)

# status: queued (in the dealer's queue) | accepted (order_id made) | rejected (reject_reason).
fault_reports = Table(
    "fault_reports", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("web_users.id", ondelete="SET NULL")),
    Column("client_id", Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="SET NULL")),
    Column("description", Text, nullable=False),
    Column("contact", String(200)),
    Column("status", String(16), nullable=False, index=True),
    Column("reject_reason", Text),
    Column("order_id", Integer, ForeignKey("service_orders.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime),
)
