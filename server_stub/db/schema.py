"""Every table the server declares: the core tables (server_stub.db.tables) plus each domain's own table module.
Alembic's environment and the migrations drift test take `metadata` from here."""

from server_stub.db.tables import metadata
from server_stub.jobs import tables as _jobs  # noqa: F401
from server_stub.billing import tables as _billing  # noqa: F401
from server_stub.portal import tables as _portal  # noqa: F401
from server_stub.web import tables as _web  # noqa: F401
from server_stub.notify import tables as _notify  # noqa: F401
from server_stub.supply import tables as _supply  # noqa: F401

__all__ = ["metadata"]
