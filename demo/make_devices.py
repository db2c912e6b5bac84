"""Writes the simulated printers' device files (fleetmeter_sim/devices/*.snmprec, snmpsim format).

These are Fleetmeter's own made-up devices (enterprise 99999 is not assigned to any vendor), used by the
README's demo, by tests that need Printer-MIB tables the shared recordings lack (colorant table,
supply classes and units, alerts, tray types), and as the models of the printer simulator
(`fleetmeter-sim`, which makes their meters, levels and alerts move; fleetmeter_sim/models.toml says how).
They live in the package so an installed simulator has them. Run: python demo/make_devices.py
"""

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "fleetmeter_sim" / "devices"
PRINTER = "1.3.6.1.2.1.25.3.1.5"


def row(oid: str, tag: int | str, value: object) -> str:
    return f"{oid}|{tag}|{value}"


def system(descr: str, object_id: str, name: str, location: str, mac: str, uptime: int) -> list[str]:
    return [
        row("1.3.6.1.2.1.1.1.0", 4, descr), row("1.3.6.1.2.1.1.2.0", 6, object_id),
        row("1.3.6.1.2.1.1.3.0", 67, uptime), row("1.3.6.1.2.1.1.4.0", 4, "helpdesk@example.test"),
        row("1.3.6.1.2.1.1.5.0", 4, name), row("1.3.6.1.2.1.1.6.0", 4, location),
        row("1.3.6.1.2.1.2.2.1.1.1", 2, 1), row("1.3.6.1.2.1.2.2.1.2.1", 4, "lo"),
        row("1.3.6.1.2.1.2.2.1.3.1", 2, 24), row("1.3.6.1.2.1.2.2.1.6.1", "4x", ""),
        row("1.3.6.1.2.1.2.2.1.1.2", 2, 2), row("1.3.6.1.2.1.2.2.1.2.2", 4, "eth0"),
        row("1.3.6.1.2.1.2.2.1.3.2", 2, 6), row("1.3.6.1.2.1.2.2.1.6.2", "4x", mac),
    ]


def host_resources(model: str, device_status: int, printer_status: int, error_bits: str) -> list[str]:
    return [
        row("1.3.6.1.2.1.25.3.2.1.1.1", 2, 1), row("1.3.6.1.2.1.25.3.2.1.2.1", 6, PRINTER),
        row("1.3.6.1.2.1.25.3.2.1.3.1", 4, model), row("1.3.6.1.2.1.25.3.2.1.5.1", 2, device_status),
        row("1.3.6.1.2.1.25.3.2.1.1.2", 2, 2), row("1.3.6.1.2.1.25.3.2.1.2.2", 6, "1.3.6.1.2.1.25.3.1.4"),
        row("1.3.6.1.2.1.25.3.2.1.3.2", 4, "Network interface"), row("1.3.6.1.2.1.25.3.2.1.5.2", 2, 2),
        row("1.3.6.1.2.1.25.3.5.1.1.1", 2, printer_status), row("1.3.6.1.2.1.25.3.5.1.2.1", "4x", error_bits),
    ]


def table(base: str, columns: dict[int, tuple[int | str, list[object]]]) -> list[str]:
    """Rows of a Printer-MIB table indexed hrDeviceIndex(1).row; columns: number -> (tag, values)."""
    return [row(f"{base}.{column}.1.{i}", tag, value)
            for column, (tag, values) in columns.items() for i, value in enumerate(values, 1)]


def supplies(rows: list[tuple[int, int, int, str, int, int, int]]) -> list[str]:
    colorant, klass, kind, descr, unit, maximum, level = (list(c) for c in zip(*rows))
    n = len(rows)
    return table("1.3.6.1.2.1.43.11.1.1", {
        1: (2, list(range(1, n + 1))), 2: (2, [1] * n), 3: (2, colorant), 4: (2, klass), 5: (2, kind),
        6: (4, descr), 7: (2, unit), 8: (2, maximum), 9: (2, level)})


def colorants(names: list[str]) -> list[str]:
    n = len(names)
    return table("1.3.6.1.2.1.43.12.1.1", {1: (2, list(range(1, n + 1))), 2: (2, [1] * n), 3: (2, [3] * n),
                                           4: (4, names), 5: (2, [256] * n)})


def markers(life: int, power_on: int) -> list[str]:
    return table("1.3.6.1.2.1.43.10.2.1", {2: (2, [5]), 3: (2, [7]), 4: (65, [life]), 5: (65, [power_on])})


def inputs(trays: list[tuple[str, str, int, int]]) -> list[str]:
    names, media, maximum, level = (list(c) for c in zip(*trays))
    kinds = [5] + [3] * (len(trays) - 1)
    return table("1.3.6.1.2.1.43.8.2.1", {2: (2, kinds), 8: (2, [8] * len(trays)), 9: (2, maximum),
                                          10: (2, level), 12: (4, media), 13: (4, names)})


def alerts(rows: list[tuple[int, int, int, int, int, int, str, int]]) -> list[str]:
    columns = list(zip(*rows))
    tags = (2, 2, 2, 2, 2, 2, 4, 67)
    return table("1.3.6.1.2.1.43.18.1.1", {c + 2: (tags[c], list(columns[c])) for c in range(8)})


def pwg_counters(total: int, mono: int, color: int) -> list[str]:
    """PWG 5106.3 Imaging System Counter MIB: one systemTotals(3) key, lifetime impressions by colour."""
    ic = "1.3.6.1.4.1.2699.1.3.1"
    return [row(f"{ic}.2.1.1.2.1", 2, 3), row(f"{ic}.8.1.1.4.1.3.3", 65, total),
            row(f"{ic}.8.1.1.5.1.3.3", 65, mono), row(f"{ic}.8.1.1.7.1.3.3", 65, color)]


def serial(value: str) -> list[str]:
    return [row("1.3.6.1.2.1.43.5.1.1.17.1", 4, value)]


def write(name: str, rows: list[str]) -> None:
    def key(line: str) -> tuple[int, ...]:
        return tuple(int(x) for x in line.split("|", 1)[0].split("."))

    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.snmprec").write_text("\n".join(sorted(rows, key=key)) + "\n")


def main() -> None:
    write("demo-color-mfp",
          system("Fleetmeter Demo ColorMFP 4500; firmware 3.1.7", "1.3.6.1.4.1.99999.1.2", "demo-color-2f",
                 "2nd floor, copy room", "02a0c9451001", 4231200)
          + host_resources("Fleetmeter Demo ColorMFP 4500", 3, 3, "2000")
          + serial("FMD45C000123") + markers(184233, 112) + pwg_counters(184233, 131020, 53213) + colorants(["black", "cyan", "magenta", "yellow"])
          + supplies([
              (1, 3, 3, "Black Toner Cartridge FM-450K", 19, 100, 64),
              (2, 3, 3, "Cyan Toner Cartridge FM-450C", 19, 100, 8),
              (3, 3, 3, "Magenta Toner Cartridge FM-450M", 19, 100, -3),
              (4, 3, 3, "Yellow Toner Cartridge FM-450Y", 19, 100, 37),
              (0, 4, 4, "Waste Toner Box", 19, 100, 92),
              (0, 3, 9, "Drum Unit", 7, 60000, 21000),
              (0, 3, 15, "Fuser Unit", 7, 150000, -2),
              (0, 3, 1, "Maintenance Kit", 19, 100, 12)])
          + inputs([("Bypass Tray", "A4", 100, 0), ("Tray 1", "A4", 500, 320), ("Tray 2", "A3", 500, -3)])
          + alerts([(4, 3, 11, 2, 0, 1104, "Cyan toner low", 4230000),
                    (4, 3, 11, 5, 0, 1107, "Waste toner box almost full", 4231000)]))
    write("demo-mono-laser",
          system("Fleetmeter Demo MonoLaser 300", "1.3.6.1.4.1.99999.1.1", "demo-mono-reception",
                 "Reception", "02a0c9452002", 918000)
          + host_resources("Fleetmeter Demo MonoLaser 300", 2, 3, "00")
          + serial("FMD30M000777") + markers(48120, 35)
          + supplies([(0, 3, 21, "Toner Cartridge (K) FM-300", 19, 100, 41),
                      (0, 3, 9, "Imaging Drum", 19, 100, 77)])
          + inputs([("Tray 1", "Letter", 250, 180)]))
    # a small MFP whose gauges move in coarse steps (the simulator reports its levels in 20 % steps)
    write("demo-mono-coarse",
          system("Fleetmeter Demo MonoMFP 150", "1.3.6.1.4.1.99999.1.3", "demo-mono-office",
                 "Back office", "02a0c9453003", 301000)
          + host_resources("Fleetmeter Demo MonoMFP 150", 2, 3, "00")
          + serial("FMD15M000042") + markers(22470, 18)
          + supplies([(0, 3, 3, "Toner FM-150", 19, 100, 60),
                      (0, 3, 9, "Drum FM-150D", 19, 100, 80)])
          + inputs([("Cassette", "A4", 250, 200)]))


if __name__ == "__main__":
    main()
