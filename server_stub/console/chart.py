"""A supply's level history as SVG geometry (drawn by the device page's template, served from the package:
no chart library, no CDN, no script). Percent on the y axis (0-100), time on the x axis; a forecast, when the
supply domain gives one, is a dashed line with its range as a band."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 24  # margins for the axis labels


@dataclass(frozen=True)
class ForecastPoint:
    at: datetime
    percent: float
    low: float
    high: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    line: str  # polyline points of the observed levels
    dots: list[tuple[float, float]]  # a lone observation is a dot
    forecast: str  # polyline points of the forecast ("" without one)
    band: str  # polygon points of the forecast's range ("" without one)
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str, str]]
    last: float | None  # the latest level (for the text alternative)


def supply_chart(points: list[tuple[datetime, float]], forecast: list[ForecastPoint] = ()) -> Chart:
    times = [t for t, _ in points] + [f.at for f in forecast]
    start, end = (min(times), max(times)) if times else (None, None)
    span = (end - start).total_seconds() if times and end > start else 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return round(LEFT + plot_w * ((at - start).total_seconds() / span if end > start else 0.5), 1)

    def y(percent: float) -> float:
        return round(TOP + plot_h * (1 - max(0.0, min(100.0, percent)) / 100), 1)

    line = " ".join(f"{x(t)},{y(p)}" for t, p in points)
    band = ""
    if forecast:
        band = " ".join(f"{x(f.at)},{y(f.high)}" for f in forecast) + " " + " ".join(
            f"{x(f.at)},{y(f.low)}" for f in reversed(forecast))
    x_ticks = []  # (x, label, text-anchor)
    if times and end > start:
        for fraction, anchor in ((0, "start"), (0.5, "middle"), (1, "end")):
            at = start + (end - start) * fraction
            x_ticks.append((round(LEFT + plot_w * fraction, 1), at.strftime("%d %b"), anchor))
    elif times:
        x_ticks.append((x(start), start.strftime("%d %b"), "middle"))
    return Chart(WIDTH, HEIGHT, line, [(x(t), y(p)) for t, p in points] if len(points) == 1 else [],
                 " ".join(f"{x(f.at)},{y(f.percent)}" for f in forecast), band,
                 [(y(v), f"{v}%") for v in (0, 50, 100)], x_ticks, points[-1][1] if points else None)
