from typing import Any

from sqlalchemy.engine import Connection

from server_stub.billing.export import ERP_COLUMNS, erp_rows
from server_stub.billing.periods import Period
from server_stub.billing.store import export_entries, list_invoices
from server_stub.db.engine import utcnow


def period_of(text: str | None) -> tuple[Period, str | None]:
    """The period asked for (YYYY-MM), else the current month with the reason."""
    if text:
        try:
            return Period.parse(text), None
        except ValueError as exc:
            return Period.containing(utcnow()), str(exc)
    return Period.containing(utcnow()), None
from server_stub.console.domain_page import DomainPage


def query(conn: Connection, filters: dict[str, str]) -> dict[str, Any]:
    """The period's stored bills as the ERP export has them (`billing export`), and the invoices."""
    period, error = period_of(filters.get("period"))
    return {"period": str(period), "error": error, "columns": ERP_COLUMNS,
            "rows": erp_rows(export_entries(conn, period)), "invoices": list_invoices(conn, utcnow().date())}


PAGE = DomainPage(
    "/billing", "Billing",
    "the billing period report (volumes per device and meter, the billing read chosen, estimates) and the "
    "ERP/CSV exports of bills and invoices",
    "server_stub.billing (bills/invoices tables)",
    query=query, template="billing.html")
