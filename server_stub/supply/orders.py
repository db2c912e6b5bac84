"""The order lifecycle as a pure state machine (Focalist's order states).

    new (not shipped) -> installation_in_progress (shipped) -> to_replace (delivered) -> replaced
                      \\-> cancelled (from any open state)

- "mark shipped after notification": placing the order and sending its notification ships it at once.
- Blocked orders (low efficiency of the previous cartridge) wait for a manual release and are never marked
  shipped automatically.
- Back-ordered (the supplier cannot ship yet): an event on a new or shipped order that has not arrived, with
  the date the goods are expected (or none: unknown) and a note. The order keeps its status; its parcel is
  not delivered before that date (without a date: not until someone ships it again once the goods came).
- A detected replacement of an ordered supply installs one cartridge of its line; when every line is
  installed the order is replaced (closed). With "verify installation" only a replacement with the ordered
  part (when both are known) counts; without it any replacement of the supply does.

Every function takes an order and returns the new one (orders are immutable values); a transition that is
not allowed raises `OrderError` with a one-line reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from server_stub.supply.policy import PlannedOrder


class Status(StrEnum):
    NEW = "new"
    SHIPPED = "installation_in_progress"
    TO_REPLACE = "to_replace"
    REPLACED = "replaced"
    CANCELLED = "cancelled"


OPEN = (Status.NEW, Status.SHIPPED, Status.TO_REPLACE)


class OrderError(ValueError):
    pass


@dataclass(frozen=True)
class OrderLine:
    device: str
    supply: str
    quantity: int
    part_number: str | None
    reason: str
    installed: int = 0

    @property
    def outstanding(self) -> int:
        return max(self.quantity - self.installed, 0)


@dataclass(frozen=True)
class Order:
    id: str
    client: str
    site: str
    placed_at: datetime
    kind: str  # "auto", "query" (maintenance query queue) or "manual" (exceptional order)
    rule: str
    lines: tuple[OrderLine, ...]
    why: dict
    status: Status = Status.NEW
    blocked: bool = False
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    closed_at: datetime | None = None
    backordered_at: datetime | None = None
    backordered_until: datetime | None = None  # when the goods are expected (None: not known)
    backorder_note: str | None = None

    @property
    def backordered(self) -> bool:
        return self.backordered_at is not None

    def arrives_at(self, lead_days: float) -> datetime | None:
        """When the parcel of this shipped order arrives: lead time after shipping, not before a back-order's
        date (None: not shipped, or back-ordered with no date known)."""
        if self.shipped_at is None:
            return None
        arrives = self.shipped_at + timedelta(days=lead_days)
        if self.backordered:
            return None if self.backordered_until is None else max(arrives, self.backordered_until)
        return arrives

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def outstanding(self, device: str, supply: str) -> int:
        return sum(ln.outstanding for ln in self.lines if (ln.device, ln.supply) == (device, supply))

    def as_json(self) -> dict:
        return {"id": self.id, "client": self.client, "site": self.site,
                "placed_at": self.placed_at.isoformat().replace("+00:00", "Z"),
                "lines": [{"device": ln.device, "supply": ln.supply, "quantity": ln.quantity} for ln in self.lines],
                "rule": self.rule, "status": self.status.value}


def place(order_id: str, planned: PlannedOrder, at: datetime) -> Order:
    lines = tuple(OrderLine(ln.device, ln.supply, ln.quantity, ln.part_number, ln.reason) for ln in planned.lines)
    why = planned.why | {"lines": {f"{ln.device}/{ln.supply}": ln.why for ln in planned.lines}}
    return Order(order_id, planned.client, planned.site, at, planned.kind, planned.rule, lines, why,
                 blocked=planned.blocked)


def place_manual(order_id: str, client: str, site: str, at: datetime, lines: list[tuple[str, str, int, str | None]],
                 note: str) -> Order:
    """An exceptional order (a big print project): lines of (device, supply, quantity, part number)."""
    if not lines or any(q < 1 for _, _, q, _ in lines):
        raise OrderError("a manual order needs at least one line with a quantity of at least 1")
    return Order(order_id, client, site, at, "manual", "manual",
                 tuple(OrderLine(d, s, q, p, "manual") for d, s, q, p in lines), {"note": note})


def notification_sent(order: Order, at: datetime, *, mark_shipped: bool) -> Order:
    """The order mail went out: with "mark shipped after notification" an unblocked new order ships."""
    if mark_shipped and order.status is Status.NEW and not order.blocked and order.kind != "query":
        return replace(order, status=Status.SHIPPED, shipped_at=at)
    return order


def ship(order: Order, at: datetime) -> Order:
    """Ship a new order, or ship again a back-ordered one once the goods came (the back-order ends)."""
    if order.backordered and order.status is Status.SHIPPED:
        return replace(order, shipped_at=at, backordered_at=None, backordered_until=None, backorder_note=None)
    if order.status is not Status.NEW:
        raise OrderError(f"order {order.id} is {order.status.value}; only a new order can be shipped")
    if order.blocked:
        raise OrderError(f"order {order.id} is blocked; release it first")
    return replace(order, status=Status.SHIPPED, shipped_at=at, backordered_at=None, backordered_until=None,
                   backorder_note=None)


def backorder(order: Order, at: datetime, until: datetime | None, note: str | None) -> Order:
    """The supplier cannot deliver yet: the goods are expected `until` (None: not known)."""
    if order.status not in (Status.NEW, Status.SHIPPED):
        raise OrderError(f"order {order.id} is {order.status.value}; only a new or shipped order that has not "
                         "arrived can be back-ordered")
    if until is not None and until < at:
        raise OrderError(f"the back-order date {until.date().isoformat()} is in the past")
    return replace(order, backordered_at=at, backordered_until=until, backorder_note=note)


def release(order: Order) -> Order:
    if not order.blocked or order.status is not Status.NEW:
        raise OrderError(f"order {order.id} is not a blocked new order")
    return replace(order, blocked=False)


def cancel(order: Order, at: datetime) -> Order:
    if not order.is_open:
        raise OrderError(f"order {order.id} is {order.status.value}; it cannot be cancelled")
    return replace(order, status=Status.CANCELLED, closed_at=at)


def delivered(order: Order, at: datetime) -> Order:
    """The parcel arrived: its cartridges wait to be installed."""
    if order.status is not Status.SHIPPED:
        raise OrderError(f"order {order.id} is {order.status.value}; only a shipped order can be delivered")
    return replace(order, status=Status.TO_REPLACE, delivered_at=at)


def accepts(order: Order, device: str, supply: str, part_number: str | None, *, verify: bool) -> bool:
    """Whether a replacement of (device, supply) with `part_number` installs a cartridge of this order."""
    if not order.is_open:
        return False
    for ln in order.lines:
        if (ln.device, ln.supply) == (device, supply) and ln.outstanding > 0:
            return not verify or not ln.part_number or not part_number or ln.part_number == part_number
    return False


def replacement_seen(order: Order, device: str, supply: str, part_number: str | None, at: datetime, *,
                     verify: bool) -> Order:
    """A detected replacement: one cartridge of the matching line is installed; all installed closes it."""
    if not accepts(order, device, supply, part_number, verify=verify):
        return order
    lines, done = [], False
    for ln in order.lines:
        if not done and (ln.device, ln.supply) == (device, supply) and ln.outstanding > 0:
            ln, done = replace(ln, installed=ln.installed + 1), True
        lines.append(ln)
    order = replace(order, lines=tuple(lines))
    if all(ln.outstanding == 0 for ln in lines):
        order = replace(order, status=Status.REPLACED, closed_at=at)
    return order
