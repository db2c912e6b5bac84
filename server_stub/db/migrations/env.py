"""Alembic environment: runs on the connection server_stub.db.migrate hands over, or, from the `alembic`
command at the repository root, on FLEETMETER_DB (default: the server's own database)."""

from alembic import context

from server_stub.db.schema import metadata
from server_stub.db.tables import UTCDateTime


def _render_item(kind: str, item, _autogen_context):
    """Migrations spell UTCDateTime as the plain column type it is stored as."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      render_item=_render_item)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from server_stub.db.engine import make_engine
    from server_stub.paths import database_url, server_paths

    with make_engine(database_url(None, server_paths())).connect() as connection:
        _run(connection)
        connection.commit()
