"""The supply forecast: how much is left in the cartridge installed now, and when it will run out.

One place for it. Pure code over plain values: the live server and `supply backtest` feed the same
observations through the same functions.

- Page history (`PageHistory`): pages printed per calendar day from a device's counter, gaps spread over
  the working days they covered. `usage_rate()` learns working-day and weekend rates from the last four
  weeks, ignores holidays (days far below normal) and caps one-off big jobs, and follows a trend change
  (the last two weeks differ from the last four) within about two weeks. After a fall in use (a quiet
  fortnight, or a quiet month like the August holidays) its fastest plausible rate is the busier rate
  before it, which use comes back to.
- Pages per percent (`PagesPerPercent`): learned for this cartridge (a least-squares fit of its level
  against the pages printed since it was installed), blended with a prior from this device's earlier
  cartridges, else the same model across the fleet, else the rated yield, else a class default.
- Level now (`CartridgeTrack`): 1 % gauges are smoothed (noise) and a small rise that is not a
  replacement (a shaken cartridge) is ignored; once the cartridge has fallen far enough, the level is read
  off its own fit of level against pages (`line_at`), within twice the fit's standard error; coarse gauges
  (10/20/25 %, 0/100) and gauges that hide the level ("some remaining" -3, or no percent once low) count
  down from the last level change with the pages printed since, within the step the gauge still shows.
- Pages per percent from the fleet are as doubtful as the fleet is spread (`fleet_spread`): the range reaches
  a device that covers far more of the page than the fleet's median.
- One gauge serves all of a printer's supplies, so what one shows of it tells about the others: a gauge that
  hid a falling level hides low levels (`hides_once_low`: another supply it hid from the first reading is low),
  and four supplies showing only 100 tell sooner than one that it shows 100 until empty
  (`shows_full_until_empty`).
- `forecast()` turns level, pages per percent and usage rate into percent, pages left, days left and the
  empty date with its range (earliest: high rate and low estimate; latest: the opposite) and its method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median

DAY = 86400.0
WORK_START_H, WORK_HOURS = 8.0, 10.0  # pages of a day are printed 08:00-18:00 UTC
RATE_WINDOW_DAYS = 28
RECENT_DAYS = 14
SHAKE_RISE = 3.0  # a rise of at least this many points on a 1 % gauge is a shake, not a reading to follow
SMOOTHING = 0.4
CLASS_DEFAULT_YIELD = 10_000  # pages per cartridge when nothing else is known
COARSEST_STEP = 25.0  # the widest step a coarse gauge reports in
UNMOVED_POINTS = 3.0  # pages worth this many points printed and the gauge still shows its first value
FLEET_U = 0.25  # the least relative doubt of a pages-per-percent taken from the fleet
FLEET_SIGMAS = 2.5  # ... and how many of the fleet's (robust) standard deviations it spans
FALL = 1.2  # the four weeks before the last four were this much busier: use fell, and may come back
LINE_POINTS, LINE_FALL = 8, 10.0  # a 1 % gauge's own fit gives the level from this many points over this fall
HID_DAYS = 4.0  # a gauge that hid a falling level this long (a shaken cartridge's rise lasts a reading or two)...
HID_POINTS = SHAKE_RISE  # ... while the pages printed took it this many points further down: it hides low levels


@dataclass(frozen=True)
class SupplyObservation:
    """One supply in one reading, reduced to what the forecast and replacement checks use."""

    at: datetime
    percent: float | None  # None: the gauge gives no percent (-3 some remaining, -2 unknown, ...)
    pages: int | None  # the page counter this supply is consumed by (colour toners: colour pages)
    serial: str | None = None
    part_number: str | None = None


@dataclass(frozen=True)
class UsageRate:
    workday: float  # pages per working day
    weekend: float  # pages per weekend day
    low: float  # factor for the slowest plausible rate (<= 1)
    high: float  # factor for the fastest plausible rate (>= 1)
    days: int  # days of page history behind it

    def per_day(self) -> float:
        return (5 * self.workday + 2 * self.weekend) / 7


@dataclass
class PageHistory:
    """Pages per calendar day for one counter of one device."""

    daily: dict[date, float] = field(default_factory=dict)
    first_at: datetime | None = None
    last_at: datetime | None = None
    last_count: int | None = None

    def record(self, at: datetime, count: int | None) -> None:
        if count is None:
            return
        if self.last_at is None or self.last_count is None:
            self.first_at, self.last_at, self.last_count = at, at, count
            return
        if at <= self.last_at:
            return
        delta, prev_day = count - self.last_count, self.last_at.date()
        self.last_at, self.last_count = at, count
        if delta < 0:  # counter reset (board swap): start again from here
            return
        days = [prev_day + timedelta(days=i + 1) for i in range((at.date() - prev_day).days)] or [at.date()]
        weights = [1.0 if d.weekday() < 5 else 0.1 for d in days]
        total = sum(weights)
        for d, w in zip(days, weights):
            self.daily[d] = self.daily.get(d, 0.0) + delta * w / total
        if len(self.daily) > 3 * RATE_WINDOW_DAYS:
            for old in sorted(self.daily)[: len(self.daily) - 2 * RATE_WINDOW_DAYS]:
                del self.daily[old]

    def history_days(self, now: datetime) -> float:
        return 0.0 if self.first_at is None else (now - self.first_at).total_seconds() / DAY


def usage_rate(history: PageHistory, today: date) -> UsageRate | None:
    """Working-day and weekend page rates over the last four weeks (None before two days of history)."""
    start = today - timedelta(days=RATE_WINDOW_DAYS)
    days = [(d, p) for d, p in history.daily.items() if start < d <= today]
    if len(days) < 2:
        return None
    work = [(d, p) for d, p in days if d.weekday() < 5]
    weekend = [p for d, p in days if d.weekday() >= 5]
    if not work:
        mean = sum(p for _, p in days) / len(days)
        return UsageRate(mean, mean, 0.6, 1.5, len(days))
    normal = _ordinary(work)
    long_rate = sum(p for _, p in normal) / len(normal)
    recent = [p for d, p in normal if d > today - timedelta(days=RECENT_DAYS)]
    rate = long_rate
    if len(recent) >= 5:
        recent_rate = sum(recent) / len(recent)
        if abs(recent_rate / long_rate - 1) > 0.2 if long_rate else recent_rate > 0:  # a trend change
            rate = recent_rate
    weekend_rate = min(sum(weekend) / len(weekend), 3 * rate) if weekend else 0.1 * rate
    spread = 0.0
    if len(normal) >= 5 and rate > 0:
        mean = long_rate
        sd = math.sqrt(sum((p - mean) ** 2 for _, p in normal) / (len(normal) - 1))
        spread = sd / mean / math.sqrt(min(len(normal), 15))  # uncertainty of a ~3-week mean
    low = max(0.5, 1 - 0.12 - 2 * spread)
    noise = 0.15 + 2 * spread  # how far above its rate a device may print in the weeks ahead
    high = 1 + noise + (0.3 if len(days) < 10 else 0.0)
    if rate != long_rate and rate > 0 and long_rate > 0:
        # the last fortnight differs from the four weeks: the range covers both, as the change may not last (a
        # rise may fall back; a fall, like the August holidays, comes back to the four-week rate), and a rise may
        # go on rising
        low, high = min(low, long_rate / rate), max(high, rate / long_rate, long_rate / rate)
    before = _workday_rate(history, start - timedelta(days=RATE_WINDOW_DAYS), start)
    if rate > 0 and before is not None and before > FALL * rate:
        # the four weeks before were busier: a quiet month (the August holidays) ends, and use comes back to
        # where it was, as noisy as ever
        high = max(high, before / rate * (1 + noise))
    return UsageRate(rate, weekend_rate, low, high, len(days))


def _ordinary(work: list[tuple[date, float]]) -> list[tuple[date, float]]:
    """Working days as they usually go: holidays (far below the median) left out, big jobs capped at 3x it."""
    typical = median(p for _, p in work)
    return [(d, min(p, 3 * typical)) for d, p in work if p >= 0.15 * typical] or work


def _workday_rate(history: PageHistory, start: date, end: date) -> float | None:
    """Pages per ordinary working day in (start, end] (None: under two weeks of working days known)."""
    work = [(d, p) for d, p in history.daily.items() if start < d <= end and d.weekday() < 5]
    if len(work) < 10:
        return None
    normal = _ordinary(work)
    return sum(p for _, p in normal) / len(normal)


def when_printed(pages: float, now: datetime, rate: UsageRate, scale: float = 1.0) -> datetime | None:
    """When `pages` more pages will have been printed from `now` at `rate` x `scale` (None: never)."""
    work, weekend = rate.workday * scale, rate.weekend * scale
    if pages <= 0:
        return now
    week = 5 * work + 2 * weekend
    if week <= 0:
        return None
    day0 = now.date()
    hour = (now - datetime.combine(day0, datetime.min.time(), now.tzinfo)).total_seconds() / 3600
    today_left = min(max((WORK_START_H + WORK_HOURS - hour) / WORK_HOURS, 0.0), 1.0)
    day_rate = work if day0.weekday() < 5 else weekend
    if pages <= day_rate * today_left:
        return now + timedelta(hours=WORK_HOURS * pages / day_rate)
    pages -= day_rate * today_left
    weeks = max(math.ceil(pages / week) - 1, 0)  # whole weeks, leaving a remainder of (0, 1] week to walk
    if weeks > 520:
        return None
    pages -= weeks * week
    d = day0 + timedelta(days=1 + 7 * weeks)
    while True:
        day_rate = work if d.weekday() < 5 else weekend
        if day_rate > 0 and pages <= day_rate:
            at = datetime.combine(d, datetime.min.time(), now.tzinfo)
            return at + timedelta(hours=WORK_START_H + WORK_HOURS * pages / day_rate)
        pages -= day_rate
        d += timedelta(days=1)


def fleet_spread(values: list[float]) -> float:
    """How far one device may be from the fleet's median pages per percent (its pages cover more or less of
    the page than the others'): FLEET_SIGMAS robust standard deviations of the values' logarithms (the median
    absolute deviation x 1.48), at least FLEET_U, at most 0.5. Two would leave one device in forty beyond it: a
    printer behind a gauge that shows nothing but 0/100 is known only through the fleet until its first full
    cartridge, which may take months."""
    mid = median(values)
    if len(values) < 5 or mid <= 0:
        return FLEET_U
    sigma = 1.4826 * median(abs(math.log(v / mid)) for v in values if v > 0)
    return min(max(1 - math.exp(-FLEET_SIGMAS * sigma), FLEET_U), 0.5)


@dataclass
class PagesPerPercent:
    """What is known of pages per percent, from the most to the least specific source."""

    device_history: list[float] = field(default_factory=list)  # this device's earlier cartridges (this supply)

    def prior(self, fleet: list[float] | None, rated_yield: int | None) -> tuple[float, float, str]:
        """(pages per percent, relative uncertainty, source)."""
        if self.device_history:
            return median(self.device_history[-3:]), 0.08, "device"
        if fleet and len(fleet) >= 2:
            return median(fleet[-50:]), fleet_spread(fleet[-50:]), "fleet"
        if rated_yield:
            return rated_yield / 100, 0.3, "rated"
        return CLASS_DEFAULT_YIELD / 100, 0.5, "default"


@dataclass
class CartridgeTrack:
    """The cartridge installed now in one supply slot: its level estimate and its own pages-per-percent fit."""

    installed_at: datetime | None  # None: it was already in when monitoring started
    install_pages: int | None
    install_percent: float | None
    estimate: float | None = None  # estimated percent at `estimate_pages`
    estimate_pages: int | None = None
    estimate_at: datetime | None = None
    last_percent: float | None = None  # last percent the gauge showed (accepted, not a shake)
    shown_at: datetime | None = None  # when the gauge last showed a percent
    change_percent: float | None = None  # coarse gauges: the level shown since the last change
    hidden: bool = False  # the gauge showed no percent at the last reading
    first_percent: float | None = None
    sx: float = 0.0
    sy: float = 0.0
    sxx: float = 0.0
    sxy: float = 0.0
    syy: float = 0.0  # 0 in a state saved before it was kept: `line_at` then gives nothing
    n: int = 0
    top: float = -1.0
    bottom: float = 101.0
    # coarse gauges and gauges that hide the level: the level was pinned (a step change seen, or a new
    # cartridge) at `pin_percent`, known to within `pin_u` points; since then it follows the pages printed
    pin_percent: float | None = None
    pin_u: float | None = None

    def fit(self) -> tuple[float, float] | None:
        """(pages per percent, weight 0..1) from this cartridge's own points."""
        if self.n < 2 or self.top - self.bottom < 6:
            return None
        den = self.n * self.sxx - self.sx * self.sx
        if den <= 0:
            return None
        slope = (self.n * self.sxy - self.sx * self.sy) / den  # percent per page (negative)
        if slope >= 0:
            return None
        return -1 / slope, min(1.0, (self.top - self.bottom) / 25)

    def line_at(self, pages: int) -> tuple[float, float] | None:
        """The level at `pages` read off this cartridge's own fit, with its standard error, once the fit rests
        on enough points over enough of a fall to beat the smoothed last readings (a 1 % gauge's noise of a
        point or two averages out along the line: toner is used in proportion to the pages printed)."""
        if self.n < LINE_POINTS or self.top - self.bottom < LINE_FALL or self.syy <= 0:
            return None
        n, x0 = self.n, float(pages - (self.install_pages or 0))
        sxx_c, sxy_c = self.sxx - self.sx * self.sx / n, self.sxy - self.sx * self.sy / n
        if sxx_c <= 0:
            return None
        slope = sxy_c / sxx_c
        if slope >= 0:
            return None
        residual = max(self.syy - self.sy * self.sy / n - slope * sxy_c, 0.0) / (n - 2)
        mean_x = self.sx / n
        level = self.sy / n + slope * (x0 - mean_x)
        return level, math.sqrt(residual * (1 / n + (x0 - mean_x) ** 2 / sxx_c))

    def add_point(self, pages: int, percent: float) -> None:
        x = float(pages - (self.install_pages or 0))
        self.sx += x
        self.sy += percent
        self.sxx += x * x
        self.sxy += x * percent
        self.syy += percent * percent
        self.n += 1
        self.top, self.bottom = max(self.top, percent), min(self.bottom, percent)


def gauge_step(seen: set[int]) -> int:
    """The step a gauge reports in, from the distinct percents it has shown (100: not known yet). One value
    off every coarse step (not a multiple of 5, nor of a third) already tells a 1 % gauge."""
    if any(v % 5 and abs(v * 3 / 100 - round(v * 3 / 100)) > 0.03 for v in seen):
        return 1
    if len(seen) < 2:
        return 100
    step = math.gcd(*seen) or 100
    return step if step >= 5 else 1  # a 1 % gauge that happens to move in even steps


@dataclass(frozen=True)
class Forecast:
    percent: float | None
    pages_left: int | None
    days_left: float | None
    empty_at: datetime | None
    earliest: datetime | None
    latest: datetime | None
    method: str
    pages_per_percent: float
    days_per_cartridge: float | None  # at the expected rate
    days_per_cartridge_min: float | None  # at the fastest plausible rate
    percent_low: float | None = None  # the lowest plausible level now (None: as `percent`)
    shown: bool = True  # the gauge shows the level (1 % or coarse steps); False: estimated from the pages
    made_at: datetime | None = None  # the reading it was made at (the level is as of then)

    @property
    def fine(self) -> bool:
        """The level is read off a gauge in 1 % steps (not counted down from pages behind a coarse or hidden one)."""
        return self.method.startswith("level+")

    def as_json(self) -> dict:
        def day(value: datetime | None) -> str | None:
            return value.date().isoformat() if value else None

        return {"percent": None if self.percent is None else round(self.percent, 1), "days_left":
                None if self.days_left is None else round(self.days_left, 1), "pages_left": self.pages_left,
                "empty_on": day(self.empty_at), "empty_on_earliest": day(self.earliest),
                "empty_on_latest": day(self.latest), "method": self.method}


def update_level(track: CartridgeTrack, obs: SupplyObservation, ppp: float, step: int,
                 hidden_low: float | None = None) -> None:
    """Move the cartridge's level estimate to this observation (after replacement checks passed).
    `hidden_low`: the device's gauge hides levels below this (`hides_once_low`, seen on another supply)."""
    predicted = None
    if track.estimate is not None and obs.pages is not None and track.estimate_pages is not None:
        predicted = max(track.estimate - max(obs.pages - track.estimate_pages, 0) / ppp, 0.0)
    elif track.estimate is not None:
        predicted = track.estimate
    track.hidden = obs.percent is None
    if obs.percent is None:
        if predicted is not None:
            track.estimate = predicted
        elif hidden_low is not None and track.first_percent is None:
            # hidden from the first reading on by a gauge that hides low levels (another supply of the printer
            # showed its level falling, then hid it): the cartridge is below where the gauge hides, as if it had
            # last shown that, and anywhere down to empty
            track.last_percent, track.estimate = hidden_low, hidden_low / 2
    elif step == 1:
        if track.last_percent is not None and obs.percent >= track.last_percent + SHAKE_RISE:
            if predicted is not None:
                track.estimate = predicted  # shaken: follow the pages, not the gauge
        else:
            track.estimate = obs.percent if predicted is None else predicted + SMOOTHING * (obs.percent - predicted)
            track.last_percent = obs.percent
            if obs.pages is not None:
                track.add_point(obs.pages, obs.percent)
    elif track.change_percent is not None and obs.percent > track.change_percent:
        if predicted is not None:
            track.estimate = predicted  # a coarse gauge went up a step without a replacement: shaken
    else:
        changed = track.change_percent is not None and obs.percent != track.change_percent
        if changed or (track.change_percent is None and track.installed_at is not None):
            # the gauge dropped to the value it shows when the level crossed it, on average halfway through
            # the pages printed since the previous reading
            since = 0.0
            if changed and obs.pages is not None and track.estimate_pages is not None:
                since = max(obs.pages - track.estimate_pages, 0) / ppp
            track.estimate = max(obs.percent - since / 2, obs.percent - step, 0.0)
            track.pin_percent, track.pin_u = track.estimate, 0.5 + min(since, step) / 2
            if obs.pages is not None:
                track.add_point(obs.pages, obs.percent)
        elif predicted is None:
            track.estimate = obs.percent - step / 2 if step < 100 else obs.percent
        else:
            track.estimate = min(max(predicted, obs.percent - step), obs.percent)
        track.change_percent = obs.percent
        track.last_percent = obs.percent
    if obs.percent is not None and track.first_percent is None:
        track.first_percent = obs.percent
    if obs.percent is not None:
        track.shown_at = obs.at
    if obs.pages is not None:
        track.estimate_pages = obs.pages
    track.estimate_at = obs.at


def pages_per_percent(track: CartridgeTrack, ppp_source: tuple[float, float, str]) -> tuple[float, float, str]:
    """This cartridge's own fit blended with the prior by how far it has fallen: (ppp, uncertainty, source)."""
    prior, prior_u, source = ppp_source
    own = track.fit()
    if not own:
        return ppp_source
    own_ppp, weight = own
    return (weight * own_ppp + (1 - weight) * prior, weight * 0.05 + (1 - weight) * prior_u,
            "cartridge" if weight >= 0.5 else source)


def reveals_below(seen: set[int]) -> float:
    """For a gauge that hides the level ("some remaining") until it is low: the level it shows from (0: it
    is not such a gauge, or not known), from the percents it has shown (none above half)."""
    top = max(seen, default=100)
    return max(top - SHAKE_RISE, 0.0) if top <= 50 else 0.0


def hides_once_low(track: CartridgeTrack) -> float | None:
    """The level below which this cartridge's gauge hides the level ("some remaining" once low), when it showed
    the level falling and then hid it for longer than a shaken cartridge's rise lasts while the pages printed
    took it further down; None: no such evidence. A gauge that hides high levels only ever hides a level
    above the ones it shows, and only a new cartridge takes it there (one that showed its last few percent and
    then nothing was used up and swapped for a full one, unseen where cartridges report no serial: the pages
    cannot take it HID_POINTS further down)."""
    if not track.hidden or track.last_percent is None or track.last_percent > 50 \
            or track.estimate is None or track.shown_at is None or track.estimate_at is None:
        return None
    hid = (track.estimate_at - track.shown_at).total_seconds() / DAY
    return track.last_percent if hid >= HID_DAYS and track.last_percent - track.estimate >= HID_POINTS else None


def shows_full_until_empty(gauges: list[tuple[set[int], CartridgeTrack]]) -> bool:
    """A printer's gauge shows 100 until empty (only 0 and 100): none of its supplies (the percents each has
    shown, its cartridge) has shown anything else, while between them they printed more than the coarsest steps
    (25 %) hide. One gauge serves all of a printer's supplies: four colour cartridges at their different levels
    would not all sit in a 10/20/25 % gauge's top step, so a few points each tell what one cartridge alone
    tells only after 25."""
    if not gauges or any(not seen <= {0, 100} for seen, _ in gauges):
        return False
    unmoved = sum(max((t.first_percent or 0.0) - t.estimate, 0.0) for _, t in gauges
                  if t.estimate is not None and t.last_percent in (None, 0.0, 100.0))
    return unmoved >= COARSEST_STEP


def forecast(track: CartridgeTrack, ppp_source: tuple[float, float, str], rate: UsageRate | None, now: datetime,
             step: int, hidden_above: float = 0.0, full_until_empty: bool = False) -> Forecast | None:
    """The forecast for this cartridge at `now` (None while the level is not known at all). `hidden_above`:
    the gauge hides the level while it is above this (`reveals_below`); `full_until_empty`: the printer's gauge
    shows 100 until empty (`shows_full_until_empty`)."""
    if track.estimate is None:
        return None
    ppp, u_ppp, source = pages_per_percent(track, ppp_source)
    percent = track.estimate
    floor, ceiling = 0.0, 100.0  # what the gauge itself still guarantees of the level
    if track.hidden:
        shown = track.last_percent if track.last_percent is not None else track.install_percent or 100.0
        if track.first_percent is None and hidden_above > 0:
            # this cartridge has not shown a percent yet, and the gauge shows one from `hidden_above` down
            floor = hidden_above
            percent = max(percent, floor)
        # counted down from the level last shown with the pages since: as doubtful as pages per percent (known to
        # 8 % from the device's earlier cartridges), at most 15 % of the fall (the pages left are also taken at the
        # low end of pages per percent)
        gauge, u_pct = "pages", 2 + min(0.15, u_ppp) * max(shown - percent, 0)
    elif step == 1:
        gauge, u_pct = "level", 1.5
        line = track.line_at(track.estimate_pages) if track.estimate_pages is not None else None
        if line is not None and 0 <= line[0] <= 100 and abs(line[0] - percent) <= u_pct + 2 * line[1]:
            # the cartridge's own line agrees with the smoothed readings: it is the sharper of the two
            percent, u_pct = line[0], max(2 * line[1], 0.5)
    else:
        gauge = f"steps{step}"
        shown = track.change_percent if track.change_percent is not None else track.last_percent
        if shown is not None:
            floor, ceiling = max(shown - step, 0.0), shown
        if track.pin_percent is not None and track.pin_u is not None:
            # a step change (or a new cartridge) seen: the level is known there and follows the pages since
            u_pct = track.pin_u + u_ppp * max(track.pin_percent - percent, 0.0)
        elif step >= 100 and track.installed_at is None and track.first_percent is not None \
                and track.first_percent - percent >= UNMOVED_POINTS:
            # a cartridge that was in before monitoring, behind a gauge that has not moved although the
            # pages printed would have moved a 1 % gauge: its level is anywhere below what it shows
            percent = u_pct = percent / 2
        else:
            u_pct = step / 2
    method = f"{gauge}+{source}"
    pages_left = max(percent, 0.0) * ppp
    low = max(percent - u_pct, floor, 0.0)
    # a gauge still showing full after more pages than the coarsest steps (25 %) hide shows 100 until empty
    shown = gauge != "pages" and not (step >= 100 and track.last_percent in (None, 0.0, 100.0) and (
        full_until_empty or (track.first_percent or 0.0) - track.estimate >= COARSEST_STEP))
    if rate is None or rate.per_day() <= 0:
        return Forecast(percent, round(pages_left), None, None, None, None, method, ppp, None, None, low, shown,
                        track.estimate_at or now)
    base = track.estimate_at or now
    low_pages = low * ppp * (1 - u_ppp)
    high_pages = max(min(percent + u_pct, ceiling), percent) * ppp * (1 + u_ppp)
    empty = when_printed(pages_left, base, rate)
    earliest = when_printed(low_pages, base, rate, rate.high)
    latest = when_printed(high_pages, base, rate, rate.low)
    days_left = None if empty is None else max((empty - now).total_seconds() / DAY, 0.0)
    per_cartridge = 100 * ppp / rate.per_day()
    return Forecast(percent, round(pages_left), days_left, empty, earliest, latest, method, ppp, per_cartridge,
                    100 * ppp * (1 - u_ppp) / (rate.per_day() * rate.high), low, shown, base)
