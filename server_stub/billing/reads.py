"""Billing reads: which meter read bills an asset's period, and how many pages lie between two reads.

The one place for:
- the tolerance window: the billing read for a cut-off is the actual read (automatic or manual) closest
  to it from `before` days earlier to `after` days later (default 10 and 6, edges included); ties go to
  the earlier read, then to an automatic read over a manual one. None in the window = missing read.
- estimated reads: last actual read + recent average daily volume x days, only when asked for, marked
  `estimated` with the basis they came from; never chosen as a billing read on their own.
- true-up: a period whose opening read was an estimate is billed from the estimate (the estimated pages
  were billed already); when the actual read for that cut-off has arrived since, the difference
  (actual - estimate, signed) is shown apart as `true_up_pages`. Without one, an estimate that overshot
  shows as a negative true-up, never as a negative period volume.
- counter resets and device swaps: a counter going down on the same serial is a reset (the counter
  restarted at 0, so the pages after it are its new value); a changed serial is a swap (the new device's
  first read is its baseline: pages between the last old read and it are unknown and not billed). Each
  break adds a meter offset so the adjusted counter only grows: never a negative or double volume. A drop
  followed by a read back at or above the pre-drop value on the same serial is a bad read, set aside.
  A technician's `CounterBreak` record (final and start values) takes precedence over inference.
- the expected-volume check: a period volume outside expected x (1 +/- buffer) (default 60 %, expected =
  the recent average daily volume x the period's days) is held for review, never billed silently.

Reads are plain values; the database layer loads them (per asset and meter) and stores what comes back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from server_stub.billing.periods import Period, utc

Meter = Literal["mono", "color", "scan", "large_mono", "large_color"]
METERS: tuple[Meter, ...] = ("mono", "color", "scan", "large_mono", "large_color")
ReadKind = Literal["read", "manual", "estimated"]
Status = Literal["ok", "held", "missing_read"]
AssetId = int | str

DAY = timedelta(days=1)


@dataclass(frozen=True)
class MeterRead:
    """One value of one meter of one asset, with where it came from."""

    asset_id: AssetId
    meter: Meter
    at: datetime
    value: int
    serial: str | None = None          # the device serial at read time (a change = a swap)
    kind: ReadKind = "read"
    source_oid: str | None = None      # the counter's OID, as in the reading's counter_sources
    source_origin: str | None = None   # e.g. "rfc3805" or the vendor profile
    reading_id: int | str | None = None  # the stored signed reading it came from
    entered_by: str | None = None      # manual reads: who entered it
    basis: MeterRead | None = None     # estimated reads: the last actual read they extrapolate
    daily_volume: Decimal | None = None  # estimated reads: the rate used

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", utc(self.at))
        if self.meter not in METERS:
            raise ValueError(f"unknown meter {self.meter!r}; expected one of {', '.join(METERS)}")
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 0:
            raise ValueError(f"meter value must be a whole number >= 0, got {self.value!r}")
        if (self.kind == "estimated") != (self.basis is not None):
            raise ValueError("an estimated read needs its basis read, and only an estimated read has one")

    @property
    def actual(self) -> bool:
        return self.kind != "estimated"


@dataclass(frozen=True)
class CounterBreak:
    """A reset or swap between two reads: recorded by a technician, or inferred from the reads."""

    at: datetime
    kind: Literal["reset", "swap"]
    old_final: int | None = None   # last value of the old counter (None: its last read)
    new_start: int | None = None   # first value of the new counter (None: 0 for a reset, its first read)
    serial: str | None = None      # the new serial after a swap
    inferred: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", utc(self.at))
        for name in ("old_final", "new_start"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0")


@dataclass(frozen=True)
class AdjustedRead:
    read: MeterRead
    offset: int

    @property
    def adjusted(self) -> int:
        return self.read.value + self.offset


@dataclass(frozen=True)
class Chain:
    """Reads in time order with the offsets that make the adjusted counter non-decreasing."""

    reads: tuple[AdjustedRead, ...]
    breaks: tuple[CounterBreak, ...] = ()
    set_aside: tuple[MeterRead, ...] = ()   # bad reads (a drop that came back)

    def find(self, read: MeterRead) -> AdjustedRead:
        for adjusted in self.reads:
            if adjusted.read == read:
                return adjusted
        raise LookupError(f"read at {read.at.isoformat()} is not in the chain")


@dataclass(frozen=True)
class ToleranceWindow:
    before: timedelta = timedelta(days=10)
    after: timedelta = timedelta(days=6)

    def __post_init__(self) -> None:
        if self.before < timedelta(0) or self.after < timedelta(0):
            raise ValueError("tolerance window bounds must not be negative")

    def contains(self, cutoff: datetime, moment: datetime) -> bool:
        return cutoff - self.before <= moment <= cutoff + self.after


DEFAULT_WINDOW = ToleranceWindow()
DEFAULT_BUFFER = Decimal("0.60")
DEFAULT_LOOKBACK = timedelta(days=90)


@dataclass(frozen=True)
class MeterVolume:
    """Pages of one meter of one asset in one period, with the reads that prove them."""

    asset_id: AssetId
    meter: Meter
    period: Period
    status: Status
    pages: int = 0                       # opening -> closing, never negative
    true_up_pages: int = 0               # signed correction of an estimated opening read
    opening: MeterRead | None = None
    closing: MeterRead | None = None
    trued_up_by: MeterRead | None = None  # the actual read that replaced an estimated opening
    breaks: tuple[CounterBreak, ...] = ()
    set_aside: tuple[MeterRead, ...] = ()
    expected: Decimal | None = None      # expected pages (None: not enough history to check)
    reason: str | None = None            # why held or missing

    @property
    def net_pages(self) -> int:
        return self.pages + self.true_up_pages

    @property
    def estimated(self) -> bool:
        return self.closing is not None and not self.closing.actual


def _key(read: MeterRead) -> tuple[datetime, int]:
    return read.at, (read.kind == "estimated")


def choose_billing_read(reads: Iterable[MeterRead], cutoff: datetime,
                        window: ToleranceWindow = DEFAULT_WINDOW) -> MeterRead | None:
    """The actual read closest to `cutoff` inside the window, or None (a missing read)."""
    cutoff = utc(cutoff)
    candidates = [r for r in reads if r.actual and window.contains(cutoff, r.at)]
    if not candidates:
        return None
    return min(candidates, key=lambda r: (abs(r.at - cutoff), r.at > cutoff, r.kind != "read"))


def build_chain(reads: Iterable[MeterRead], recorded: Sequence[CounterBreak] = ()) -> Chain:
    """Offsets over the reads of one asset meter (time order) so the adjusted counter never goes down."""
    ordered = sorted(reads, key=_key)
    out: list[AdjustedRead] = []
    breaks: list[CounterBreak] = []
    set_aside: list[MeterRead] = []
    offset = 0
    prev: MeterRead | None = None
    for index, read in enumerate(ordered):
        if prev is None:
            out.append(AdjustedRead(read, offset))
            prev = read
            continue
        recorded_here = [b for b in recorded if prev.at < b.at <= read.at]
        swapped = prev.serial is not None and read.serial is not None and prev.serial != read.serial
        if recorded_here:
            brk = recorded_here[-1]
            old_final = prev.value if brk.old_final is None else brk.old_final
            new_start = (0 if brk.kind == "reset" else read.value) if brk.new_start is None else brk.new_start
            if read.value < new_start:
                raise ValueError(f"{brk.kind} recorded at {brk.at.isoformat()} starts the counter at {new_start}, "
                                 f"but the read at {read.at.isoformat()} shows {read.value}")
            offset += max(old_final, prev.value) - new_start
            breaks.append(replace(brk, inferred=False))
        elif swapped:
            offset += prev.value - read.value
            breaks.append(CounterBreak(read.at, "swap", prev.value, read.value, read.serial))
        elif read.value < prev.value and not (prev.actual and read.actual):
            pass  # an estimate is not a counter: its overshoot is a true-up, not a reset
        elif read.value < prev.value:
            after = next((r for r in ordered[index + 1:] if r.actual and r.serial == read.serial), None)
            if after is not None and after.value >= prev.value:
                set_aside.append(read)
                continue
            offset += prev.value
            breaks.append(CounterBreak(read.at, "reset", prev.value, 0, read.serial))
        out.append(AdjustedRead(read, offset))
        prev = read
    return Chain(tuple(out), tuple(breaks), tuple(set_aside))


def average_daily_volume(reads: Iterable[MeterRead], until: datetime,
                         lookback: timedelta = DEFAULT_LOOKBACK,
                         recorded: Sequence[CounterBreak] = ()) -> Decimal | None:
    """Pages per day over the actual reads in (until - lookback, until]; None under one day of history."""
    until = utc(until)
    recent = [r for r in reads if r.actual and until - lookback <= r.at <= until]
    chain = build_chain(recent, recorded)
    if len(chain.reads) < 2:
        return None
    first, last = chain.reads[0], chain.reads[-1]
    span = last.read.at - first.read.at
    if span < DAY:
        return None
    return Decimal(last.adjusted - first.adjusted) / (Decimal(span.total_seconds()) / 86400)


def _whole(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def estimate_read(reads: Iterable[MeterRead], at: datetime, lookback: timedelta = DEFAULT_LOOKBACK,
                  recorded: Sequence[CounterBreak] = ()) -> MeterRead | None:
    """An estimated read at `at`: last actual read before it + average daily volume x days. None without
    enough history (no actual read, or under a day of reads to take a rate from)."""
    at = utc(at)
    actual = sorted((r for r in reads if r.actual and r.at <= at), key=_key)
    if not actual:
        return None
    last = actual[-1]
    rate = average_daily_volume(actual, last.at, lookback, recorded)
    if rate is None:
        return None
    days = Decimal((at - last.at).total_seconds()) / 86400
    return replace(last, at=at, value=last.value + _whole(rate * days), kind="estimated", entered_by=None,
                   reading_id=None, basis=last, daily_volume=rate)


def period_volume(history: Sequence[MeterRead], period: Period, *, opening: MeterRead | None = None,
                  window: ToleranceWindow = DEFAULT_WINDOW, estimate: bool = False,
                  buffer: Decimal = DEFAULT_BUFFER, lookback: timedelta = DEFAULT_LOOKBACK,
                  recorded: Sequence[CounterBreak] = (), approved: bool = False) -> MeterVolume:
    """Pages of one asset meter in `period`.

    `history`: the asset meter's actual reads (from before the opening read's basis to after the cut-off;
    estimated reads in it are ignored). `opening`: the read billed as the previous period's closing (None
    for a first bill: the billing read at the period's start). `estimate`: estimate a missing closing
    read. `approved`: a reviewer released a held volume for billing. `recorded`: technician break records.
    """
    if not history and opening is None:
        raise ValueError("period_volume needs the asset meter's reads")
    sample = opening or history[0]
    asset_id, meter = sample.asset_id, sample.meter
    foreign = [r for r in history if (r.asset_id, r.meter) != (asset_id, meter)]
    if foreign:
        raise ValueError(f"reads of several asset meters given together: {asset_id}/{meter} and "
                         f"{foreign[0].asset_id}/{foreign[0].meter}")
    actual = [r for r in history if r.actual]
    base = dict(asset_id=asset_id, meter=meter, period=period)
    if opening is None:
        opening = choose_billing_read(actual, period.start, window)
        if opening is None:
            return MeterVolume(**base, status="missing_read", reason=f"no read within the window of {period.start:%Y-%m-%d}")
    closing = choose_billing_read(actual, period.end, window)
    if closing is None and estimate:
        closing = estimate_read(actual, period.end, lookback, recorded)
    if closing is None:
        return MeterVolume(**base, status="missing_read", opening=opening,
                           reason=f"no read within the window of the cut-off {period.end:%Y-%m-%d}")
    if closing.at < opening.at:
        raise ValueError(f"closing read {closing.at.isoformat()} is before the opening read {opening.at.isoformat()}")

    start = opening.basis if opening.basis is not None else opening
    between = [r for r in actual if start.at <= r.at <= closing.at and r not in (start, closing)]
    chain = build_chain(dict.fromkeys([start, opening, *between, closing]), recorded)
    pages = chain.find(closing).adjusted - chain.find(opening).adjusted
    true_up, trued_up_by = 0, None
    if not opening.actual:
        # The estimate was billed; the actual read for its cut-off, when it has arrived since, trues it up.
        arrived = choose_billing_read(actual, opening.at, window)
        if arrived is not None and arrived != closing and arrived in {a.read for a in chain.reads}:
            trued_up_by = arrived
            true_up = chain.find(arrived).adjusted - chain.find(opening).adjusted
            pages = chain.find(closing).adjusted - chain.find(arrived).adjusted
        if pages < 0:  # the estimate overshot what was printed since: a true-up, not a negative volume
            true_up, pages = true_up + pages, 0
            trued_up_by = closing
    volume = MeterVolume(**base, status="ok", pages=pages, true_up_pages=true_up, opening=opening,
                         closing=closing, trued_up_by=trued_up_by, breaks=chain.breaks,
                         set_aside=chain.set_aside)
    if not closing.actual:
        return volume
    rate = average_daily_volume(actual, start.at, lookback, recorded)
    if rate is None:
        return volume
    since = trued_up_by or opening
    expected = rate * Decimal((closing.at - since.at).total_seconds()) / 86400
    volume = replace(volume, expected=expected)
    low, high = expected * (1 - buffer), expected * (1 + buffer)
    if not low <= pages <= high and not approved:
        return replace(volume, status="held",
                       reason=f"{pages} pages outside the expected {_whole(low)}..{_whole(high)} "
                              f"({_whole(expected)} +/- {buffer * 100:.0f} %)")
    return volume


@dataclass(frozen=True)
class Placement:
    """Where an asset sits, for volume sums."""

    asset_id: AssetId
    site_id: int | str
    client_id: int | str


@dataclass(frozen=True)
class VolumeSummary:
    """Monthly pages per device, site and client for the billed meters (mono, color, scan)."""

    period: Period
    devices: dict[AssetId, dict[str, int]] = field(default_factory=dict)
    sites: dict[int | str, dict[str, int]] = field(default_factory=dict)
    clients: dict[int | str, dict[str, int]] = field(default_factory=dict)
    not_counted: tuple[MeterVolume, ...] = ()   # held or missing: not in the sums


SUMMARY_METERS: tuple[Meter, ...] = ("mono", "color", "scan")


def summarise_volumes(period: Period, volumes: Iterable[MeterVolume],
                      placements: Iterable[Placement]) -> VolumeSummary:
    """Sum `ok` volumes (net of true-ups) per device, site and client; held or missing ones are listed."""
    where = {p.asset_id: p for p in placements}
    devices: dict[AssetId, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SUMMARY_METERS, 0))
    sites: dict[int | str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SUMMARY_METERS, 0))
    clients: dict[int | str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SUMMARY_METERS, 0))
    skipped: list[MeterVolume] = []
    for volume in volumes:
        if volume.period != period:
            raise ValueError(f"volume of {volume.period} given for a {period} summary")
        if volume.asset_id not in where:
            raise ValueError(f"asset {volume.asset_id} has no site")
        if volume.meter not in SUMMARY_METERS:
            continue
        if volume.status != "ok":
            skipped.append(volume)
            continue
        place = where[volume.asset_id]
        for sums, key in ((devices, volume.asset_id), (sites, place.site_id), (clients, place.client_id)):
            sums[key][volume.meter] += volume.net_pages
    return VolumeSummary(period, dict(devices), dict(sites), dict(clients), tuple(skipped))
