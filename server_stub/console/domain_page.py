"""What a console page of a domain declares (see server_stub/console/domains)."""

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
    query: Callable[[Connection, dict[str, str]], dict[str, Any]]  # (conn, the page's filters) -> template context
    template: str


def page_number(text: str | None) -> int:
    """A page's number from the query string: 1 unless it is a whole number from 1 to 999,999."""
    return int(text) if text and text.isdigit() and len(text) < 7 and int(text) > 0 else 1
