"""Supply simulation benchmark: a seeded fleet's year through `fleetmeter-server supply backtest`, per policy.

    python bench/supply_sim.py [--devices 1000] [--days 365] [--seed 11] [--workdir DIR] [--jobs 1] [--policy NAME]

Writes the simulated fleet's history (fleetmeter_sim), runs the real CLI once per policy (the default
policy, the ASR-like rules, the Happen EKM preset, a plain "order one at 10 %"), scores each output against
the simulator's ground truth (fleetmeter_sim/score.py says how each figure is counted) and prints them side
by side. The last line is one JSON object with the figures per policy.

Targets (issue 11): 0 stockouts once a device has a month of history (those a one-off big job forced,
emptying a cartridge faster than any lead time allows, are counted apart as unavoidable: score.py's rule), median wait <= 7 days, >= 30 % fewer
shipments than one per cartridge, 0 duplicates, 0 false replacements, empty-date error <= 2 days at 21 days
out on 1 % gauges and <= 4 days on coarse ones.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from fleetmeter_sim.history import write_history
from fleetmeter_sim.score import score

POLICIES = {  # name -> (policy file text, lead days the parcels take)
    "default": ('preset = "default"\n', 5),
    "asr": ('preset = "asr"\n', 5),
    "ekm": ('preset = "ekm"\n', 7),
    "level10": ('preset = "level10"\n', 5),
}
ROWS = [
    ("stockouts (after a month)", "stockouts"),
    ("  unavoidable (big job, no time)", "stockouts_unavoidable"), ("  avoidable", "stockouts_avoidable"),
    ("  of which after a big job", "stockouts_big_job"), ("  of which agent offline", "stockouts_offline"),
    ("  of which first cartridge", "stockouts_first_cartridge"), ("  of which print room", "stockouts_print_room"),
    ("stockouts (all)", "stockouts_all"),
    ("stockouts, high use (manual)", "stockouts_manual_high_use"),
    ("median wait, days", "median_wait_days"), ("shipments", "shipments"), ("order lines", "order_lines"),
    ("cartridges used", "cartridges_used"), ("shipments saved %", "shipments_saved_percent"),
    ("duplicates", "duplicates"), ("usage-jump reorders", "usage_jump_lines"),
    ("replacements found", "replacements_found"), ("replacements missed", "replacements_missed"),
    ("replacements false", "replacements_false"), ("spare at the end", "spare_at_end"),
    ("premature flagged right", "premature_flagged_right"), ("premature flagged wrong", "premature_flagged_wrong"),
]


# A year wholly in the past: the backtest, like live ingest, refuses readings dated more than a day ahead.
START = date(2025, 1, 1)

def run_policy(name: str, history: Path, workdir: Path) -> tuple[dict, float]:
    text, lead = POLICIES[name]
    policy = workdir / f"{name}.toml"
    policy.write_text(text)
    out = workdir / name
    started = time.perf_counter()
    cli = Path(sys.executable).with_name("fleetmeter-server")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "server_stub.cli"]
    proc = subprocess.run([*command, "supply", "backtest", str(history),
                           "--out", str(out), "--policy", str(policy), "--lead-days", str(lead)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"supply_sim: backtest {name} failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout), time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--jobs", type=int, default=1, help="policies replayed at once")
    parser.add_argument("--policy", action="append", choices=list(POLICIES),
                        help="replay only this policy (repeatable; default: all four)")
    args = parser.parse_args()
    names = args.policy or list(POLICIES)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="supply-sim-"))
    workdir.mkdir(parents=True, exist_ok=True)
    history = workdir / "history.jsonl"
    started = time.perf_counter()
    fleet = write_history(history, seed=args.seed, devices=args.devices, days=args.days, start=START)
    print(f"history: {args.devices} devices x {args.days} days, {history.stat().st_size / 1e6:.0f} MB, "
          f"{len(fleet.events)} real cartridge changes, written in {time.perf_counter() - started:.1f} s",
          flush=True)
    with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        runs = dict(zip(names, pool.map(lambda n: run_policy(n, history, workdir), names)))
    results = {}
    for name, (summary, seconds) in runs.items():
        figures = score(fleet, workdir / name, POLICIES[name][1])
        figures["backtest_seconds"] = round(seconds, 1)
        figures["readings"] = summary["readings"]
        results[name] = figures
    width = max(len(label) for label, _ in ROWS + [("forecast error fine_21d, days", "")]) + 2
    print("".ljust(width) + "".join(n.rjust(10) for n in names))
    for label, key in ROWS + [("backtest seconds", "backtest_seconds")]:
        print(label.ljust(width) + "".join(str(results[n].get(key)).rjust(10) for n in names))
    print("stockouts after a month by gauge class: " + ", ".join(
        f"{n} {' '.join(f'{k}={v}' for k, v in results[n]['stockouts_by_gauge'].items()) or '-'}" for n in names))
    errors = results[names[0]]["forecast_error_days"]
    counts = results[names[0]]["forecast_error_n"]
    print("forecast: median |empty date error| in days (same for every policy), by gauge class:")
    for key in sorted(errors):
        print(f"  {key:<12} {errors[key]!s:>6}   (n={counts[key]})")
    for figures in results.values():
        figures.pop("stockout_list", None)
    print(json.dumps(results, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
