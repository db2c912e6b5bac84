from typing import Any

from sqlalchemy.engine import Connection

from server_stub.fleet.clients import list_clients
from server_stub.supply import policy_store
from server_stub.console.domain_page import DomainPage


def query(conn: Connection, filters: dict[str, str]) -> dict[str, Any]:
    """The global level and each client's, stored and resolved (what `policy show` prints)."""
    levels = [policy_store.show(conn, "global", None)]
    levels += [policy_store.show(conn, "client", c.name) for c in list_clients(conn)]
    return {"levels": levels}


PAGE = DomainPage(
    "/policy", "Policy",
    "reorder policy at each level (global, client, site, device): lead time, safety days, consolidation",
    "server_stub.supply.policy_store",
    query=query, template="policy.html")
