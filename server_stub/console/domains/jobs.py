from typing import Any

from sqlalchemy.engine import Connection

from server_stub.jobs.requests import list_requests
from server_stub.jobs.rules import list_jobs
from server_stub.console.domain_page import DomainPage


def query(conn: Connection, filters: dict[str, str]) -> dict[str, Any]:
    """Jobs and the request queue through the functions `jobs list` and `requests list` call."""
    return {"jobs": list_jobs(conn, client=filters.get("client") or None, status=filters.get("status") or None),
            "requests": list_requests(conn, status=filters.get("requests") or None),
            "filters": {k: filters.get(k, "") for k in ("client", "status", "requests")}}


PAGE = DomainPage(
    "/jobs", "Consumable jobs",
    "consumable jobs (to pick, shipped, installed) and the request queue (customer and automatic requests "
    "waiting for a decision)",
    "server_stub.jobs (contracts/requests/jobs tables)",
    query=query, template="jobs.html")
