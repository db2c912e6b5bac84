from server_stub.console.domain_page import DomainPage

PAGE = DomainPage(
    "/notifications", "Notifications",
    "per client: who is told about low supplies, orders, faults and silent agents, by e-mail",
    "server_stub.notify (notification settings table)",
    ("notification_settings(conn, client) -> recipients and events",
     "set_notification(conn, client, event, recipients) (form post, staff and admin)"))
