"""What one USB printer read costs, over the pyusb backend double (no hardware here).

Prints, per emulated printer: median wall time of a full read (Device ID, PJL, IPP-USB), USB transfers
and bytes, and the ratio of that time to the conversation budget (the reference: the most a printer
may cost per conversation). The silent printer shows the bound holding; the others show the overhead of
pyusb + parsing. Usage: .venv/bin/python bench/usb_poll.py [rounds]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import usb_scenarios as sc  # noqa: E402
from usb_double import FakeBackend  # noqa: E402

from agent.usb import UsbOptions, inspect_usb  # noqa: E402

SCENARIOS = {
    "laserjet (PJL + IPP-USB)": sc.laserjet,
    "brother (PJL, 7-byte packets)": sc.brother,
    "inkjet (no PJL)": sc.inkjet_without_pjl,
    "laserjet behind usblp (detach)": sc.usblp_bound,
    "silent PJL printer": sc.silent,
}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    options = UsbOptions(budget_s=0.5)
    print(f"budget per conversation: {options.budget_s} s, {rounds} rounds each")
    print(f"{'printer':<32} {'median ms':>10} {'transfers':>10} {'bytes':>8} {'time/budget':>12}")
    for name, build in SCENARIOS.items():
        times, reading = [], None
        for _ in range(rounds):
            backend = FakeBackend([build()])
            started = time.perf_counter()
            [reading] = inspect_usb(options, backend=backend)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        print(f"{name:<32} {median * 1000:>10.1f} {reading.stats.pdus:>10} {reading.stats.bytes:>8} "
              f"{median / options.budget_s:>12.2f}")


if __name__ == "__main__":
    main()
