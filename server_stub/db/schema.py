"""Every table the server declares: the core tables (server_stub.db.tables) plus each domain's own table module.
Alembic's environment and the migrations drift test take `metadata` from here."""

from server_stub.db.tables import metadata
from server_stub.jobs import tables as _jobs  # noqa: F401

__all__ = ["metadata"]
