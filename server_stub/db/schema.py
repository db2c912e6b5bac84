"""Every table the server declares: the core tables and each domain's (Alembic's env and the drift test
import this, so a domain's tables.py is listed here once)."""

from server_stub.db.tables import metadata
import server_stub.notify.tables  # noqa: F401  (notification settings, outbox)
import server_stub.supply.tables  # noqa: F401  (supply_state, supply orders, policy levels)

__all__ = ["metadata"]
