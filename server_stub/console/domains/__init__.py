"""Console pages of the supply, jobs, billing and notification domains. Each module holds one DomainPage: its
address, title, what it shows and its `query` (conn, filters) -> the template's context, which calls the
functions the domain's CLI commands call (no SQL of its own). The route, navigation and access control come
from server_stub.console.routes; CSV exports and edit forms are declared there."""

from __future__ import annotations

from server_stub.console.domain_page import DomainPage
from server_stub.console.domains import billing, jobs, notifications, orders, policy, supplies


def pages() -> list[DomainPage]:
    return [m.PAGE for m in (supplies, orders, jobs, billing, notifications, policy)]
