from typing import Any

from sqlalchemy.engine import Connection

from server_stub.fleet.clients import list_clients
from server_stub.notify import settings
from server_stub.console.domain_page import DomainPage


def query(conn: Connection, filters: dict[str, str]) -> dict[str, Any]:
    """Each client's notification settings (None: the client has not set any)."""
    shown = []
    for client in list_clients(conn):
        stored = settings.load(conn, client.id)
        shown.append((client.name, stored, stored and stored.model_dump(mode="json", exclude={"recipients"})))
    return {"clients": shown}


PAGE = DomainPage(
    "/notifications", "Notifications",
    "per client: who is told about low supplies, orders, faults and silent agents, by e-mail",
    "server_stub.notify (notification settings table)",
    query=query, template="notifications.html")
