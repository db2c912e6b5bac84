"""One path from a reading to forecasts, replacements, alarms and orders: what the live server and
`supply backtest` both run.

`SupplyEngine.observe(client, site, reading)` takes one `fleetmeter.device/1` document (already validated)
in time order and returns the replacements and alarms it revealed; `decide(site, now)` places the orders the
policy wants for that site now; `deliver_due(now)` moves shipped orders whose lead time has passed to
"to replace". State is plain dataclasses; nothing here touches a database or the network.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from server_stub.supply import orders as lifecycle
from server_stub.supply.forecast import (
    CartridgeTrack, Forecast, PageHistory, PagesPerPercent, SupplyObservation, UsageRate, forecast, gauge_step,
    hides_once_low, pages_per_percent, reveals_below, shows_full_until_empty, update_level, usage_rate)
from server_stub.supply.orders import Order
from server_stub.supply.policy import Policy, Rules, SupplyClass, SupplyView, plan_site, supply_class
from server_stub.supply.replacement import (
    Alarm, OrderView, Replacement, detect, efficiency, replacement_alarms)

RECENT_READINGS = 3
UNEXPLAINED = 0.2  # pages beyond this share of a cartridge that neither the removed nor the new one printed
SPENT_POINTS = 10.0  # a new cartridge behind a gauge that hides its level printed this much before it was seen
MIN_DOUBT = 0.25  # the least relative doubt of learned pages per percent when counting what a cartridge can print
UNLEARNED_MARGIN = 2.5  # pages per percent from a rated yield or a default: a cartridge prints at most this much more


def supply_key(supply: dict[str, Any]) -> str:
    """The reading's supply index, prefixed by its device index and a dot when it has one ("1.3")."""
    device_index = supply.get("device_index")
    return f"{device_index}.{supply['index']}" if device_index is not None else str(supply["index"])


def asset_id(reading: dict[str, Any]) -> str | None:
    """The asset a reading belongs to: its serial (as live ingest identifies assets), else its MAC."""
    identity = reading.get("identity") or {}
    return identity.get("serial") or identity.get("mac")


@dataclass
class Slot:
    """One asset supply: the cartridge in it now and what was learned from the ones before."""

    device: str
    key: str
    client: str
    site: str
    model: str | None
    supply_class: SupplyClass | None
    counter: str
    first_at: datetime
    track: CartridgeTrack
    learned: PagesPerPercent = field(default_factory=PagesPerPercent)
    seen: set[int] = field(default_factory=set)
    part_number: str | None = None
    last_serial: str | None = None
    hides_below: float | None = None  # its gauge hid the level as it fell below this (`hides_once_low`)
    pending: SupplyObservation | None = None
    last_efficiency: float | None = None
    forecast: Forecast | None = None
    flagged_cartridge: datetime | None = None
    recent: deque = field(default_factory=lambda: deque(maxlen=RECENT_READINGS))

    @property
    def fleet_key(self) -> str:
        return self.part_number or f"{self.model}/{self.key}"


@dataclass
class Observed:
    replacements: list[tuple[Replacement, str | None]] = field(default_factory=list)  # (event, order id)
    alarms: list[Alarm] = field(default_factory=list)
    supplies: list[Slot] = field(default_factory=list)


class SupplyEngine:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.slots: dict[tuple[str, str], Slot] = {}
        self.by_site: dict[str, list[Slot]] = {}
        self.pages: dict[tuple[str, str], PageHistory] = {}
        self.fleet_ppp: dict[str, list[float]] = {}
        self.cartridge_serials: dict[str, str] = {}  # cartridge serial -> asset it was first seen on
        self.orders: dict[str, Order] = {}
        self.slot_orders: dict[tuple[str, str], list[str]] = {}  # open orders with a line for the slot
        self.in_transit: list[str] = []  # shipped, not delivered
        self._rates: dict[tuple[str, str], tuple[date, UsageRate | None]] = {}

    def rules(self, slot: Slot) -> Rules:
        return self.policy.rules(slot.client, slot.device)

    # -- readings ------------------------------------------------------------------------------------------
    def observe(self, client: str, site: str, reading: dict[str, Any]) -> Observed:
        out = Observed()
        device = asset_id(reading)
        if device is None:
            return out
        at = _utc(reading["collected_at"])
        counters = reading.get("counters") or {}
        for name in ("total", "color"):
            if counters.get(name) is not None:
                self.pages.setdefault((device, name), PageHistory()).record(at, counters[name])
        model = (reading.get("identity") or {}).get("model")
        observed: list[tuple[Slot, SupplyObservation]] = []
        for supply in reading.get("supplies") or []:
            if supply.get("class") == "receptacle":
                continue  # how full a waste box is: not a cartridge level
            klass = supply_class(supply.get("type", ""), supply.get("color"))
            if klass is None:
                continue
            colour = supply.get("color") not in (None, "black")
            counter = "color" if colour and counters.get("color") is not None else "total"
            obs = SupplyObservation(at, supply.get("percent"), counters.get(counter), supply.get("serial"),
                                    supply.get("part_number"))
            key = supply_key(supply)
            slot = self.slots.get((device, key))
            if slot is None:
                slot = Slot(device, key, client, site, model, klass, counter, at,
                            CartridgeTrack(installed_at=None, install_pages=None, install_percent=None))
                self.slots[(device, key)] = slot
                self.by_site.setdefault(site, []).append(slot)
            slot.client, slot.part_number = client, obs.part_number or slot.part_number
            slot.recent.append({"at": reading["collected_at"], "percent": obs.percent, "pages": obs.pages,
                                "level": supply.get("level")})
            observed.append((slot, obs))
        # one gauge serves all of a printer's supplies: what one of them shows of it holds for the others
        siblings = [slot for slot, _ in observed]
        for slot, obs in observed:
            self._observe_slot(slot, obs, out, siblings)
            out.supplies.append(slot)
        return out

    def _observe_slot(self, slot: Slot, obs: SupplyObservation, out: Observed, siblings: list[Slot]) -> None:
        if obs.serial and obs.serial not in self.cartridge_serials:
            self.cartridge_serials[obs.serial] = slot.device
        step = gauge_step(slot.seen)
        track = slot.track
        printed = capacity = None
        if obs.pages is not None and track.estimate_pages is not None and track.last_percent is not None:
            printed, capacity = obs.pages - track.estimate_pages, self._most_pages(slot, step)[0]
        used = 0.0
        if slot.pending is not None and slot.pending.pages is not None and obs.pages is not None:
            # the new cartridge went on printing since it was first seen: at most this many points
            ppp, doubt, _ = pages_per_percent(track, self._prior(slot))
            used = max(obs.pages - slot.pending.pages, 0) / (ppp * (1 - max(doubt, MIN_DOUBT)))
        verdict = detect(track.last_percent, slot.last_serial, slot.pending, obs, printed=printed,
                         capacity=capacity, used=used) if track.estimate is not None or slot.last_serial else None
        if verdict is not None and verdict.verdict == "pending":
            slot.pending = verdict.first
        elif verdict is not None and verdict.verdict == "replaced" and verdict.first is not None:
            self._replaced(slot, verdict.first, verdict.cause, step, out)
            if verdict.first is not obs:
                self._update(slot, obs, siblings)
        else:
            slot.pending = None
            self._update(slot, obs, siblings)
        if obs.serial:
            slot.last_serial = obs.serial
        hides = hides_once_low(slot.track)
        if hides is not None:
            slot.hides_below = max(hides, slot.hides_below or 0.0)
        self._refresh(slot, obs.at, siblings)

    def _update(self, slot: Slot, obs: SupplyObservation, siblings: list[Slot]) -> None:
        if obs.percent is not None:
            slot.seen.add(int(obs.percent))
        hidden_low = max((s.hides_below for s in siblings if s.hides_below is not None), default=None)
        update_level(slot.track, obs, pages_per_percent(slot.track, self._prior(slot))[0], gauge_step(slot.seen),
                     hidden_low)

    def _prior(self, slot: Slot) -> tuple[float, float, str]:
        return slot.learned.prior(self.fleet_ppp.get(slot.fleet_key), self.policy.rated_yield(slot.part_number))

    def _rate(self, slot: Slot, today: date) -> UsageRate | None:
        key = (slot.device, slot.counter)
        cached = self._rates.get(key)
        if cached is None or cached[0] != today:
            history = self.pages.get(key)
            cached = (today, usage_rate(history, today) if history else None)
            self._rates[key] = cached
        return cached[1]

    def _refresh(self, slot: Slot, now: datetime, siblings: list[Slot]) -> None:
        slot.forecast = forecast(slot.track, self._prior(slot), self._rate(slot, now.date()), now,
                                 gauge_step(slot.seen), reveals_below(slot.seen),
                                 shows_full_until_empty([(s.seen, s.track) for s in siblings]))

    def _replaced(self, slot: Slot, first: SupplyObservation, cause: str, step: int, out: Observed) -> None:
        old, rules = slot.track, self.rules(slot)
        ppp = slot.forecast.pages_per_percent if slot.forecast else self._prior(slot)[0]
        # The swap happened somewhere between the last reading and this one. Each check takes the side of
        # the doubt: "too early" counts every page since as printed by the old cartridge, "came from another
        # device" counts them as printed by the new one.
        printed = 0
        if first.pages is not None and old.estimate_pages is not None:
            printed = max(first.pages - old.estimate_pages, 0)
        missed = self._used_up_between(slot, first, printed, step)
        removed_pages = None
        if old.installed_at is not None and old.install_pages is not None and first.pages is not None:
            removed_pages = max(first.pages - old.install_pages, 0)
            if missed and old.estimate_pages is not None and old.estimate is not None:
                # the pages since went through more cartridges: this one printed what it still held
                removed_pages = max(old.estimate_pages - old.install_pages, 0) + round(old.estimate * ppp)
        left = None
        if step < 100 and old.estimate is not None and cause != "pages":
            left = 0.0 if missed else max(old.estimate - printed / ppp, 0.0)
        new_percent = None
        if first.percent is not None and cause != "pages" and not missed:  # "pages": it went in days ago, full
            new_percent = min(first.percent + printed / ppp, 100.0)
        own = old.fit()
        learned = None
        if own and own[1] >= 0.75:
            learned = own[0]
        elif removed_pages and old.install_percent and not missed and (left is None or left <= 15):
            learned = removed_pages / max(old.install_percent - (left or 0.0), 1.0)
        if learned:
            slot.learned.device_history.append(learned)
            self.fleet_ppp.setdefault(slot.fleet_key, []).append(learned)
        slot.last_efficiency = efficiency(removed_pages, self.policy.rated_yield(slot.part_number))
        if missed and old.estimate_at is not None:
            # the removed cartridge ran out, and `missed` more went in and ran out while nobody looked: each is
            # a replacement, at even steps between the last reading and this one (the one seen now removed the
            # last of them)
            for i in range(1, missed + 1):
                when = old.estimate_at + (first.at - old.estimate_at) * i / (missed + 1)
                self._book(slot, Replacement(slot.device, slot.key, when, "pages", 0.0, removed_pages if i == 1 else None,
                                             ppp, None, None, None), None, rules, out)
            removed_pages = None
        self._book(slot, Replacement(slot.device, slot.key, first.at, cause, left, removed_pages, ppp, new_percent,
                                     first.serial, first.part_number), first.part_number, rules, out)
        slot.track = CartridgeTrack(installed_at=first.at, install_pages=first.pages, install_percent=first.percent)
        slot.pending = None
        if first.percent is not None:
            slot.seen.add(int(first.percent))
        else:  # a new serial behind a gauge that hides the level: a new cartridge starts full
            slot.track.install_percent = slot.track.estimate = slot.track.last_percent = 100.0
            slot.track.estimate_pages = first.pages
        update_level(slot.track, first, self._prior(slot)[0], gauge_step(slot.seen))
        if first.percent is None or gauge_step(slot.seen) >= 100:
            # the gauge does not show how much the new cartridge has printed: when the pages since the last
            # reading went well beyond what the old one (and any in between) still held (a big job), the new one
            # printed the rest (an ordinary day's pages are within the forecast's doubt)
            spent = printed - (old.estimate or 0.0) * ppp - missed * 100 * ppp
            if spent >= SPENT_POINTS * ppp and old.estimate is not None:
                new = slot.track
                new.estimate = new.pin_percent = max(100.0 - spent / ppp, 0.0)
                new.pin_u = 0.5 + 0.25 * spent / ppp

    def _most_pages(self, slot: Slot, step: int) -> tuple[float, float, bool]:
        """The most pages the cartridge in the slot can still print and the most a full one prints, each at the
        generous end of the doubt (its level plus the gauge's step and ten points, full behind a hidden gauge;
        pages per percent at the top of its doubt, at least MIN_DOUBT above: a job of lighter pages than the
        usual goes further), and whether pages per percent was learned (this cartridge, the device, the fleet)
        rather than taken from a rated yield or a default, which may be far off: then both are wider still."""
        track = slot.track
        ppp, doubt, source = pages_per_percent(track, self._prior(slot))
        learned = source not in ("rated", "default")
        most = ppp * (1 + max(doubt, MIN_DOUBT) if learned else UNLEARNED_MARGIN)
        level = max(track.estimate or 0.0, track.last_percent or 0.0)
        held = 100.0 if track.hidden else min(level + step + 10, 100.0)
        return held * most, 100 * most, learned

    def _used_up_between(self, slot: Slot, first: SupplyObservation, printed: int, step: int) -> int:
        """Whole cartridges, besides the one removed and the one seen now, that the pages printed since the last
        reading went through (a big job, an agent offline for days): pages beyond the most the removed cartridge
        could still print and what the new one shows used came from cartridges in between, each printing at
        most a full cartridge's pages (beyond UNEXPLAINED of one, at least one more). Counted only where pages
        per percent was learned, so a doubt never invents one."""
        if printed <= 0 or slot.track.estimate is None:
            return 0
        held, full, learned = self._most_pages(slot, step)
        if not learned:
            return 0
        used_new = 0.0
        if first.percent is not None and step < 100:
            ppp, doubt, _ = pages_per_percent(slot.track, self._prior(slot))
            used_new = max(100.0 - first.percent - step, 0.0) * ppp * (1 - doubt)
        beyond = printed - held - used_new
        if beyond <= UNEXPLAINED * full:
            return 0
        return math.ceil((beyond - UNEXPLAINED * full) / full)

    def _book(self, slot: Slot, event: Replacement, part_number: str | None, rules: Rules, out: Observed) -> None:
        """A replacement's alarms, and the open order it installs a cartridge of."""
        seen_on = self.cartridge_serials.get(event.new_serial) if event.new_serial else None
        order = self._open_order(slot)
        view = None if order is None else OrderView(order.id, order.status is not lifecycle.Status.NEW,
                                                    _line_part(order, slot))
        out.alarms.extend(replacement_alarms(event, rules.alarms, rated_yield=self.policy.rated_yield(slot.part_number),
                                             order=view, serial_seen_on=seen_on if seen_on != slot.device else None))
        order_id = None
        if order is not None:
            updated = lifecycle.replacement_seen(order, slot.device, slot.key, part_number, event.at,
                                                 verify=rules.verify_installation)
            if updated != order:
                self.orders[order.id], order_id = updated, order.id
        out.replacements.append((event, order_id))

    def _slot_orders(self, slot: Slot) -> list[Order]:
        ids = self.slot_orders.get((slot.device, slot.key))
        if not ids:
            return []
        orders = [self.orders[i] for i in ids]
        still = [o for o in orders if o.is_open and o.outstanding(slot.device, slot.key) > 0]
        if len(still) != len(ids):
            self.slot_orders[(slot.device, slot.key)] = [o.id for o in still]
        return still

    def _open_order(self, slot: Slot) -> Order | None:
        return next(iter(self._slot_orders(slot)), None)

    def stock(self, slot: Slot) -> int:
        """Cartridges on order for this supply and not installed yet."""
        return sum(o.outstanding(slot.device, slot.key) for o in self._slot_orders(slot))

    def add_order(self, order: Order) -> None:
        """Record an order (placed here, or a manual one) so stock, deliveries and replacements follow it."""
        self.orders[order.id] = order
        for line in order.lines:
            ids = self.slot_orders.setdefault((line.device, line.supply), [])
            if order.id not in ids:
                ids.append(order.id)
        if order.status is lifecycle.Status.SHIPPED:
            self.in_transit.append(order.id)

    # -- decisions -----------------------------------------------------------------------------------------
    def view(self, slot: Slot, now: datetime) -> SupplyView:
        return SupplyView(slot.device, slot.key, slot.client, slot.site, slot.supply_class, slot.part_number,
                          slot.forecast, (now - slot.first_at).total_seconds() / 86400, self.stock(slot),
                          slot.last_efficiency, tuple(slot.recent))

    def decide(self, site: str, now: datetime, devices: set[str] | None = None) -> tuple[list[Order], list[Alarm]]:
        """Place the orders the policy wants for this site now (checking the supplies of `devices`, or all
        of the site's); returns them and the high-use flags raised."""
        slots = self.by_site.get(site, [])
        if not slots:
            return [], []
        by_key = {(s.device, s.key): s for s in slots}
        candidates = [self.view(s, now) for s in slots if devices is None or s.device in devices]
        planned, flags = plan_site(candidates, lambda: [self.view(s, now) for s in slots],
                                   lambda v: self.rules(by_key[(v.device, v.supply)]), now)
        placed = []
        for plan in planned:
            order = lifecycle.place(f"O{len(self.orders) + 1:06d}", plan, now)
            rules = self.policy.rules(plan.client, None)
            order = lifecycle.notification_sent(order, now, mark_shipped=rules.mark_shipped_after_notification)
            self.add_order(order)
            placed.append(order)
        alarms = []
        for flag in flags:  # once per cartridge
            slot = by_key[(flag.device, flag.supply)]
            cartridge = slot.track.installed_at or slot.first_at
            if slot.flagged_cartridge != cartridge:
                slot.flagged_cartridge = cartridge
                alarms.append(Alarm(flag.device, flag.supply, now, "high_use", flag.why))
        return placed, alarms

    def deliver_due(self, now: datetime, lead_days: int | None = None) -> list[Order]:
        """Shipped orders whose lead time (the client's, or `lead_days`) has passed, and any back-order's date,
        are delivered."""
        done, waiting = [], []
        for order_id in self.in_transit:
            order = self.orders[order_id]
            if order.status is not lifecycle.Status.SHIPPED or order.shipped_at is None:
                continue
            lead = lead_days if lead_days is not None else self.policy.rules(order.client, None).lead_days
            arrives = order.arrives_at(lead)  # a back-order's date, when later; none known: it waits
            if arrives is not None and arrives <= now:
                self.orders[order_id] = lifecycle.delivered(order, arrives)
                done.append(self.orders[order_id])
            else:
                waiting.append(order_id)
        self.in_transit = waiting
        return done


def _line_part(order: Order, slot: Slot) -> str | None:
    return next((ln.part_number for ln in order.lines if (ln.device, ln.supply) == (slot.device, slot.key)), None)


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
