"""Console pages of domains being built on other branches. Each module holds one DomainPage: its address,
title, what it will show and the domain functions it needs. While `query` is None the page says plainly that
the domain is not available in this build (no sample data). Wiring a domain later: set `query` to a function
(conn, filters) -> the template's context and add the page's template (`template`); the route, navigation,
access control and tests already cover it."""

from __future__ import annotations

from server_stub.console.domain_page import DomainPage
from server_stub.console.domains import billing, jobs, notifications, orders, policy, supplies


def pages() -> list[DomainPage]:
    return [m.PAGE for m in (supplies, orders, jobs, billing, notifications, policy)]
