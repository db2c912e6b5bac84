"""Replacement detection and the replacement alarms (Focalist's "Remplacement" checks), as pure functions.

A replacement is seen when the supply's serial changes (where the device reports one), or when the level
rises by at least `RISE_POINTS` to at least `MIN_NEW_PERCENT` and stays there at the next reading (less what the
pages printed in between can have used: a print room's cartridge falls 20 points a day). A rise to
nearly full (>= `FRESH_PERCENT`) from a low level needs no confirmation: no shake does that. A shaken
cartridge (a rise of a few points that falls back, or a rise that lands low) is not a replacement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from server_stub.supply.forecast import SupplyObservation

RISE_POINTS = 20.0
MIN_NEW_PERCENT = 30.0
FRESH_PERCENT = 95.0
FRESH_FROM_BELOW = 50.0

AlarmKind = Literal["premature", "low_efficiency", "from_other_device", "model_mismatch", "without_order",
                    "order_not_shipped", "high_use"]


@dataclass(frozen=True)
class Detection:
    """What one observation says about the cartridge in the slot."""

    verdict: Literal["same", "pending", "replaced", "shake"]
    at: datetime | None = None  # when the new cartridge was first seen (replaced)
    cause: str = ""  # "serial" or "level"
    first: SupplyObservation | None = None  # the observation that first showed the new cartridge


def detect(last_percent: float | None, last_serial: str | None, pending: SupplyObservation | None,
           obs: SupplyObservation, *, printed: float | None = None, capacity: float | None = None,
           used: float = 0.0) -> Detection:
    """`last_percent`: the last percent the current cartridge showed (not a shake); `pending`: an
    earlier rise waiting for this observation to confirm it. `printed`: pages since the last reading;
    `capacity`: pages the cartridge could at most have printed in that time (with a wide margin): printing
    more means it was replaced while the agent was not looking (an offline gap), even if the level is now
    lower than it was. `used`: the most points the pages printed since `pending` can have taken."""
    if obs.serial and last_serial and obs.serial != last_serial:
        return Detection("replaced", obs.at, "serial", obs)
    if printed is not None and capacity is not None and printed > capacity and obs.percent is not None \
            and obs.percent > 0 and pending is None:
        return Detection("replaced", obs.at, "pages", obs)
    if pending is not None:
        if obs.percent is None:
            return Detection("pending", first=pending)
        if pending.percent is not None and obs.percent >= pending.percent - RISE_POINTS / 2 - used:
            return Detection("replaced", pending.at, "level", pending)
        return Detection("shake")
    if obs.percent is None or last_percent is None:
        return Detection("same")
    rise = obs.percent - last_percent
    if rise >= RISE_POINTS and obs.percent >= MIN_NEW_PERCENT:
        if obs.percent >= FRESH_PERCENT and last_percent <= FRESH_FROM_BELOW:
            return Detection("replaced", obs.at, "level", obs)
        return Detection("pending", first=obs)
    if rise > 0:
        return Detection("shake")
    return Detection("same")


Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class AlarmSettings(BaseModel):
    """Each check on/off (None: off) with its threshold; set per client in the policy file."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    premature_percent: Percent | None = 20.0  # replaced with at least this much left
    efficiency_below: Percent | None = 60.0  # pages printed / rated yield below this percent
    other_device_below: Percent | None = 80.0  # a cartridge installed below this percent came from elsewhere
    model_mismatch: bool = True
    without_order: bool = True
    order_not_shipped: bool = True


@dataclass(frozen=True)
class Replacement:
    """A detected replacement and what is known of the cartridge that came out and the one that went in."""

    device: str
    supply: str
    at: datetime
    cause: str
    left_percent: float | None  # estimated level of the removed cartridge
    removed_pages: int | None  # pages it printed (None: it was in before monitoring started)
    pages_per_percent: float  # of the removed cartridge
    new_percent: float | None
    new_serial: str | None
    new_part_number: str | None

    @property
    def wasted_pages(self) -> int | None:
        if self.left_percent is None:
            return None
        return round(self.left_percent * self.pages_per_percent)


@dataclass(frozen=True)
class OrderView:
    """The open order line a replacement is matched against (None: there is none)."""

    order_id: str
    shipped: bool
    part_number: str | None


@dataclass(frozen=True)
class Alarm:
    device: str
    supply: str
    at: datetime
    kind: AlarmKind
    detail: dict

    def as_json(self) -> dict:
        return {"device": self.device, "supply": self.supply, "at": self.at.isoformat().replace("+00:00", "Z"),
                "kind": self.kind, **self.detail}


def is_premature(event: Replacement, settings: AlarmSettings) -> bool:
    return (settings.premature_percent is not None and event.left_percent is not None
            and event.left_percent >= settings.premature_percent)


def efficiency(removed_pages: int | None, rated_yield: int | None) -> float | None:
    """Pages a cartridge printed as a percentage of its rated yield (None when either is unknown)."""
    if removed_pages is None or not rated_yield:
        return None
    return 100.0 * removed_pages / rated_yield


def replacement_alarms(event: Replacement, settings: AlarmSettings, *, rated_yield: int | None,
                       order: OrderView | None, serial_seen_on: str | None) -> list[Alarm]:
    """The alarms one replacement raises. `serial_seen_on`: another asset that already showed the new
    cartridge's serial (None: none did)."""
    alarms: list[Alarm] = []

    def raise_(kind: AlarmKind, **detail) -> None:
        alarms.append(Alarm(event.device, event.supply, event.at, kind, detail))

    if is_premature(event, settings):
        raise_("premature", left_percent=round(event.left_percent or 0, 1), wasted_pages=event.wasted_pages)
    eff = efficiency(event.removed_pages, rated_yield)
    if settings.efficiency_below is not None and eff is not None and eff < settings.efficiency_below:
        raise_("low_efficiency", efficiency_percent=round(eff, 1))
    if settings.other_device_below is not None and (
            serial_seen_on is not None
            or (event.new_percent is not None and event.new_percent < settings.other_device_below)):
        raise_("from_other_device", new_percent=event.new_percent, seen_on=serial_seen_on)
    if order is None:
        if settings.without_order:
            raise_("without_order")
    else:
        if settings.model_mismatch and order.part_number and event.new_part_number \
                and order.part_number != event.new_part_number:
            raise_("model_mismatch", ordered=order.part_number, installed=event.new_part_number)
        if settings.order_not_shipped and not order.shipped:
            raise_("order_not_shipped", order_id=order.order_id)
    return alarms
