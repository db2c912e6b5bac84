from server_stub.console.domain_page import DomainPage

PAGE = DomainPage(
    "/jobs", "Consumable jobs",
    "consumable jobs (to pick, shipped, installed) and the request queue (customer and automatic requests "
    "waiting for a decision)",
    "server_stub.jobs (contracts/requests/jobs tables, jobs branch)",
    ("list_jobs(conn, *, state, client, page) -> rows with id, client, site, asset, supply, state, created_at",
     "request_queue(conn, *, page) -> rows with id, source, client, asset, supply, requested_at, note"))
