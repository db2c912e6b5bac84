"""The reorder policy, in one place: which supply needs ordering now, how many, in which parcel, and why.

Levels: a preset, then the file's `global` table, then the client's, then the device's (the most specific
wins, key by key). Each supply class (mono/colour toner, mono/colour drum, maintenance, waste toner) has a
method: Level (order at <= X %) or Proactive (order when the forecast says it runs out within N days; by
default the lead time, plus the day until the next reading (the next chance to order: an order placed then
must still arrive in time), plus a safety day, counted from the forecast's *earliest* empty date so the
range is the safety margin). Proactive needs `min_history_days` of history (a month, as the issue and Focalist
ask); Level applies until then, at 20 % or at the share of the cartridge the window's days take at the expected
use, whichever is more (a cartridge that lasts three weeks is ordered at a third, not at four days from empty;
one that may be very high use is left to a person), on the level the cartridge has fallen to by now (a printer
whose agent went silent keeps printing). On a 1 % gauge, whose level is read rather than guessed, that Level
order also waits until even the fastest plausible use empties the cartridge within the window (`_level_due`): a
20 % cartridge on a slow printer may have two months left. A dealer may lower the month, e.g. to a week
(`min_history_days = 7`), the forecast's range being wider while the rate rests on few days.

Presets:
- `default`: Proactive, lead 5 days + 1 day to the next reading + 1 safety day, orders that bring the stock up to
  30 days of use, site consolidation of what runs out within 13 days, high-use devices (>= 2 cartridges of one
  colour a week) to manual handling, every supply of them;
- `asr`: as Xerox ASR: the default and never later than 21 days before empty, consolidation 45 days;
- `ekm`: Happen EKM's thresholds: Level at 15 % (lines at <= 5 % urgent), lead time 7 days;
- `level10`: a plain "order one cartridge at 10 %", no consolidation.

The policy file (TOML or JSON), e.g.:

    preset = "default"
    [global]
    lead_days = 5
    [global.classes.colour_toner]
    method = "level"
    level_percent = 12
    [clients."ACME"]
    consolidation_days = 45
    [devices."W492KB03439"]
    high_use_per_week = 4
    [rated_yields]            # part number -> rated pages (the dealer's catalogue)
    "TN-2420" = 3000
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from server_stub.supply.forecast import Forecast
from server_stub.supply.replacement import AlarmSettings

NO_RATE_PERCENT = 10.0  # the first month's Level on a 1 % gauge, before the printer's page rate is known

SupplyClass = Literal["mono_toner", "colour_toner", "mono_drum", "colour_drum", "maintenance", "waste_toner"]
SUPPLY_CLASSES: tuple[SupplyClass, ...] = ("mono_toner", "colour_toner", "mono_drum", "colour_drum",
                                           "maintenance", "waste_toner")
Preset = Literal["default", "asr", "ekm", "level10"]
Days = Annotated[float, Field(ge=0, le=3650, allow_inf_nan=False)]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


def supply_class(supply_type: str, colour: str | None) -> SupplyClass | None:
    """The policy class of a reading's supply (None: not something the policy orders, e.g. staples)."""
    mono = colour in (None, "black")
    if supply_type in ("toner", "ink"):
        return "mono_toner" if mono else "colour_toner"
    if supply_type in ("drum", "opc", "developer"):
        return "mono_drum" if mono else "colour_drum"
    if supply_type in ("fuser", "transfer", "maintenance_kit"):
        return "maintenance"
    if supply_type == "waste_toner":
        return "waste_toner"
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ClassRule(_Strict):
    method: Literal["level", "proactive"] = "proactive"
    # Level: order at or below this percent (also what Proactive does before `min_history_days`; 20 % leaves a
    # typical cartridge a week or more, enough for the lead time)
    level_percent: Percent = 20.0
    days: Days | None = None  # Proactive: order when it runs out within N days (None: lead + safety)
    route: Literal["order", "query"] = "order"  # "query": to the query queue instead of an order


class Rules(_Strict):
    """The resolved policy for one device."""

    monitor: bool = True  # False: no automatic order for the device (its contract's monitoring is off)
    lead_days: Annotated[int, Field(ge=0, le=90)] = 5
    safety_days: Days = 1.0  # beyond the lead time and the day to the next reading
    reading_days: Days = 1.0  # readings come this often: the next chance to order
    max_days_before_empty: Days | None = None  # order at the latest this many days before expected empty
    cover_days: Days = 30.0  # an order tops what the customer holds when it arrives up to this many days of use
    # supplies of the site running out within this join the parcel. A trade of waiting for parcels: on the bench
    # 14 days save 36 % of shipments with a median wait of 7.7 days, 13 days 31 % and 7.0, 12 days 27 % and 6.9
    consolidation_days: Days = 13.0
    min_history_days: Days = 30.0  # Proactive needs this much history; Level applies until then
    high_use_per_week: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = 2.0
    block_efficiency_below: Percent | None = None  # previous cartridge below this: order waits for release
    urgent_percent: Percent | None = None
    mark_shipped_after_notification: bool = True
    verify_installation: bool = True
    alarms: AlarmSettings = AlarmSettings()
    classes: dict[SupplyClass, ClassRule] = Field(default_factory=lambda: {
        c: ClassRule(route="query" if c == "maintenance" else "order") for c in SUPPLY_CLASSES})


def _preset(name: Preset) -> dict[str, Any]:
    if name == "asr":
        return {"max_days_before_empty": 21.0, "consolidation_days": 45.0}
    if name == "ekm":
        return {"lead_days": 7, "urgent_percent": 5.0,
                "classes": {c: {"method": "level", "level_percent": 15.0} for c in SUPPLY_CLASSES}}
    if name == "level10":
        return {"cover_days": 0.0, "consolidation_days": 0.0, "high_use_per_week": None,
                "classes": {c: {"method": "level", "level_percent": 10.0} for c in SUPPLY_CLASSES}}
    return {}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


class PolicyFile(BaseModel):
    """The policy file: a preset and overrides at the global, client and device levels."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)
    preset: Preset = "default"
    global_: dict[str, Any] = Field(default_factory=dict, alias="global")
    clients: dict[str, dict[str, Any]] = Field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rated_yields: dict[str, Annotated[int, Field(gt=0)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _levels_valid(self) -> "PolicyFile":
        checks = [("global", [self.global_])] + [(f"clients.{k}", [self.global_, v]) for k, v in self.clients.items()]
        checks += [(f"devices.{k}", [self.global_, v]) for k, v in self.devices.items()]
        for where, levels in checks:
            try:
                self.layered(*levels)
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                raise ValueError(f"{where}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
        return self

    def layered(self, *levels: dict[str, Any]) -> Rules:
        merged = Rules().model_dump()
        for level in (_preset(self.preset), *levels):
            merged = _merge(merged, level)
        return Rules.model_validate(merged)


class PolicyError(ValueError):
    pass


def load_policy(path: Path | None) -> "Policy":
    """Read and check a policy file (TOML, or JSON by suffix); None: the default preset."""
    if path is None:
        return Policy(PolicyFile())
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
        return Policy(PolicyFile.model_validate(data))
    except OSError as exc:
        raise PolicyError(f"cannot read policy {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError(f"policy {path} is not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}") from None
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        raise PolicyError(f"policy {path}: {where + ': ' if where else ''}{msg}") from None


@dataclass
class Policy:
    file: PolicyFile
    _cache: dict[tuple[str | None, str | None], Rules] = field(default_factory=dict)

    def rules(self, client: str | None, device: str | None) -> Rules:
        """Global -> client -> device, the device level overriding."""
        key = (client, device)
        if key not in self._cache:
            levels = [self.file.global_, self.file.clients.get(client or "", {}), self.file.devices.get(device or "", {})]
            self._cache[key] = self.file.layered(*levels)
        return self._cache[key]

    def with_devices(self, levels: dict[str, dict[str, Any]]) -> "Policy":
        """The policy with `levels` laid over the device levels it has (e.g. what contracts decide per asset)."""
        if not levels:
            return self
        devices = dict(self.file.devices) | {d: _merge(self.file.devices.get(d, {}), lv) for d, lv in levels.items()}
        return Policy(self.file.model_copy(update={"devices": devices}))

    def rated_yield(self, part_number: str | None) -> int | None:
        return self.file.rated_yields.get(part_number) if part_number else None

    def with_lead_days(self, days: int) -> "Policy":
        return Policy(self.file.model_copy(update={"global_": _merge(self.file.global_, {"lead_days": days})}))


@dataclass(frozen=True)
class SupplyView:
    """What the policy decides on for one asset supply, as plain values."""

    device: str
    supply: str
    client: str
    site: str
    supply_class: SupplyClass | None
    part_number: str | None
    forecast: Forecast | None
    history_days: float
    stock: int  # cartridges ordered for it and not installed yet (open orders)
    last_efficiency: float | None  # of the previous cartridge, percent of rated yield
    readings: tuple[dict, ...] = ()  # the recent readings behind the forecast


@dataclass(frozen=True)
class Line:
    device: str
    supply: str
    quantity: int
    part_number: str | None
    reason: str  # the rule that fired, or "consolidated"
    why: dict


@dataclass(frozen=True)
class PlannedOrder:
    client: str
    site: str
    kind: Literal["auto", "query"]
    blocked: bool
    rule: str
    lines: tuple[Line, ...]
    why: dict


@dataclass(frozen=True)
class Flag:
    """A supply the policy will not order automatically (very high use: manual handling)."""

    device: str
    supply: str
    kind: str
    why: dict


def _days(value: float) -> timedelta:
    return timedelta(days=value)


def quantity(view: SupplyView, rules: Rules, now: datetime) -> int:
    """The cartridges that bring what the customer holds when the parcel arrives up to `cover_days` of use: Xerox
    ASR's "a stock of 30 days of consumption". What it holds (the rest of the installed cartridge and the stock on
    order) is counted at the fastest plausible use, as the reorder rule counts it. Rounded up to whole cartridges,
    at least one. Counting the rest spares a printer a cartridge it would not touch for a month: one whose
    cartridges last four weeks, joining a parcel with eleven days left at the fastest plausible use (six when the
    parcel comes), gets one cartridge for the 24 days still to cover, not two."""
    per = view.forecast.days_per_cartridge if view.forecast else None
    if not per or rules.cover_days <= 0:
        return 1
    return max(1, math.ceil((rules.cover_days - held_days(view, rules, now)) / per - 1e-9))


def held_days(view: SupplyView, rules: Rules, now: datetime) -> float:
    """Days of use the customer still holds when a parcel ordered now arrives, at the fastest plausible use."""
    runs_out = _run_out(view, earliest=True)
    return 0.0 if runs_out is None else max((runs_out - now).total_seconds() / 86400 - rules.lead_days, 0.0)


def _run_out(view: SupplyView, earliest: bool) -> datetime | None:
    """When the installed cartridge and the stock on order are used up (earliest or expected)."""
    f = view.forecast
    if f is None:
        return None
    at, per = (f.earliest, f.days_per_cartridge_min) if earliest else (f.empty_at, f.days_per_cartridge)
    if at is None:
        return None
    return at + _days(view.stock * (per or 0.0))


def need(view: SupplyView, rules: Rules, now: datetime) -> tuple[str, dict] | None:
    """(rule, why) when this supply needs an order now by itself, else None."""
    if view.supply_class is None or not rules.monitor:
        return None
    rule = rules.classes[view.supply_class]
    f = view.forecast
    why: dict[str, Any] = {"forecast": f.as_json() if f else None, "method": rule.method,
                           "stock": view.stock, "readings": list(view.readings)}
    earliest = _run_out(view, earliest=True)
    window = rule.days if rule.days is not None else rules.lead_days + rules.reading_days + rules.safety_days
    if rule.method == "proactive" and view.history_days >= rules.min_history_days and earliest is not None:
        fired = None
        if earliest <= now + _days(window):
            fired = "proactive"
            why |= {"runs_out_earliest": earliest.isoformat(), "window_days": window}
        expected = _run_out(view, earliest=False)
        if fired is None and rules.max_days_before_empty is not None and expected is not None \
                and expected <= now + _days(rules.max_days_before_empty):
            fired = "max_days_before_empty"
            why |= {"runs_out": expected.isoformat(), "window_days": rules.max_days_before_empty}
    else:
        percent = f.percent if f else None
        level = rule.level_percent
        if rule.method == "proactive" and f is not None:
            # Level stands in until Proactive has its history: at 20 % or at what the window's days take at the
            # expected use, whichever is more (20 % of a cartridge that lasts three weeks is four days); behind a
            # gauge that does not show the level, on the lowest level it may be at (a cartridge that was in
            # before monitoring, behind a gauge showing 100 until empty, may be empty any day)
            if f.days_per_cartridge and not may_be_high_use(f, rules):
                level = max(level, min(100 * window / f.days_per_cartridge, 100.0))
            if not f.shown and f.percent_low is not None:
                percent = f.percent_low
            if percent is not None and f.made_at is not None and f.days_per_cartridge and now > f.made_at:
                # the level it has fallen to since the forecast's reading, at the expected use: a printer whose
                # agent went silent keeps printing (the live worker and the backtest decide on it daily)
                percent -= 100 * (now - f.made_at).total_seconds() / 86400 / f.days_per_cartridge
        fired = "level" if view.stock == 0 and percent is not None and percent <= level else None
        if fired and rule.method == "proactive" and f is not None and f.fine and not _level_due(f, percent, earliest,
                                                                                                  now, window):
            fired = None
        if fired:
            why |= {"percent": round(percent, 1), "level_percent": round(level, 1)}
            if rule.method == "proactive":
                why["proactive_after_days"] = rules.min_history_days
    if fired is None:
        return None
    if view.stock > 0:
        why["fired"] = fired
        fired = "usage_jump"  # the stock already on order will not last
    if rules.urgent_percent is not None and f and f.percent is not None and f.percent <= rules.urgent_percent:
        why["urgent"] = True
    return fired, why


def _level_due(f: Forecast, percent: float, earliest: datetime | None, now: datetime, window: float) -> bool:
    """On a 1 % gauge the first month's Level stand-in also waits for the forecast: a 20 % cartridge on a slow
    printer may have two months left, and its parcel would wait as long. It orders once even the fastest
    plausible use empties it within the window (the level itself is read, not counted down from a guess), and
    before the first page rate (the first day) only at NO_RATE_PERCENT or below."""
    if earliest is None:
        return percent <= NO_RATE_PERCENT
    return earliest <= now + _days(window)


def _very_high_use(days_per_cartridge: float | None, rules: Rules) -> bool:
    """`high_use_per_week` cartridges or more a week (two by default): a person orders for it."""
    per = days_per_cartridge
    return bool(rules.high_use_per_week and per and 7 / per >= rules.high_use_per_week)


def high_use(view: SupplyView, rules: Rules) -> bool:
    return _very_high_use(view.forecast.days_per_cartridge if view.forecast else None, rules)


def may_be_high_use(forecast: Forecast, rules: Rules) -> bool:
    """At the fastest plausible use, a very-high-use supply (a person may soon handle it: see high_use)."""
    return _very_high_use(forecast.days_per_cartridge_min, rules)


def _line(view: SupplyView, rules: Rules, now: datetime, reason: str, why: dict) -> Line:
    """An order line for the supply, its quantity and the days of use held that it counted in its why."""
    return Line(view.device, view.supply, quantity(view, rules, now), view.part_number, reason,
                why | {"held_days": round(held_days(view, rules, now), 1)})


def plan_site(candidates: list[SupplyView], site: Callable[[], list[SupplyView]],
              rules_for: Callable[[SupplyView], Rules], now: datetime) -> tuple[list[PlannedOrder], list[Flag]]:
    """The orders one site needs now: `candidates` that fire (the supplies just observed, or all of them),
    plus the site's supplies (`site()`) that run out within the consolidation window, joining the same
    parcel. Blocked and query lines go in orders of their own; every supply of a very-high-use device among the
    candidates is flagged instead (candidates hold all the supplies of the devices they name)."""
    # a very-high-use device is handled by a person, every supply of it (a print room's other colours run out
    # within a lead time too): each is flagged, whether it needs an order now or not, and none is ordered
    heavy = {v.device: v.supply for v in candidates if high_use(v, rules_for(v))}
    fired: list[tuple[SupplyView, Rules, str, dict]] = []
    flags: list[Flag] = []
    for view in candidates:
        rules = rules_for(view)
        found = need(view, rules, now)
        if view.device in heavy:
            why = found[1] if found else {"forecast": view.forecast.as_json() if view.forecast else None}
            flags.append(Flag(view.device, view.supply, "high_use", why | {"high_use_supply": heavy[view.device]}))
        elif found is not None:
            fired.append((view, rules, *found))
    if not fired:
        return [], flags
    views = site()
    groups: dict[tuple[str, bool], list[Line]] = {}
    for view, rules, rule, why in fired:
        klass = rules.classes[view.supply_class]  # type: ignore[index]
        kind = "query" if klass.route == "query" else "auto"
        blocked = (rules.block_efficiency_below is not None and view.last_efficiency is not None
                   and view.last_efficiency < rules.block_efficiency_below)
        if blocked:
            why = why | {"blocked": f"previous cartridge efficiency {view.last_efficiency:.0f} % < "
                                    f"{rules.block_efficiency_below:.0f} %"}
        groups.setdefault((kind, blocked), []).append(_line(view, rules, now, rule, why))
    taken = {(v.device, v.supply) for v, *_ in fired} | {(f.device, f.supply) for f in flags}
    shipment = groups.get(("auto", False))
    if shipment:
        for view in views:
            if (view.device, view.supply) in taken or view.stock > 0 or view.supply_class is None:
                continue
            rules = rules_for(view)
            f = view.forecast
            if (not rules.monitor or rules.classes[view.supply_class].route != "order" or rules.consolidation_days <= 0
                    or f is None
                    or f.empty_at is None or f.empty_at > now + _days(rules.consolidation_days)
                    or view.device in heavy or high_use(view, rules) or view.history_days < rules.min_history_days
                    or (rules.block_efficiency_below is not None and view.last_efficiency is not None
                        and view.last_efficiency < rules.block_efficiency_below)):
                continue
            shipment.append(_line(view, rules, now, "consolidated",
                                  {"forecast": f.as_json(), "window_days": rules.consolidation_days}))
    orders = []
    for (kind, blocked), lines in groups.items():
        first = next(line for line in lines if line.reason != "consolidated")
        orders.append(PlannedOrder(fired[0][0].client, fired[0][0].site, kind, blocked, first.reason, tuple(lines), {
            "fired": [{"device": ln.device, "supply": ln.supply, "rule": ln.reason} for ln in lines
                      if ln.reason != "consolidated"],
            "consolidated": [{"device": ln.device, "supply": ln.supply} for ln in lines
                             if ln.reason == "consolidated"]}))
    return orders, flags
