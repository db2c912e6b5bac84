"""The order lifecycle: new -> installation in progress (shipped) -> to replace -> replaced."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from server_stub.supply import orders as o
from server_stub.supply.policy import Line, PlannedOrder

T0 = datetime(2026, 6, 1, 18, tzinfo=timezone.utc)


def planned(*, blocked: bool = False, kind: str = "auto", quantity: int = 1, part: str | None = "TN-1"):
    lines = (Line("D1", "1", quantity, part, "proactive", {"forecast": None}),
             Line("D2", "1", 1, None, "consolidated", {}))
    return PlannedOrder("C", "S", kind, blocked, "proactive", lines, {"fired": [], "consolidated": []})


def test_marked_shipped_after_notification_then_delivered_then_replaced_line_by_line():
    order = o.place("O1", planned(), T0)
    assert order.status is o.Status.NEW and order.why["lines"]["D1/1"] == {"forecast": None}
    assert o.notification_sent(order, T0, mark_shipped=False).status is o.Status.NEW
    order = o.notification_sent(order, T0, mark_shipped=True)
    assert order.status is o.Status.SHIPPED and order.shipped_at == T0
    order = o.delivered(order, T0 + timedelta(days=5))
    assert order.status is o.Status.TO_REPLACE
    order = o.replacement_seen(order, "D1", "1", "TN-1", T0 + timedelta(days=7), verify=True)
    assert order.status is o.Status.TO_REPLACE and order.outstanding("D1", "1") == 0
    order = o.replacement_seen(order, "D2", "1", "XX-9", T0 + timedelta(days=9), verify=True)
    assert order.status is o.Status.REPLACED and order.closed_at == T0 + timedelta(days=9)


def test_verify_installation_only_counts_the_ordered_part():
    order = o.notification_sent(o.place("O1", planned(), T0), T0, mark_shipped=True)
    wrong = o.replacement_seen(order, "D1", "1", "OTHER", T0, verify=True)
    assert wrong == order  # with verification a different model does not move the order
    moved = o.replacement_seen(order, "D1", "1", "OTHER", T0, verify=False)
    assert moved.outstanding("D1", "1") == 0  # without verification it moves anyway
    assert o.replacement_seen(order, "D9", "1", "TN-1", T0, verify=False) == order  # not on this order


def test_a_detected_replacement_closes_an_order_even_before_it_shipped():
    order = o.place("O1", planned(), T0)
    order = o.replacement_seen(order, "D1", "1", None, T0, verify=True)
    order = o.replacement_seen(order, "D2", "1", None, T0, verify=True)
    assert order.status is o.Status.REPLACED


def test_blocked_orders_are_never_shipped_automatically_and_need_a_release():
    order = o.place("O1", planned(blocked=True), T0)
    assert o.notification_sent(order, T0, mark_shipped=True).status is o.Status.NEW
    with pytest.raises(o.OrderError, match="blocked"):
        o.ship(order, T0)
    released = o.release(order)
    assert o.ship(released, T0).status is o.Status.SHIPPED
    with pytest.raises(o.OrderError):
        o.release(released)


def test_query_orders_are_not_shipped_by_the_notification():
    order = o.place("Q1", planned(kind="query"), T0)
    assert o.notification_sent(order, T0, mark_shipped=True).status is o.Status.NEW


def test_quantities_close_the_order_after_as_many_replacements():
    order = o.notification_sent(o.place("O1", planned(quantity=2), T0), T0, mark_shipped=True)
    for day in (3, 20):
        order = o.replacement_seen(order, "D1", "1", None, T0 + timedelta(days=day), verify=True)
    assert order.outstanding("D1", "1") == 0 and order.is_open  # D2's line still outstanding
    assert o.replacement_seen(order, "D1", "1", None, T0, verify=True) == order


def test_transitions_that_are_not_allowed():
    order = o.place("O1", planned(), T0)
    with pytest.raises(o.OrderError):
        o.delivered(order, T0)  # not shipped
    cancelled = o.cancel(order, T0)
    assert cancelled.status is o.Status.CANCELLED and not cancelled.is_open
    for step in (lambda x: o.cancel(x, T0), lambda x: o.ship(x, T0)):
        with pytest.raises(o.OrderError):
            step(cancelled)


def test_manual_exceptional_order():
    order = o.place_manual("M1", "C", "S", T0, [("D1", "1", 4, "TN-1")], "year-end brochures")
    assert (order.kind, order.rule, order.lines[0].quantity, order.why) == ("manual", "manual", 4,
                                                                            {"note": "year-end brochures"})
    with pytest.raises(o.OrderError):
        o.place_manual("M2", "C", "S", T0, [("D1", "1", 0, None)], "")


def test_order_json_has_exactly_the_backtest_keys():
    doc = o.place("O1", planned(), T0).as_json()
    assert set(doc) == {"id", "client", "site", "placed_at", "lines", "rule", "status"}
    assert doc["placed_at"] == "2026-06-01T18:00:00Z"
    assert doc["lines"][0] == {"device": "D1", "supply": "1", "quantity": 1}


def test_a_back_order_holds_the_delivery_until_its_date_or_until_shipped_again():
    from server_stub.supply.engine import SupplyEngine
    from server_stub.supply.policy import load_policy

    shipped = o.notification_sent(o.place("O1", planned(), T0), T0, mark_shipped=True)
    later = T0 + timedelta(days=12)
    order = o.backorder(shipped, T0 + timedelta(days=1), later, "supplier out of stock")
    assert order.status is o.Status.SHIPPED and order.backordered and order.backorder_note == "supplier out of stock"
    engine = SupplyEngine(load_policy(None))
    engine.add_order(order)
    assert engine.deliver_due(T0 + timedelta(days=6), lead_days=5) == []  # the lead time alone is not enough
    [arrived] = engine.deliver_due(later, lead_days=5)
    assert arrived.status is o.Status.TO_REPLACE and arrived.delivered_at == later

    unknown = o.backorder(shipped, T0 + timedelta(days=1), None, None)  # no date: nothing arrives by itself
    engine = SupplyEngine(load_policy(None))
    engine.add_order(unknown)
    assert engine.deliver_due(T0 + timedelta(days=60), lead_days=5) == []
    again = o.ship(unknown, T0 + timedelta(days=20))  # the goods came: shipped again, the back-order ends
    assert not again.backordered and again.shipped_at == T0 + timedelta(days=20)
    engine.orders[again.id] = again
    assert engine.deliver_due(T0 + timedelta(days=24), lead_days=5) == []
    assert engine.deliver_due(T0 + timedelta(days=25), lead_days=5)[0].delivered_at == T0 + timedelta(days=25)


def test_only_an_order_not_yet_arrived_can_be_back_ordered():
    new = o.place("O1", planned(), T0)
    assert o.backorder(new, T0, None, None).status is o.Status.NEW
    with pytest.raises(o.OrderError, match="in the past"):
        o.backorder(new, T0, T0 - timedelta(days=1), None)
    delivered = o.delivered(o.notification_sent(new, T0, mark_shipped=True), T0 + timedelta(days=5))
    for done in (delivered, o.cancel(new, T0)):
        with pytest.raises(o.OrderError, match="only a new or shipped order"):
            o.backorder(done, T0, None, None)
