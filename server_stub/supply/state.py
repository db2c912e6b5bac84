"""The engine's plain-value state as JSON and back, exactly (floats round-trip by repr), so a worker run that
loads it continues where the last one stopped and decides as one long-running engine (and the backtest) would.

Values are tagged: datetimes, dates, sets, deques, tuples, non-string-keyed dicts and the engine's dataclasses
(only those named in `CLASSES`: loading never instantiates anything else).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from datetime import date, datetime
from enum import Enum
from typing import Any

from server_stub.supply.engine import Slot
from server_stub.supply.forecast import (CartridgeTrack, Forecast, PageHistory, PagesPerPercent, SupplyObservation,
                                         UsageRate)

CLASSES: dict[str, type] = {cls.__name__: cls for cls in (
    Slot, CartridgeTrack, Forecast, PageHistory, PagesPerPercent, SupplyObservation, UsageRate)}


class StateError(ValueError):
    pass


def dump(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, deque):
        return {"$q": [dump(v) for v in value], "max": value.maxlen}
    if isinstance(value, (set, frozenset)):
        return {"$s": sorted(dump(v) for v in value)}
    if isinstance(value, tuple):
        return {"$t": [dump(v) for v in value]}
    if isinstance(value, list):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: dump(v) for k, v in value.items()}
        return {"$m": [[dump(k), dump(v)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and type(value).__name__ in CLASSES:
        return {"$c": type(value).__name__,
                "f": {f.name: dump(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    raise StateError(f"cannot store a {type(value).__name__} in the supply state")


def load(value: Any) -> Any:
    if isinstance(value, list):
        return [load(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$dt" in value:
        return datetime.fromisoformat(value["$dt"])
    if "$d" in value:
        return date.fromisoformat(value["$d"])
    if "$q" in value:
        return deque((load(v) for v in value["$q"]), maxlen=value["max"])
    if "$s" in value:
        return {load(v) for v in value["$s"]}
    if "$t" in value:
        return tuple(load(v) for v in value["$t"])
    if "$m" in value:
        return {load(k): load(v) for k, v in value["$m"]}
    if "$c" in value:
        cls = CLASSES.get(value["$c"])
        if cls is None:
            raise StateError(f"unknown class {value['$c']!r} in the supply state")
        return cls(**{k: load(v) for k, v in value["f"].items()})
    return {k: load(v) for k, v in value.items()}
