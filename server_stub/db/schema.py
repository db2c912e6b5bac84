"""Every table the server declares: the core tables plus each domain's own table module (one import line
per domain). Alembic's env and the migrations drift test read `metadata` from here."""

from server_stub.db.tables import metadata
import server_stub.billing.tables  # noqa: F401  (billing: plans, reads, bills, invoices, payments)

__all__ = ["metadata"]
