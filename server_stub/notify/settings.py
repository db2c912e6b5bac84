"""Per-client notification settings, checked with a strict model: recipients; for each category (device,
consumable, SNMP alert, agent, other) on/off and immediate or daily digest; the dealer's own subject and body
per message kind (Jinja2, sandboxed: a template sees only the values it is given)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.engine import Connection

from server_stub.db.engine import upsert_insert
from server_stub.notify.tables import notify_settings

Category = Literal["device", "consumable", "snmp_alert", "agent", "other"]
CATEGORIES: tuple[Category, ...] = ("device", "consumable", "snmp_alert", "agent", "other")
Kind = Literal["order_placed", "order_shipped", "order_backordered", "agent_stopped", "agent_final", "test"]
ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)  # plain-text mail


class NotifyError(ValueError):
    pass


def _address(value: str) -> str:
    if not re.fullmatch(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+", value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


def _template(value: str) -> str:
    try:
        ENV.parse(value)
    except TemplateSyntaxError as exc:
        raise ValueError(f"template error line {exc.lineno}: {exc.message}") from None
    return value


Address = Annotated[str, Field(max_length=254), AfterValidator(_address)]
Text = Annotated[str, Field(min_length=1, max_length=10_000), AfterValidator(_template)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class CategorySettings(_Strict):
    enabled: bool = True
    digest: bool = False  # True: in the daily digest instead of a mail at once


class Template(_Strict):
    subject: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_template)]
    body: Text


class NotifySettings(_Strict):
    recipients: Annotated[list[Address], Field(max_length=50)] = []
    categories: dict[Category, CategorySettings] = Field(
        default_factory=lambda: {c: CategorySettings() for c in CATEGORIES})
    templates: dict[Kind, Template] = {}

    def category(self, name: Category) -> CategorySettings:
        return self.categories.get(name, CategorySettings())


def load(conn: Connection, client_id: int) -> NotifySettings | None:
    doc = conn.execute(select(notify_settings.c.document).where(notify_settings.c.client_id == client_id)).scalar()
    return None if doc is None else NotifySettings.model_validate(doc)


def store(conn: Connection, client_id: int, document: dict[str, Any]) -> NotifySettings:
    try:
        settings = NotifySettings.model_validate(document)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        raise NotifyError(f"notify settings: {where + ': ' if where else ''}"
                          f"{err['msg'].removeprefix('Value error, ')}") from None
    doc = settings.model_dump(mode="json")
    conn.execute(upsert_insert(conn, notify_settings).values(client_id=client_id, document=doc)
                 .on_conflict_do_update(index_elements=["client_id"], set_={"document": doc}))
    return settings
