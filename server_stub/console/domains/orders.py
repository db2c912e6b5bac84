from server_stub.console.domain_page import DomainPage

PAGE = DomainPage(
    "/orders", "Orders",
    "consumable orders with their lifecycle (proposed, placed, shipped, delivered, cancelled) and the reason "
    "each was placed (which supply, which forecast, which policy, consolidation)",
    "server_stub.supply (orders table, supply live branch)",
    ("list_orders(conn, *, client, state, page) -> rows with id, client, site, state, placed_at, lines",
     "order_detail(conn, order_id) -> order, lines, state history, reasons"))
