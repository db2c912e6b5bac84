"""Billing rules: the one place that turns a client's period volumes and plan into bill lines and money.

- Pages billed per device and meter are the period's net pages (pages + any true-up of an estimated
  opening read, priced in the period it is found), in A4 equivalents: mono x ratio + large_mono x
  (large ratio - 1), likewise color; scan x ratio; rounded half-up to whole pages.
- A device meter whose volume is held for review or has a missing read is listed, never priced: the bill
  is then incomplete (`Bill.complete` is False) and its total leaves those pages out.
- simple: pages x the meter's price. custom: the device's price, else its model's, else [prices], per
  meter. subscription: pages beyond the device's included pages x price, plus the fee once per period.
  tiered: the client's total pages per meter through the tiers (a tier runs to its `up_to` inclusive;
  beyond it the next tier's price applies); device lines show their pages, the money is on the meter.
  consumable: each delivery in the period (server_stub.billing.deliveries) x its price (stock code or part
  number, else type + colour, else type); a delivery without a price is listed as unpriced, not billed at 0,
  and the bill is incomplete until the plan prices it.
- Money is Decimal throughout, rounded half-up to the plan's `round_to` per device line (simple, custom,
  subscription) or per meter (tiered), and the total is the sum of the rounded amounts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from server_stub.billing.periods import Period, utc
from server_stub.billing.plans import (
    PAGE_METERS, BillingPlan, ConsumablePrice, PlanError, PlanVersion, Tier, model_key, plan_for_period,
    serial_key,
)
from server_stub.billing.reads import AssetId, MeterVolume

LARGE = {"mono": "large_mono", "color": "large_color"}


@dataclass(frozen=True)
class Device:
    """An asset as billing needs it (from the fleet model)."""

    asset_id: AssetId
    site_id: int | str | None = None
    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None


@dataclass(frozen=True)
class Delivery:
    """A consumable delivered to a device: one shipment (server_stub.billing.deliveries finds them in the orders
    and jobs; an order line and the job line of its request are one shipment)."""

    asset_id: AssetId
    delivered_at: datetime
    quantity: int = 1
    part_number: str | None = None   # the part number the printer reports (the order line's)
    type: str | None = None          # supply type: toner, drum, waste_toner, ...
    color: str | None = None
    reference: str | None = None     # where it came from, for people: "order 12 line 1 + job 7 line 33"
    stock_code: str | None = None    # the stock item the job sent
    site_id: int | str | None = None
    order_id: int | None = None
    order_line: int | None = None
    job_id: int | None = None
    job_line: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "delivered_at", utc(self.delivered_at))
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity < 1:
            raise ValueError(f"delivery quantity must be a whole number >= 1, got {self.quantity!r}")

    @property
    def sources(self) -> tuple[str, ...]:
        """Stable keys of the order line and job line it came from (a stored bill lists them: never billed twice)."""
        return (*((f"order:{self.order_id}/{self.order_line}",) if self.order_id is not None else ()),
                *((f"job-line:{self.job_line}",) if self.job_line is not None else ()))


@dataclass(frozen=True)
class TierUse:
    first: int             # first page of the tier
    last: int | None       # last page of the tier (None: open-ended)
    pages: int             # pages billed in it
    price: Decimal
    amount: Decimal        # pages x price, unrounded


@dataclass(frozen=True)
class DeviceLine:
    asset_id: AssetId
    meter: str                        # mono, color or scan
    status: Literal["ok", "held", "missing_read"]
    pages: int                        # A4-equivalent net pages billed on this line
    volumes: tuple[MeterVolume, ...]  # the reads used (the meter's, and its large-format meter's)
    true_up_pages: int = 0
    included: int = 0                 # subscription pages included for this device
    unit_price: Decimal | None = None
    price_source: str | None = None   # "prices", "model ...", "device ...", "tiers on the client total"
    amount: Decimal | None = None     # None: priced on the meter total (tiered) or not billed
    reason: str | None = None


@dataclass(frozen=True)
class MeterCharge:
    meter: str
    pages: int
    amount: Decimal
    tiers: tuple[TierUse, ...] = ()


@dataclass(frozen=True)
class ConsumableLine:
    delivery: Delivery
    status: Literal["ok", "unpriced"]
    unit_price: Decimal | None = None
    amount: Decimal | None = None


@dataclass(frozen=True)
class Bill:
    client_id: int | str
    period: Period
    plan_type: str
    currency: str
    lines: tuple[DeviceLine, ...]
    charges: tuple[MeterCharge, ...]
    fee: Decimal
    consumables: tuple[ConsumableLine, ...]
    total: Decimal

    @property
    def open_items(self) -> tuple[DeviceLine | ConsumableLine, ...]:
        """Lines not billed: held for review, missing reads, unpriced consumables."""
        return (*(l for l in self.lines if l.status != "ok"), *(c for c in self.consumables if c.status != "ok"))

    @property
    def complete(self) -> bool:
        return not self.open_items


def money(value: Decimal, quantum: Decimal) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


def tiered_amount(pages: int, tiers: Sequence[Tier]) -> tuple[tuple[TierUse, ...], Decimal]:
    """Pages through the tiers: each tier takes the pages up to its `up_to`, the rest go on. A negative
    total (a true-up credit larger than the period's pages) is credited at the first tier's price."""
    if pages < 0:
        use = TierUse(1, tiers[0].up_to, pages, tiers[0].price, pages * tiers[0].price)
        return (use,), use.amount
    uses: list[TierUse] = []
    floor = 0
    for tier in tiers:
        if floor >= pages:
            break
        top = pages if tier.up_to is None else min(pages, tier.up_to)
        count = top - floor
        uses.append(TierUse(floor + 1, tier.up_to, count, tier.price, count * tier.price))
        floor = top
    return tuple(uses), sum((u.amount for u in uses), Decimal(0))


def page_price(plan: BillingPlan, device: Device, meter: str) -> tuple[Decimal, str]:
    """The per-page price of a device meter and where it comes from (device > model > default)."""
    if plan.prices is None:
        raise PlanError(f"type {plan.type} has no page prices")
    if plan.custom is not None:
        if device.serial:
            for entry in plan.custom.devices:
                price = getattr(entry.prices, meter)
                if serial_key(entry.serial) == serial_key(device.serial) and price is not None:
                    return price, f"device {entry.serial}"
        if device.manufacturer and device.model:
            key = model_key(device.manufacturer, device.model)
            for entry in plan.custom.models:
                price = getattr(entry.prices, meter)
                if model_key(entry.manufacturer, entry.model) == key and price is not None:
                    return price, f"model {entry.manufacturer} {entry.model}"
    return getattr(plan.prices, meter), "prices"


def _whole(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _device_line(plan: BillingPlan, asset_id: AssetId, meter: str,
                 volumes: dict[str, MeterVolume]) -> DeviceLine | None:
    """Status and A4-equivalent pages of one device meter, before pricing; None if the device lacks it."""
    own = volumes.get(meter)
    if own is None:
        return None
    used = [own]
    ratios = plan.a4_equivalent
    pages = Decimal(own.net_pages) * getattr(ratios, meter)
    true_up = Decimal(own.true_up_pages) * getattr(ratios, meter)
    large = volumes.get(LARGE.get(meter, ""))
    weight = getattr(ratios, LARGE[meter]) - 1 if meter in LARGE else Decimal(0)
    if large is not None and weight:
        used.append(large)
        pages += Decimal(large.net_pages) * weight
        true_up += Decimal(large.true_up_pages) * weight
    not_ok = next((v for v in used if v.status != "ok"), None)
    if not_ok is not None:
        return DeviceLine(asset_id, meter, not_ok.status, 0, tuple(used),
                          reason=f"{not_ok.meter}: {not_ok.reason}")
    return DeviceLine(asset_id, meter, "ok", _whole(pages), tuple(used), true_up_pages=_whole(true_up))


def consumable_price(prices: Sequence[ConsumablePrice], delivery: Delivery) -> Decimal | None:
    """A delivery's unit price: by part number (the job's stock code first, then the printer's part number), else
    type + colour, else type alone (a price without colour); None: unpriced (listed, never billed at 0)."""
    def norm(text: str | None) -> str | None:
        return None if text is None else " ".join(text.casefold().split())
    for code in (delivery.stock_code, delivery.part_number):
        if code:
            for entry in prices:
                if entry.part_number and norm(entry.part_number) == norm(code):
                    return entry.price
    if delivery.type:
        for colour in (norm(delivery.color), None):
            for entry in prices:
                if entry.type and norm(entry.type) == norm(delivery.type) and norm(entry.color) == colour:
                    return entry.price
    return None


def compute_bill(client_id: int | str, period: Period, plan: BillingPlan, devices: Sequence[Device],
                 volumes: Iterable[MeterVolume], deliveries: Iterable[Delivery] = ()) -> Bill:
    """The bill of one client for one period under `plan` (the plan in effect for the period).

    `devices`: the client's billed assets. `volumes`: their MeterVolumes for the period (reads.period_volume;
    one per asset and meter, a missing_read one where a meter had no read). `deliveries`: consumables
    delivered to the client's assets (only those delivered within the period count).
    """
    by_asset: dict[AssetId, dict[str, MeterVolume]] = defaultdict(dict)
    known = {d.asset_id: d for d in devices}
    for volume in volumes:
        if volume.period != period:
            raise ValueError(f"volume of {volume.period} given for the {period} bill")
        if volume.asset_id not in known:
            raise ValueError(f"volume for asset {volume.asset_id}, which is not among the client's devices")
        if volume.meter in by_asset[volume.asset_id]:
            raise ValueError(f"two volumes for asset {volume.asset_id} {volume.meter}")
        by_asset[volume.asset_id][volume.meter] = volume

    q = plan.round_to
    if plan.type == "tiered":
        meters = [m for m in PAGE_METERS if getattr(plan.tiers, m) is not None]
    elif plan.type == "consumable":
        meters = []
    else:
        meters = list(PAGE_METERS)

    lines: list[DeviceLine] = []
    for device in devices:
        for meter in meters:
            line = _device_line(plan, device.asset_id, meter, by_asset.get(device.asset_id, {}))
            if line is None:
                continue
            if line.status == "ok" and plan.type == "tiered":
                line = replace(line, price_source="tiers on the client total")
            elif line.status == "ok":
                price, source = page_price(plan, device, meter)
                included = getattr(plan.subscription.included, meter) if plan.subscription else 0
                billed = max(0, line.pages - included) if plan.subscription else line.pages
                line = replace(line, included=included, unit_price=price, price_source=source,
                                amount=money(billed * price, q))
            lines.append(line)

    charges: list[MeterCharge] = []
    for meter in meters:
        billed = [l for l in lines if l.meter == meter and l.status == "ok"]
        pages = sum(l.pages for l in billed)
        if plan.type == "tiered":
            uses, amount = tiered_amount(pages, getattr(plan.tiers, meter))
            charges.append(MeterCharge(meter, pages, money(amount, q), uses))
        else:
            charges.append(MeterCharge(meter, pages, money(sum((l.amount for l in billed), Decimal(0)), q)))

    consumables: list[ConsumableLine] = []
    if plan.consumables is not None:
        for delivery in deliveries:
            if not period.start <= delivery.delivered_at < period.end:
                continue
            price = consumable_price(plan.consumables.prices, delivery)
            consumables.append(ConsumableLine(delivery, "unpriced") if price is None else
                               ConsumableLine(delivery, "ok", price, money(delivery.quantity * price, q)))

    fee = money(plan.subscription.fee, q) if plan.subscription else Decimal(0)
    total = (sum((c.amount for c in charges), Decimal(0)) + fee
             + sum((c.amount for c in consumables if c.amount is not None), Decimal(0)))
    return Bill(client_id, period, plan.type, plan.currency, tuple(lines), tuple(charges), fee,
                tuple(consumables), total)


def bill_for_period(history: Sequence[PlanVersion], client_id: int | str, period: Period,
                    devices: Sequence[Device], volumes: Iterable[MeterVolume],
                    deliveries: Iterable[Delivery] = ()) -> Bill:
    """`compute_bill` under the plan in effect for `period` in the client's plan history."""
    plan = plan_for_period(history, period)
    if plan is None:
        raise PlanError(f"client {client_id} has no billing plan in effect for {period}")
    return compute_bill(client_id, period, plan, devices, volumes, deliveries)
