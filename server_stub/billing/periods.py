"""Billing periods: calendar months in UTC. A period's cut-off is the first instant of the next month."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


def utc(value: datetime) -> datetime:
    """`value` in UTC; a naive datetime is refused (its zone is unknowable)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"datetime {value.isoformat()} has no time zone; billing times are UTC")
    return value.astimezone(timezone.utc)


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1970 <= self.year <= 9998 and 1 <= self.month <= 12):
            raise ValueError(f"no such billing period: {self.year}-{self.month:02d}")

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"billing period {text!r} is not YYYY-MM")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def containing(cls, moment: datetime) -> Period:
        moment = utc(moment)
        return cls(moment.year, moment.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        """First instant of the period (= the previous period's cut-off)."""
        return datetime(self.year, self.month, 1, tzinfo=timezone.utc)

    @property
    def end(self) -> datetime:
        """The period's cut-off: first instant of the next period."""
        return self.next().start

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)
