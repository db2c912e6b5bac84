"""Billing plans: the plan file a dealer sets per client (TOML or JSON) and the plan history.

One billing model per client; its `type` chooses the sections it reads and the meters it bills:
- simple:       [prices] per mono, color and scan page
- subscription: [prices] and [subscription] (pages included per device and period, a fixed fee);
                pages beyond the included ones at [prices]
- custom:       [prices] as the default and [custom] prices per device model (manufacturer + model) or
                per device (serial); a device price beats a model price beats the default, per meter
- tiered:       [tiers] per meter on the client's total pages of the period; any number of thresholds,
                pages beyond one threshold at the next tier's price (the last tier has no `up_to`)
- consumable:   [consumables] a price per consumable delivered (by part number, else type + color)
Optional [a4_equivalent]: a ratio per meter (mono, color, scan multiply that meter's pages); large_mono
and large_color weigh a large (A3) page, which the device's mono/color counter holds once: with
large_mono = 2 an A3 page counts as two mono pages.

A section the type does not use is refused, as are unknown keys, floats given from Python, NaN and
negative prices. In TOML write prices as numbers (read as exact decimals) or strings; see
plan.example.toml. A price change takes effect from the start of the current billing period, or from a
period given (`--from`), also a past one that is not billed yet; billed periods never change (`set_plan`).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from server_stub.billing.periods import Period, utc

PAGE_METERS = ("mono", "color", "scan")
PlanType = Literal["simple", "subscription", "custom", "tiered", "consumable"]
SCHEMA = "fleetmeter.billing-plan/1"


class PlanError(ValueError):
    """A plan file or plan change that cannot be used; the message is one line naming the key."""


def _decimal(value: Any) -> Any:
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("write money as a decimal number or string, not a float")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
    return value


Money = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0, allow_inf_nan=False, decimal_places=6)]
Ratio = Annotated[Decimal, BeforeValidator(_decimal), Field(gt=0, le=100, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class PagePrices(_Strict):
    mono: Money
    color: Money
    scan: Money = Decimal(0)


class PartialPrices(_Strict):
    """Prices that override some meters; the others fall back to the next level."""

    mono: Money | None = None
    color: Money | None = None
    scan: Money | None = None


class Included(_Strict):
    mono: Annotated[int, Field(ge=0)] = 0
    color: Annotated[int, Field(ge=0)] = 0
    scan: Annotated[int, Field(ge=0)] = 0


class Subscription(_Strict):
    included: Included
    fee: Money = Decimal(0)


class ModelPrice(_Strict):
    manufacturer: Name
    model: Name
    prices: PartialPrices


class DevicePrice(_Strict):
    serial: Name
    prices: PartialPrices


class Custom(_Strict):
    models: list[ModelPrice] = []
    devices: list[DevicePrice] = []

    @model_validator(mode="after")
    def _unique(self) -> Custom:
        seen_models = [model_key(m.manufacturer, m.model) for m in self.models]
        seen_serials = [serial_key(d.serial) for d in self.devices]
        for kind, keys in (("model", seen_models), ("device serial", seen_serials)):
            dup = next((k for k in keys if keys.count(k) > 1), None)
            if dup is not None:
                raise ValueError(f"{kind} {dup!r} priced twice")
        return self


class Tier(_Strict):
    up_to: Annotated[int, Field(ge=1)] | None = None   # last page of this tier; None: no upper bound
    price: Money


def _check_tiers(tiers: list[Tier]) -> list[Tier]:
    if not tiers:
        raise ValueError("needs at least one tier")
    if tiers[-1].up_to is not None:
        raise ValueError("the last tier must have no up_to (pages beyond every threshold)")
    bounds = [t.up_to for t in tiers[:-1]]
    if None in bounds:
        raise ValueError("only the last tier may omit up_to")
    if bounds != sorted(set(bounds)):
        raise ValueError("up_to thresholds must increase strictly")
    return tiers


TierList = list[Tier]


class Tiers(_Strict):
    mono: TierList | None = None
    color: TierList | None = None
    scan: TierList | None = None

    @model_validator(mode="after")
    def _valid(self) -> Tiers:
        given = {m: getattr(self, m) for m in PAGE_METERS if getattr(self, m) is not None}
        if not given:
            raise ValueError("tiers for at least one of mono, color, scan")
        for meter, tiers in given.items():
            try:
                _check_tiers(tiers)
            except ValueError as exc:
                raise ValueError(f"{meter}: {exc}") from None
        return self


class ConsumablePrice(_Strict):
    part_number: Name | None = None
    type: Name | None = None
    color: Name | None = None
    price: Money

    @model_validator(mode="after")
    def _keyed(self) -> ConsumablePrice:
        if (self.part_number is None) == (self.type is None):
            raise ValueError("a consumable price names either a part_number or a type (with an optional color)")
        if self.color is not None and self.type is None:
            raise ValueError("color goes with type")
        return self


class Consumables(_Strict):
    prices: list[ConsumablePrice]


class A4Equivalent(_Strict):
    mono: Ratio = Decimal(1)
    color: Ratio = Decimal(1)
    scan: Ratio = Decimal(1)
    large_mono: Ratio = Decimal(1)
    large_color: Ratio = Decimal(1)


_SECTIONS: dict[str, tuple[str, ...]] = {
    "simple": ("prices",),
    "subscription": ("prices", "subscription"),
    "custom": ("prices", "custom"),
    "tiered": ("tiers",),
    "consumable": ("consumables",),
}


class BillingPlan(_Strict):
    schema_: Literal["fleetmeter.billing-plan/1"] = Field(SCHEMA, alias="schema")
    type: PlanType
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    round_to: Annotated[Decimal, BeforeValidator(_decimal), Field(gt=0, allow_inf_nan=False)] = Decimal("0.01")
    prices: PagePrices | None = None
    subscription: Subscription | None = None
    custom: Custom | None = None
    tiers: Tiers | None = None
    consumables: Consumables | None = None
    a4_equivalent: A4Equivalent = A4Equivalent()

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _sections_match_type(self) -> BillingPlan:
        wanted = _SECTIONS[self.type]
        for section in ("prices", "subscription", "custom", "tiers", "consumables"):
            present = getattr(self, section) is not None
            if section in wanted and not present:
                raise ValueError(f"type {self.type} needs a [{section}] section")
            if section not in wanted and present:
                raise ValueError(f"[{section}] is not used by type {self.type}; remove it or change the type")
        return self

    def dump_json(self) -> str:
        """The stored form (Decimals as strings), read back by `load_plan(text, "json")`."""
        return self.model_dump_json(by_alias=True, exclude_none=True)


def model_key(manufacturer: str, model: str) -> str:
    return " ".join(f"{manufacturer} {model}".casefold().split())


def serial_key(serial: str) -> str:
    return "".join(serial.split()).upper()


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "plan"
    message = err["msg"].removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {message}{more}"


def load_plan(text: str, fmt: Literal["toml", "json"]) -> BillingPlan:
    """Parse and validate a plan document; PlanError (one line) when it cannot be used."""
    try:
        data = (tomllib.loads(text, parse_float=Decimal) if fmt == "toml"
                else json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise PlanError(f"plan is not valid {fmt.upper()}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise PlanError("plan must be a table/object")
    try:
        return BillingPlan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(_one_line(exc)) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a plan can use")


def load_plan_file(path: Path) -> BillingPlan:
    """A .toml or .json plan file."""
    fmt = {".toml": "toml", ".json": "json"}.get(path.suffix.lower())
    if fmt is None:
        raise PlanError(f"{path}: plan files end in .toml or .json")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: cannot read: {exc}") from None
    try:
        return load_plan(text, fmt)  # type: ignore[arg-type]
    except PlanError as exc:
        raise PlanError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class PlanVersion:
    """A plan as it applies from the start of `effective_from` until the next version."""

    effective_from: Period
    plan: BillingPlan
    set_at: datetime


def set_plan(history: Sequence[PlanVersion], plan: BillingPlan, now: datetime,
             effective_from: Period | None = None, last_bill: tuple[Period, str] | None = None
             ) -> tuple[PlanVersion, ...]:
    """The history with `plan` taking effect from `effective_from`, by default the current period. A past
    period is allowed while it is not billed: `last_bill` is the client's latest stored bill (its period and how
    to name it); a plan taking effect from that period or an earlier one is refused, because billed periods
    never change. A version already set for the same period is replaced; later versions stay."""
    start = effective_from or Period.containing(now)
    if last_bill is not None and start <= last_bill[0]:
        raise PlanError(f"a plan cannot take effect from {start}: {last_bill[1]} is stored and billed periods "
                        f"never change (earliest: {last_bill[0].next()})")
    kept = [v for v in history if v.effective_from != start]
    return tuple(sorted([*kept, PlanVersion(start, plan, utc(now))], key=lambda v: v.effective_from))


def plan_for_period(history: Sequence[PlanVersion], period: Period) -> BillingPlan | None:
    """The plan in effect for `period`: the latest version effective from it or earlier."""
    applicable = [v for v in history if v.effective_from <= period]
    return max(applicable, key=lambda v: v.effective_from).plan if applicable else None
