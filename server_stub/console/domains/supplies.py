from server_stub.console.domain_page import DomainPage

PAGE = DomainPage(
    "/supplies", "Supplies due",
    "supplies by days left (filter by days left, level, class, site) with the orders they caused; the "
    "forecast line and range on each device's supply chart, and the days left on the fleet overview",
    "server_stub.supply (orders/forecasts tables, supply live branch)",
    ("supplies_due(conn, *, max_days_left, max_level, supply_class, site_id, page) -> rows with asset, supply, "
     "level, days_left, order_id",
     "forecast(conn, asset_id, device_index, supply_index) -> [(at, percent, low, high)] (device chart)",
     "days_left(conn, asset_ids) -> {asset_id: {(device_index, supply_index): days}} (overview)",
     "replacements(conn, asset_id) -> [(at, supply, old serial/part, new)] (device page)"))
