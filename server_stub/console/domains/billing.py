from server_stub.console.domain_page import DomainPage

PAGE = DomainPage(
    "/billing", "Billing",
    "the billing period report (volumes per device and meter, the billing read chosen, estimates) and the "
    "ERP/CSV exports of bills and invoices",
    "server_stub.billing (bills/invoices tables, billing DB branch)",
    ("period_report(conn, period, *, client, page) -> rows with asset, meter, start read, end read, volume, "
     "estimated, amount (Decimal)",
     "export_bills(conn, period, stream) -> rows written (server_stub.billing.export.write_erp_csv on stored bills)"))
