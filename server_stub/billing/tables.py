"""Billing's tables (migration 0007_billing): plans per client, the reads each bill used, technician counter
breaks, manual reads, outlier approvals, bills, invoices with their file, and payments.

Money is Numeric (exact Decimal in and out), never Float. Periods are 'YYYY-MM' strings (billing/periods.py).
Uniqueness the database enforces, so several server processes cannot double anything:
- one plan version per client and effective-from period;
- one bill per client and period (a second run, concurrent or later, gets the stored bill back);
- one set of billing reads per asset, meter and period (a period's closing read is the next one's opening);
- one invoice per bill, invoice numbers unique.
"""

from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Column, Date, ForeignKey, Integer, LargeBinary, Numeric,
                        PrimaryKeyConstraint, String, Table, Text, UniqueConstraint)

from server_stub.db.tables import UTCDateTime, metadata

Money = Numeric(18, 6, asdecimal=True)
PeriodText = String(7)  # YYYY-MM

billing_plans = Table(
    "billing_plans", metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False),
    Column("effective_from", PeriodText, nullable=False),
    Column("plan", Text, nullable=False),  # BillingPlan.dump_json(): read back with plans.load_plan(text, "json")
    Column("set_at", UTCDateTime, nullable=False),
    Column("set_by", String(200)),
    UniqueConstraint("client_id", "effective_from", name="uq_billing_plan_period"),
)

# Reads a technician typed in (kind "manual"); the fleet's meter_reads stay what printers reported.
manual_reads = Table(
    "manual_reads", metadata,
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("meter", String(64), nullable=False),
    Column("read_at", UTCDateTime, nullable=False),
    Column("value", BigInteger, nullable=False),
    Column("entered_by", String(200), nullable=False),
    Column("entered_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("asset_id", "meter", "read_at"),
)

# A reset or a swap a technician recorded (reads.CounterBreak): takes precedence over what the reads suggest.
meter_breaks = Table(
    "meter_breaks", metadata,
    Column("id", Integer, primary_key=True),
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("meter", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(8), nullable=False),  # reset | swap
    Column("old_final", BigInteger),
    Column("new_start", BigInteger),
    Column("serial", String(200)),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)

# A reviewer released a held (outlier) volume of one asset meter and period for billing.
billing_approvals = Table(
    "billing_approvals", metadata,
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("meter", String(64), nullable=False),
    Column("period", PeriodText, nullable=False),
    Column("approved_by", String(200), nullable=False),
    Column("approved_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("asset_id", "meter", "period"),
)

bills = Table(
    "bills", metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False),
    Column("period", PeriodText, nullable=False),
    Column("plan_type", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total", Money, nullable=False),
    Column("document", JSON, nullable=False),  # export.bill_document(bill): lines, tiers, reads used
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200)),
    UniqueConstraint("client_id", "period", name="uq_bill_client_period"),
)

# The opening and closing read billed per asset, meter and period, with provenance. A period's closing read is
# the next period's opening, so a past period never changes when reads arrive late.
billing_reads = Table(
    "billing_reads", metadata,
    Column("bill_id", Integer, ForeignKey("bills.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("asset_id", Integer, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("meter", String(64), nullable=False),
    Column("period", PeriodText, nullable=False),
    Column("role", String(8), nullable=False),  # opening | closing
    Column("read_at", UTCDateTime, nullable=False),
    Column("value", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # read | manual | estimated
    Column("serial", String(200)),
    Column("source_oid", String(255)),
    Column("origin", String(64)),
    Column("reading_id", BigInteger),
    Column("entered_by", String(200)),
    Column("basis", JSON),  # estimated: the actual read it extrapolates (same keys as these columns)
    Column("daily_volume", String(64)),  # estimated: the rate used, exact decimal text
    Column("pages", BigInteger, nullable=False),
    Column("true_up_pages", BigInteger, nullable=False),
    PrimaryKeyConstraint("asset_id", "meter", "period", "role"),
)

invoices = Table(
    "invoices", metadata,
    Column("id", Integer, primary_key=True),
    Column("number", String(64), nullable=False, unique=True),
    Column("client_id", Integer, ForeignKey("clients.id", ondelete="RESTRICT"), nullable=False, index=True),
    Column("bill_id", Integer, ForeignKey("bills.id", ondelete="RESTRICT"), unique=True),
    Column("period", PeriodText),
    Column("amount", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("file_name", String(200), nullable=False),
    Column("file_type", String(100), nullable=False),
    Column("file", LargeBinary, nullable=False),  # the invoice's own document (HTML)
    Column("created_at", UTCDateTime, nullable=False),
)

payments = Table(
    "payments", metadata,
    Column("id", Integer, primary_key=True),
    Column("invoice_id", Integer, ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("amount", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("reference", String(200)),
    Column("recorded_at", UTCDateTime, nullable=False),
)
