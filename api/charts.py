"""Coordinates for the charts on the public pages.

The pages draw their charts as inline SVG on the server, so they read without JavaScript and
need no ``style`` attribute (the Content-Security-Policy forbids them): this module turns data
into numbers in the SVG's own units and the template only places them.  Pure functions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

WIDTH, HEIGHT = 360, 200  # the viewBox; the stylesheet scales it to the column's width
LEFT, RIGHT, TOP, BOTTOM = 52.0, 348.0, 12.0, 170.0  # the plot area inside it
TICK_STEPS = (0.5, 1, 2, 5, 10, 20, 50, 100)
MAX_TICKS = 5
MIN_SPAN_C = 4.0  # a flat series still gets a readable scale
MIN_MARK = 4.0  # an excursion of a single reading still gets a visible stripe
MAX_DOTS = 40  # beyond this the line alone reads better than a row of dots


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    celsius: float
    time: str  # as the page shows times: "11-20 16:00"
    outside: bool  # outside the allowed band


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Span:
    """An excursion as a vertical stripe over the time it lasted."""

    x: float
    width: float
    kind: str  # too_warm, too_cold or gap


@dataclass(frozen=True)
class Band:
    y: float
    height: float


@dataclass(frozen=True)
class TemperatureChart:
    band: Band | None
    polyline: str
    points: tuple[Point, ...]
    dots: tuple[Point, ...]  # readings drawn as dots: all of a short series, else none
    outside: tuple[Point, ...]  # readings outside the band, always marked
    ticks: tuple[Tick, ...]
    excursions: tuple[Span, ...]
    start: str
    end: str
    lowest: float
    highest: float
    width: int = WIDTH
    height: int = HEIGHT
    left: float = LEFT
    right: float = RIGHT
    top: float = TOP
    bottom: float = BOTTOM


def short_time(iso: str) -> str:
    """``2026-11-20T16:05:00+08:00`` as ``11-20 16:05``: the local time the reading was taken."""
    return iso[5:16].replace("T", " ")


def tick_step(span: float) -> float:
    """The smallest round step that labels ``span`` degrees with at most MAX_TICKS steps."""
    for step in TICK_STEPS:
        if span / step <= MAX_TICKS:
            return step
    return float(TICK_STEPS[-1] * math.ceil(span / (TICK_STEPS[-1] * MAX_TICKS)))


def celsius_range(values: Sequence[float]) -> tuple[float, float, float]:
    """Scale bounds on round numbers with a little room around ``values``, and the tick step."""
    low, high = min(values), max(values)
    if high - low < MIN_SPAN_C:
        middle = (low + high) / 2
        low, high = middle - MIN_SPAN_C / 2, middle + MIN_SPAN_C / 2
    room = (high - low) * 0.08
    step = tick_step(high - low + 2 * room)
    return math.floor((low - room) / step) * step, math.ceil((high + room) / step) * step, step


def label(celsius: float) -> str:
    return f"{celsius:g} °C"


class _Scale:
    def __init__(self, first: datetime, last: datetime, low: float, high: float) -> None:
        self.first = first
        self.seconds = (last - first).total_seconds()
        self.low, self.high = low, high

    def x(self, moment: datetime) -> float:
        if self.seconds <= 0:  # every reading at one moment: put them in the middle
            return (LEFT + RIGHT) / 2
        share = (moment - self.first).total_seconds() / self.seconds
        return LEFT + min(max(share, 0.0), 1.0) * (RIGHT - LEFT)

    def y(self, celsius: float) -> float:
        return BOTTOM - (celsius - self.low) / (self.high - self.low) * (BOTTOM - TOP)


def _band(scale: _Scale, low: float | None, high: float | None) -> Band | None:
    """The allowed band; a band open on one side runs to that edge of the plot."""
    if low is None and high is None:
        return None
    top = scale.y(high) if high is not None else TOP
    bottom = scale.y(low) if low is not None else BOTTOM
    return Band(round(top, 1), round(bottom - top, 1))


def _span(scale: _Scale, excursion: Mapping[str, Any]) -> Span:
    start = scale.x(datetime.fromisoformat(excursion["from"]))
    end = scale.x(datetime.fromisoformat(excursion["to"]))
    if end - start < MIN_MARK:
        middle = (start + end) / 2
        start = min(max(middle - MIN_MARK / 2, LEFT), RIGHT - MIN_MARK)
        end = start + MIN_MARK
    return Span(round(start, 1), round(end - start, 1), str(excursion["kind"]))


def temperature_chart(
    readings: Iterable[Mapping[str, Any]],
    low: float | None,
    high: float | None,
    excursions: Iterable[Mapping[str, Any]] = (),
) -> TemperatureChart | None:
    """A temperature line over time with the allowed band [low, high] shaded and excursions
    marked.  ``readings`` are ``{"time": ISO 8601 with offset, "celsius"}`` in any order;
    ``excursions`` are ``{"kind", "from", "to"}``.  None when there is nothing to draw."""
    series = sorted((datetime.fromisoformat(r["time"]), str(r["time"]), float(r["celsius"])) for r in readings)
    if not series:
        return None
    temperatures = [celsius for _, _, celsius in series]
    limits = [limit for limit in (low, high) if limit is not None]
    bottom_c, top_c, step = celsius_range(temperatures + limits)
    scale = _Scale(series[0][0], series[-1][0], bottom_c, top_c)
    points = tuple(
        Point(
            round(scale.x(moment), 1),
            round(scale.y(celsius), 1),
            celsius,
            short_time(text),
            (high is not None and celsius > high) or (low is not None and celsius < low),
        )
        for moment, text, celsius in series
    )
    ticks = tuple(
        Tick(round(scale.y(bottom_c + i * step), 1), label(round(bottom_c + i * step, 1)))
        for i in range(round((top_c - bottom_c) / step) + 1)
    )
    return TemperatureChart(
        band=_band(scale, low, high),
        polyline=" ".join(f"{p.x:g},{p.y:g}" for p in points),
        points=points,
        dots=points if len(points) <= MAX_DOTS else (),
        outside=tuple(p for p in points if p.outside),
        ticks=ticks,
        excursions=tuple(_span(scale, e) for e in excursions),
        start=short_time(series[0][1]),
        end=short_time(series[-1][1]),
        lowest=min(temperatures),
        highest=max(temperatures),
    )


def batch_temperature_chart(batch: Mapping[str, Any]) -> TemperatureChart | None:
    """The chart of a public batch (``ledger.services.public.public_batch``): every reading of
    its journey against its product's band."""
    readings = [reading for step in batch["journey"] for reading in step["temperatures"]]
    product = batch["product"]
    return temperature_chart(readings, product["temp_min_c"], product["temp_max_c"], batch["excursions"])
