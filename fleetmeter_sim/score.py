"""Score a `supply backtest` output directory against the simulated fleet's ground truth.

- stockouts: a cartridge ran empty while no delivered cartridge for that supply was waiting (counted once the
  device has `settle_days` of history; `stockouts_all` counts every one); those within 10 days after a
  one-off big job or an agent's offline gap are also counted as such, as are those of the cartridge that was
  in when monitoring started (`stockouts_first_cartridge`: its level unknown on gauges that hide it), of
  print-room machines (`stockouts_print_room`, >= 1,000 pages a working day) and per gauge class; those of supplies the policy flagged
  as very high use (manual ordering) are counted apart, as `stockouts_manual_high_use`;
  `stockouts_unavoidable` (part of `stockouts`) are those no policy could prevent without keeping a spare,
  decided from the simulated truth alone (`unavoidable`): a one-off big job ran the cartridge empty before a
  parcel ordered at the reading that first showed the job could arrive, and without the job the cartridge
  would have lasted past the arrival of a parcel ordered at the reading before it, with a day to spare (so
  there was no reason to order before the job);
- wait: days each delivered cartridge waited before it was installed (median);
- shipments (orders) and order lines against the cartridges the fleet really used;
- duplicates: an order line placed while an earlier line for that supply was still open in the order book
  (fewer replacements booked against it than it carried), other than a "usage_jump" reorder; spare_at_end:
  delivered cartridges never installed by the end (the next one waiting, or a surplus);
- replacements found / missed / false: detected replacements matched to real ones (same supply, from a
  day before to 15 days after, to allow for agents that were offline);
- forecast error: |forecast empty date - real empty date| in days, for forecasts made 21 and 7 days before a
  cartridge really ran out (same cartridge, after `settle_days`), median per gauge class.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

from fleetmeter_sim.usage import Fleet

GAUGE_CLASS = {"fine": "fine", "coarse10": "coarse", "coarse20": "coarse", "coarse25": "coarse",
               "some_remaining": "hidden", "binary": "hidden", "low_only": "hidden"}
MATCH_BEFORE, MATCH_AFTER = timedelta(days=1), timedelta(days=15)
FAST_PAGES = 1000  # pages a working day from which a device is counted as a print-room machine
CAUSE_DAYS = 10  # a stockout within this many days after a one-off big job or an agent gap is put down to it


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _lines(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _median(values: list[float]) -> float | None:
    return round(median(values), 2) if values else None


READING_HOUR = 17.5  # the simulated agents read at 17:30-19:00 UTC (history.py): the earliest reading of a day


def unavoidable(profile: Any, start: date, empty_at: datetime, lead_days: int) -> bool:
    """A big job emptied the cartridge faster than any lead time allows (see the module's note)."""
    empty_day = (empty_at.date() - start).days
    for job_day, extra in profile.big_jobs.items():
        if not 0 <= empty_day - job_day <= lead_days:
            continue
        job_date = start + timedelta(days=job_day)
        reading = datetime.combine(job_date, datetime.min.time(), empty_at.tzinfo) + timedelta(hours=READING_HOUR)
        if empty_at >= reading + timedelta(days=lead_days):
            continue  # an order at the job's own reading would have come in time
        trend = profile.trend_factor if profile.trend_day is not None and job_day >= profile.trend_day else 1.0
        per_day = profile.workday_pages * trend * (5 + 2 * profile.weekend_factor) / 7  # pages per calendar day
        if per_day <= 0:
            continue
        without_job = empty_at + timedelta(days=extra / per_day)  # when it would have run out without the job
        if without_job > reading - timedelta(days=1) + timedelta(days=lead_days + 2):
            return True
    return False


def score(fleet: Fleet, out: Path, lead_days: int, *, settle_days: int = 30) -> dict[str, Any]:
    start = datetime.combine(fleet.start, datetime.min.time()).replace(tzinfo=fleet.events[0].at.tzinfo) \
        if fleet.events else None
    settle = start + timedelta(days=settle_days) if start else None
    gauge = {p.serial: GAUGE_CLASS[p.report_mode] for p in fleet.profiles}
    truth: dict[tuple[str, str], list] = defaultdict(list)
    for event in fleet.events:
        truth[(event.serial, str(event.supply))].append(event)

    orders = _lines(out / "orders.jsonl")
    decisions = {d["id"]: d for d in _lines(out / "decisions.jsonl")}
    placed: dict[tuple[str, str], list[tuple[datetime, int, str, bool]]] = defaultdict(list)
    for order in orders:
        decision = decisions.get(order["id"], {})
        rules = {(f["device"], f["supply"]): f["rule"] for f in decision.get("why", {}).get("fired", [])}
        ships = not decision.get("blocked") and decision.get("kind", "auto") == "auto"
        for line in order["lines"]:
            key = (line["device"], line["supply"])
            placed[key].append((_at(order["placed_at"]), line["quantity"], rules.get(key, "consolidated"), ships))

    stockouts = stockouts_all = duplicates = usage_jumps = big_job = offline = spare = manual = forced = 0
    first_cartridge = fast = 0
    by_gauge: Counter[str] = Counter()
    flagged: dict[tuple[str, str], datetime] = {}  # supplies handed to a person (very high use): first flag
    for alarm in _lines(out / "alarms.jsonl"):
        if alarm["kind"] == "high_use":
            flagged.setdefault((alarm["device"], alarm["supply"]), _at(alarm["at"]))
    profiles = {p.serial: p for p in fleet.profiles}
    waits: list[float] = []
    stockout_list: list[tuple[str, str, str]] = []
    for key in set(truth) | set(placed):
        lines = sorted(placed.get(key, []))
        events = truth.get(key, [])
        stock = sorted((at + timedelta(days=lead_days), at) for at, qty, _, ships in lines if ships for _ in range(qty))
        arrivals = [d for d, _ in stock]
        used = [False] * len(stock)
        for event in events:
            ready = next((i for i, d in enumerate(arrivals) if not used[i] and d <= event.at), None)
            if ready is not None:
                used[ready] = True
                waits.append((event.at - arrivals[ready]).total_seconds() / 86400)
            elif event.empty:
                stockouts_all += 1
                if key in flagged and flagged[key] <= event.at:
                    manual += 1  # the policy said: a person orders for this one
                elif settle is not None and event.at >= settle:
                    stockouts += 1
                    profile, offset = profiles[key[0]], (event.at.date() - fleet.start).days
                    cause = unavoidable(profile, fleet.start, event.at, lead_days)
                    forced += cause
                    stockout_list.append((*key, event.at.isoformat(), "unavoidable" if cause else ""))
                    big_job += any(offset - CAUSE_DAYS <= day <= offset for day in profile.big_jobs)
                    offline += any(first <= offset and last >= offset - CAUSE_DAYS for first, last in profile.offline)
                    first_cartridge += event is events[0]
                    by_gauge[gauge[key[0]]] += 1
                    fast += profile.workday_pages >= FAST_PAGES
                late = next((i for i, (d, placed_at) in enumerate(stock) if not used[i] and placed_at <= event.at), None)
                if late is not None:  # on its way when the printer ran dry: the customer waits for it
                    used[late] = True
        spare += used.count(False)

    # duplicates, as the order book saw them: a line placed while an earlier line for the supply still had
    # cartridges not installed (no detected replacement booked against it), other than a usage-jump reorder
    booked: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for r in _lines(out / "replacements.jsonl"):
        if r.get("order_id"):
            booked[(r["device"], r["supply"])].append(_at(r["at"]))
    for key, lines in placed.items():
        installs = sorted(booked.get(key, []))
        ordered_before = 0
        for at, qty, rule, _ in sorted(lines):
            outstanding = ordered_before - bisect_right(installs, at)  # a replacement at the same reading came first
            if rule == "usage_jump":
                usage_jumps += 1
            elif outstanding > 0:
                duplicates += 1
            ordered_before += qty

    detected: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for r in _lines(out / "replacements.jsonl"):
        detected[(r["device"], r["supply"])].append(_at(r["at"]))
    found = missed = false = premature_right = premature_wrong = premature_missed = 0
    flagged = {(r["device"], r["supply"], r["at"]) for r in _lines(out / "replacements.jsonl") if r["premature"]}
    for key in set(truth) | set(detected):
        seen = sorted(detected.get(key, []))
        taken = [False] * len(seen)
        for event in truth.get(key, []):
            hit = next((i for i, at in enumerate(seen) if not taken[i]
                        and event.at - MATCH_BEFORE <= at <= event.at + MATCH_AFTER), None)
            if hit is None:
                missed += 1
            else:
                taken[hit] = True
                found += 1
                said = (*key, seen[hit].isoformat().replace("+00:00", "Z")) in flagged
                premature_right += said and not event.empty
                premature_wrong += said and event.empty
                premature_missed += not said and not event.empty
        false += taken.count(False)

    wanted: dict[tuple[str, str, date], tuple[int, str, date]] = {}
    for key, events in truth.items():
        previous = None
        for event in events:
            if event.empty:
                for horizon in (21, 7):
                    made = event.at.date() - timedelta(days=horizon)
                    if settle and made >= settle.date() and (previous is None or previous.at.date() < made):
                        for shift in (0, -1, 1):
                            wanted.setdefault((*key, made + timedelta(days=shift)), (horizon, gauge[key[0]],
                                                                                     event.at.date()))
            previous = event
    errors: dict[tuple[int, str], dict[tuple[str, str, date], float]] = defaultdict(dict)
    with open(out / "forecasts.jsonl", encoding="utf-8") as handle:
        for text in handle:
            doc = json.loads(text)
            made = date.fromisoformat(doc["date"])
            hit = wanted.get((doc["device"], doc["supply"], made))
            if hit is None:
                continue
            horizon, klass, empty = hit
            target = (doc["device"], doc["supply"], empty)
            if target in errors[(horizon, klass)] and made != empty - timedelta(days=horizon):
                continue
            error = float("inf") if doc["empty_on"] is None else abs(
                (date.fromisoformat(doc["empty_on"]) - empty).days)
            errors[(horizon, klass)][target] = error
    forecast_error = {f"{klass}_{horizon}d": _median(list(values.values()))
                      for (horizon, klass), values in sorted(errors.items())}
    forecast_n = {f"{klass}_{horizon}d": len(values) for (horizon, klass), values in sorted(errors.items())}

    cartridges = len(fleet.events)
    shipments = sum(1 for o in orders if decisions.get(o["id"], {}).get("kind", "auto") == "auto")
    return {
        "stockouts": stockouts, "stockouts_unavoidable": forced, "stockouts_avoidable": stockouts - forced,
        "stockouts_all": stockouts_all, "stockouts_big_job": big_job, "stockouts_first_cartridge": first_cartridge,
        "stockouts_print_room": fast, "stockouts_by_gauge": dict(sorted(by_gauge.items())),
        "stockouts_offline": offline, "stockouts_manual_high_use": manual, "median_wait_days": _median(waits),
        "shipments": shipments, "order_lines": sum(len(o["lines"]) for o in orders),
        "cartridges_used": cartridges,
        "shipments_saved_percent": round(100 * (1 - shipments / cartridges), 1) if cartridges else None,
        "duplicates": duplicates, "usage_jump_lines": usage_jumps, "spare_at_end": spare,
        "replacements_found": found, "replacements_missed": missed, "replacements_false": false,
        "premature_flagged_right": premature_right, "premature_flagged_wrong": premature_wrong,
        "premature_missed": premature_missed,
        "forecast_error_days": forecast_error, "forecast_error_n": forecast_n,
        "stockout_list": sorted(stockout_list),
    }
