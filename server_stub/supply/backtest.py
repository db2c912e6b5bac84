"""`fleetmeter-server supply backtest HISTORY.jsonl --out DIR [--policy FILE] [--lead-days N]`

Replays a recorded history through exactly the forecast, replacement and reorder code the server runs live
(`SupplyEngine`), so a dealer can try a policy on their own fleet before switching it on.

HISTORY.jsonl: one line per reading, `{"client": ..., "site": ..., "reading": <fleetmeter.device/1>}`, in any
order. Readings are replayed in time order; after each reading its site is decided on, and at the end of
each calendar day the devices that sent nothing that day are decided on too (as the live worker does). An
order placed at t is delivered at t + lead days (default: the policy's, 5). DIR receives forecasts.jsonl,
orders.jsonl, replacements.jsonl and alarms.jsonl with the keys the issue specifies, and decisions.jsonl: why
each order was placed (the forecast, the rule, the readings that fired it, the consolidated lines, blocking);
stdout one JSON summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path
from typing import IO, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fleetmeter_contract.reading import WireReading, validate_wire
from server_stub.supply.engine import Observed, SupplyEngine, asset_id
from server_stub.supply.policy import PolicyError, load_policy
from server_stub.supply.replacement import is_premature

PROG = "fleetmeter-server supply backtest"


class HistoryLine(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    client: Annotated[str, Field(min_length=1, max_length=255)]
    site: Annotated[str, Field(min_length=1, max_length=255)]
    reading: dict[str, Any]


class InputError(Exception):
    pass


def read_history(path: Path) -> list[tuple[datetime, int, str, str, dict[str, Any]]]:
    """Every line checked (the line model, then the reading contract); one clear error names the line."""
    rows = []
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            try:
                line = HistoryLine.model_validate_json(text)
                reading = validate_wire(json.dumps(line.reading))  # the server's own check of a reading
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                inner = exc.title == WireReading.__name__
                where = ".".join(str(p) for p in (("reading",) if inner else ()) + tuple(err["loc"]))
                raise InputError(f"{path}:{number}: {where + ': ' if where else ''}{err['msg']}") from None
            raw = line.reading  # the document as sent (supply serials, device_index, ...)
            if asset_id(raw) is None:
                raise InputError(f"{path}:{number}: reading.identity: no serial or MAC to identify the asset")
            rows.append((reading.collected_at, number, line.client, line.site, raw))
    rows.sort(key=lambda row: (row[0], row[1]))
    return rows


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class Replay:
    def __init__(self, engine: SupplyEngine, out: Path, lead_days: int | None) -> None:
        self.engine, self.lead_days = engine, lead_days
        out.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, IO[str]] = {name: open(out / f"{name}.jsonl", "w", encoding="utf-8")
                                          for name in ("forecasts", "replacements", "alarms")}
        self.out = out
        self.touched: dict[tuple[str, str], Any] = {}
        self.sites_today: set[str] = set()
        self.counts: Counter[str] = Counter()
        self.alarm_kinds: Counter[str] = Counter()

    def write(self, name: str, doc: dict[str, Any]) -> None:
        self.files[name].write(json.dumps(doc, separators=(",", ":")) + "\n")

    def reading(self, client: str, site: str, reading: dict[str, Any], at: datetime) -> None:
        self.engine.deliver_due(at, self.lead_days)
        observed = self.engine.observe(client, site, reading)
        self.record(observed)
        for slot in observed.supplies:
            self.touched[(slot.device, slot.key)] = slot
        self.sites_today.add(site)
        _, flags = self.engine.decide(site, at, {asset_id(reading) or ""})
        self.alarms(flags)

    def record(self, observed: Observed) -> None:
        for event, order_id in observed.replacements:
            rules = self.engine.policy.rules(self.engine.slots[(event.device, event.supply)].client, event.device)
            self.write("replacements", {
                "device": event.device, "supply": event.supply, "at": _iso(event.at),
                "left_percent": None if event.left_percent is None else round(event.left_percent, 1),
                "premature": is_premature(event, rules.alarms), "wasted_pages": event.wasted_pages,
                "order_id": order_id})
            self.counts["replacements"] += 1
        self.alarms(observed.alarms)

    def alarms(self, alarms: list) -> None:
        for alarm in alarms:
            doc = alarm.as_json()
            self.write("alarms", {key: doc[key] for key in ("device", "supply", "at", "kind")})
            self.alarm_kinds[alarm.kind] += 1

    def end_of_day(self, day: date) -> None:
        for (device, key), slot in sorted(self.touched.items()):
            doc = {"device": device, "supply": key, "date": day.isoformat()}
            if slot.forecast is not None:
                doc |= slot.forecast.as_json()
            else:
                doc |= dict.fromkeys(("percent", "days_left", "pages_left", "empty_on", "empty_on_earliest",
                                      "empty_on_latest", "method"))
            self.write("forecasts", doc)
        self.counts["forecasts"] += len(self.touched)
        close = datetime.combine(day, dtime(23, 59, 59), tzinfo=timezone.utc)
        self.engine.deliver_due(close, self.lead_days)
        reported = {device for device, _ in self.touched}
        for site, slots in self.engine.by_site.items():
            # devices whose agent sent nothing today are decided on from their last forecast, as the live
            # worker decides a whole site after each run
            silent = {slot.device for slot in slots if slot.device not in reported}
            if silent:
                _, flags = self.engine.decide(site, close, None if site not in self.sites_today else silent)
                self.alarms(flags)
        self.touched, self.sites_today = {}, set()

    def close(self) -> None:
        with open(self.out / "orders.jsonl", "w", encoding="utf-8") as orders, \
                open(self.out / "decisions.jsonl", "w", encoding="utf-8") as decisions:
            for order in self.engine.orders.values():
                orders.write(json.dumps(order.as_json(), separators=(",", ":")) + "\n")
                decisions.write(json.dumps({"id": order.id, "kind": order.kind, "blocked": order.blocked,
                                            "why": order.why}, separators=(",", ":"), default=str) + "\n")
        for handle in self.files.values():
            handle.close()


def run(history: Path, out: Path, policy_path: Path | None, lead_days: int | None) -> dict[str, Any]:
    started = time.perf_counter()
    policy = load_policy(policy_path)
    if lead_days is not None:
        policy = policy.with_lead_days(lead_days)
    rows = read_history(history)
    replay = Replay(SupplyEngine(policy), out, lead_days)
    day: date | None = None
    for at, _, client, site, reading in rows:
        while day is not None and at.date() > day:
            replay.end_of_day(day)
            day += timedelta(days=1)
        day = at.date()
        replay.reading(client, site, reading, at)
    if day is not None:
        replay.end_of_day(day)
    replay.close()
    orders = list(replay.engine.orders.values())
    return {
        "readings": len(rows), "devices": len({row[4]["identity"].get("serial") for row in rows}),
        "supplies": len(replay.engine.slots), "first": _iso(rows[0][0]) if rows else None,
        "last": _iso(rows[-1][0]) if rows else None, "forecasts": replay.counts["forecasts"],
        "orders": len(orders), "order_lines": sum(len(o.lines) for o in orders),
        "cartridges_ordered": sum(ln.quantity for o in orders for ln in o.lines),
        "orders_by_status": dict(Counter(o.status.value for o in orders)),
        "blocked": sum(o.blocked for o in orders), "replacements": replay.counts["replacements"],
        "alarms": dict(replay.alarm_kinds), "seconds": round(time.perf_counter() - started, 1),
    }


def handle(args: argparse.Namespace) -> int:
    if args.lead_days is not None and not 0 <= args.lead_days <= 90:
        print(f"{PROG}: --lead-days must be between 0 and 90", file=sys.stderr)
        return 2
    try:
        summary = run(args.history, args.out, args.policy, args.lead_days)
    except (InputError, PolicyError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{PROG}: cannot write to {args.out}: {exc.strerror}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    from server_stub.cli.supply import backtest_arguments

    args = backtest_arguments(argparse.ArgumentParser(prog=PROG)).parse_args(argv)
    return handle(args)


if __name__ == "__main__":
    sys.exit(main())
