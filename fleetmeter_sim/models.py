"""The simulated printer models: device files (devices/<name>.snmprec) plus how each one moves
(models.toml). Loaded once; a model is shared by every device of the fleet that is that model."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from agent.snmp import ber

HERE = Path(__file__).resolve().parent
DEVICES = HERE / "devices"
USES = ("black", "cyan", "magenta", "yellow", "pages", "waste")
METERS = ("total", "mono", "color", "power_on")
SUPPLY_ROW = "1.3.6.1.2.1.43.11.1.1"
HR_DEVICE_DESCR = "1.3.6.1.2.1.25.3.2.1.3.1"  # what readers take as the model
TYPE_WASTE_TONER, TYPE_DRUM = 4, 9


class ModelError(ValueError):
    """A device file or models.toml entry the simulator cannot use."""


@dataclass(frozen=True)
class Row:
    oid: str
    tag: int
    value: object  # int, bytes, or dotted str (OID, IpAddress)


@dataclass(frozen=True)
class SupplySpec:
    index: int
    uses: str
    yield_pages: int
    report: str  # "percent", "step:N", "some_remaining", "unknown"
    low: float
    description: str
    supply_type: int
    max_capacity: int

    @property
    def receptacle(self) -> bool:
        return self.uses == "waste"


@dataclass(frozen=True, eq=False)
class Model:
    name: str
    share: float
    pages_per_day: tuple[float, float]
    color_share: tuple[float, float] | None
    serial_prefix: str
    counters: dict[str, str]  # OID -> meter
    supplies: tuple[SupplySpec, ...]
    rows: tuple[Row, ...] = field(repr=False)  # the device file, in OID order

    @property
    def color(self) -> bool:
        return self.color_share is not None

    def value(self, oid: str) -> object:
        for row in self.rows:
            if row.oid == oid:
                return row.value
        raise KeyError(oid)


def parse_snmprec(text: str, where: str) -> list[Row]:
    """snmpsim's `OID|tag|value` lines (tag with `x`: value in hex)."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            oid, tag_text, raw = line.split("|", 2)
            hexed = tag_text.endswith("x")
            tag = int(tag_text.rstrip("x"))
            if hexed:
                value: object = bytes.fromhex(raw)
            elif tag in (ber.OCTET_STRING, ber.OPAQUE):
                value = raw.encode("latin-1")
            elif tag in (ber.OID, ber.IP_ADDRESS):
                value = raw
            elif tag == ber.NULL:
                value = None
            else:
                value = int(raw)
            ber.encode_value(tag, value)  # fails now, not on a request
        except (ValueError, ber.BerError) as error:
            raise ModelError(f"{where}:{number}: not an snmprec line ({error})") from None
        rows.append(Row(oid, tag, value))
    return sorted(rows, key=lambda r: ber.oid_body(r.oid))


def _pair(value: object, where: str) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2 and 0 < value[0] <= value[1]):
        raise ModelError(f"{where}: expected [low, high] with 0 < low <= high")
    return float(value[0]), float(value[1])


def _supply(entry: dict, rows: dict[str, Row], where: str) -> SupplySpec:
    index = entry.get("index")
    uses, report = entry.get("uses"), entry.get("report", "percent")
    if f"{SUPPLY_ROW}.9.1.{index}" not in rows:
        raise ModelError(f"{where}: supply {index} is not in the device file")
    if uses not in USES:
        raise ModelError(f"{where}: supply {index}: uses must be one of {', '.join(USES)}")
    if report not in ("percent", "some_remaining", "unknown") and not (
            report.startswith("step:") and report[5:].isdigit() and 0 < int(report[5:]) <= 100):
        raise ModelError(f"{where}: supply {index}: unknown report {report!r}")
    yield_pages, low = entry.get("yield"), entry.get("low", 10)
    if not isinstance(yield_pages, int) or yield_pages <= 0 or not 0 <= low < 100:
        raise ModelError(f"{where}: supply {index}: yield must be a positive integer, low 0..100")
    max_capacity = rows[f"{SUPPLY_ROW}.8.1.{index}"].value
    if not isinstance(max_capacity, int) or max_capacity <= 0:
        raise ModelError(f"{where}: supply {index}: prtMarkerSuppliesMaxCapacity must be positive")
    return SupplySpec(index, uses, yield_pages, report, float(low),
                      rows[f"{SUPPLY_ROW}.6.1.{index}"].value.decode("latin-1"),  # type: ignore[union-attr]
                      int(rows[f"{SUPPLY_ROW}.5.1.{index}"].value), max_capacity)  # type: ignore[arg-type]


@cache
def load_models(path: Path = HERE / "models.toml", devices: Path = DEVICES) -> tuple[Model, ...]:
    """Every model of models.toml with its device file, in file order."""
    models = []
    for name, entry in tomllib.loads(path.read_text()).items():
        where = f"{path.name} [{name}]"
        device_file = devices / f"{name}.snmprec"
        if not device_file.exists():
            raise ModelError(f"{where}: no device file {device_file}")
        rows = parse_snmprec(device_file.read_text(encoding="latin-1"), device_file.name)
        by_oid = {r.oid: r for r in rows}
        counters = dict(entry.get("counters", {}))
        for oid, meter in counters.items():
            if meter not in METERS or oid not in by_oid:
                raise ModelError(f"{where}: counter {oid} = {meter!r}: unknown meter or OID not in the file")
        color_share = _pair(entry["color_share"], where) if "color_share" in entry else None
        models.append(Model(
            name, float(entry.get("share", 1)), _pair(entry.get("pages_per_day"), where), color_share,
            str(entry.get("serial_prefix", name[:6].upper())), counters,
            tuple(_supply(s, by_oid, where) for s in entry.get("supplies", [])), tuple(rows)))
    if not models:
        raise ModelError(f"{path}: no models")
    return tuple(models)
