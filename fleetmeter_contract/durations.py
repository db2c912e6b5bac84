"""The one duration type: "90s", "5m", "1h", "7d" or a number of seconds.

NaN, infinities, zero, negative and absurd (over ten years) values are refused with one line.
"""

from __future__ import annotations

import math
import os
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_SECONDS = 10 * 365 * 86400
PATTERN = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")


class DurationError(ValueError):
    """Not a usable duration (the message is one line)."""


def seconds(value: Any, minimum: float = 0.0, maximum: float = MAX_SECONDS) -> float:
    """Seconds from 300, 1.5, "90s", "5m", "1h", "7d"; above `minimum` (exclusive when 0), at most `maximum`."""
    if isinstance(value, bool):
        raise DurationError(f"{value!r} is not a duration like 90s, 5m, 1h or 7d")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and (match := PATTERN.fullmatch(value)):
        number = float(match[1]) * UNITS[match[2]]
    else:
        raise DurationError(f"{value!r} is not a duration like 90s, 5m, 1h or 7d")
    if math.isnan(number) or math.isinf(number):
        raise DurationError(f"{value!r} is not a finite duration")
    if number <= 0:
        raise DurationError(f"{value!r}: a duration must be positive")
    if number < minimum:
        raise DurationError(f"{value!r} is shorter than {describe(minimum)}")
    if number > maximum:
        raise DurationError(f"{value!r} is longer than {describe(maximum)}")
    return number


def timedelta_of(value: Any, minimum: float = 0.0, maximum: float = MAX_SECONDS) -> timedelta:
    return timedelta(seconds=seconds(value, minimum, maximum))


def describe(number: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if number >= size and number % size == 0:
            return f"{int(number // size)}{unit}"
    return f"{number:g}s"


TEST_TIMING = "FLEETMETER_TEST_TIMING"  # "1": schedule floors (heartbeat >= 30 s, ...) off, for the test suite


def Duration(minimum: float = 0.0, maximum: float = MAX_SECONDS):  # noqa: N802 (a type factory)
    """A pydantic field type: accepts the forms above, keeps the value as written (the document is stored and
    sent as given). The floor does not apply under FLEETMETER_TEST_TIMING=1 (end-to-end tests run schedules
    of a second); nothing else is relaxed."""
    def check(value: Any) -> Any:
        seconds(value, 0.0 if os.environ.get(TEST_TIMING) == "1" else minimum, maximum)
        return value
    return Annotated[int | float | str, BeforeValidator(check), PlainSerializer(lambda v: v)]
