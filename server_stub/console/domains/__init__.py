"""Console pages of domains being built on other branches. Each module holds one DomainPage: its address,
title, what it will show and the domain functions it needs. While `query` is None the page says plainly that
the domain is not available in this build (no sample data). Wiring a domain later: set `query` to a function
(conn, filters) -> the template's context and add the page's template (`template`); the route, navigation,
access control and tests already cover it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class DomainPage:
    path: str
    title: str
    shows: str
    domain: str  # the package the functions come from
    needs: tuple[str, ...]  # the domain functions the page calls (signatures as the page will use them)
    query: Callable[[Connection, dict[str, str]], dict[str, Any]] | None = None
    template: str = "pending.html"


def pages() -> list[DomainPage]:
    from server_stub.console.domains import billing, jobs, notifications, orders, policy, supplies

    return [m.PAGE for m in (supplies, orders, jobs, billing, notifications, policy)]
