"""Every table the server declares: the core tables plus each domain's own module. Alembic's env and the
migrations drift test import this, so a domain's tables are seen by both."""

from server_stub.db.tables import metadata  # noqa: F401
from server_stub.portal import tables as _portal_tables  # noqa: F401
from server_stub.web import tables as _web_tables  # noqa: F401
