"""The temperature chart's coordinates: what the public batch page draws as inline SVG."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from api.charts import (
    BOTTOM,
    LEFT,
    MAX_DOTS,
    MIN_MARK,
    RIGHT,
    TOP,
    TemperatureChart,
    batch_temperature_chart,
    celsius_range,
    short_time,
    temperature_chart,
    tick_step,
)

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    """A reading time in Beijing time, as the public batch data gives it."""
    return (START + timedelta(minutes=minutes)).astimezone(timezone(timedelta(hours=8))).isoformat()


def readings(*pairs: tuple[float, float]) -> list[dict[str, Any]]:
    return [{"time": at(minutes), "celsius": celsius} for minutes, celsius in pairs]


def chart(
    *pairs: tuple[float, float], low: float | None = None, high: float | None = -18.0, **kw: Any
) -> TemperatureChart:
    drawn = temperature_chart(readings(*pairs), low, high, **kw)
    assert drawn is not None
    return drawn


def test_nothing_to_draw_without_readings() -> None:
    assert temperature_chart([], None, -18) is None


def test_readings_run_left_to_right_in_time_order_and_warmer_is_higher() -> None:
    drawn = chart((60, -19.0), (0, -20.0), (120, -18.5))  # given out of order
    assert [p.celsius for p in drawn.points] == [-20.0, -19.0, -18.5]
    assert [p.x for p in drawn.points] == [LEFT, (LEFT + RIGHT) / 2, RIGHT]
    ys = [p.y for p in drawn.points]
    assert ys[0] > ys[1] > ys[2]  # SVG's y grows downwards
    assert all(TOP <= y <= BOTTOM for y in ys)
    assert drawn.polyline == " ".join(f"{p.x:g},{p.y:g}" for p in drawn.points)
    assert (drawn.start, drawn.end) == ("11-20 16:00", "11-20 18:00")  # local time, as the journey shows it


def test_times_in_different_offsets_are_placed_by_the_instant() -> None:
    series = [
        {"time": "2026-11-20T16:30:00+08:00", "celsius": -19},  # 08:30 UTC
        {"time": "2026-11-20T08:00:00+00:00", "celsius": -20},
        {"time": "2026-11-20T09:00:00Z", "celsius": -18.5},
    ]
    drawn = temperature_chart(series, None, -18)
    assert drawn is not None
    assert [p.celsius for p in drawn.points] == [-20, -19, -18.5]
    assert drawn.points[1].x == pytest.approx((LEFT + RIGHT) / 2, abs=0.1)


def test_a_band_closed_on_one_side_runs_to_the_edge_of_the_plot() -> None:
    frozen = chart((0, -20.0), (60, -19.0), low=None, high=-18.0)
    assert frozen.band is not None
    y_limit = frozen.band.y + frozen.band.height
    assert y_limit == pytest.approx(BOTTOM) and frozen.band.y < min(p.y for p in frozen.points)
    chilled = chart((0, 2.0), (60, 3.0), low=0.0, high=4.0)
    assert chilled.band is not None
    assert TOP < chilled.band.y and chilled.band.y + chilled.band.height < BOTTOM
    assert all(chilled.band.y <= p.y <= chilled.band.y + chilled.band.height for p in chilled.points)
    ambient = chart((0, 20.0), (60, 22.0), low=None, high=None)
    assert ambient.band is None and ambient.outside == ()


def test_readings_outside_the_band_are_marked() -> None:
    drawn = chart((0, -19.0), (30, -12.0), (60, -19.5), (90, -25.0), low=-22.0, high=-18.0)
    assert [p.celsius for p in drawn.outside] == [-12.0, -25.0]
    assert [p.outside for p in drawn.points] == [False, True, False, True]
    assert drawn.outside[0].time == "11-20 16:30"


def test_ticks_are_round_numbers_covering_the_readings_and_the_band() -> None:
    drawn = chart((0, -19.0), (30, -12.0), high=-18.0)
    values = [float(t.label.removesuffix(" °C")) for t in drawn.ticks]
    assert values == sorted(values) and len(values) <= 6
    assert values[0] <= -19.0 and values[-1] >= -12.0
    step = values[1] - values[0]
    assert all(b - a == pytest.approx(step) for a, b in zip(values, values[1:], strict=False))
    assert drawn.ticks[0].y == pytest.approx(BOTTOM) and drawn.ticks[-1].y == pytest.approx(TOP)
    assert all(t.label.endswith(" °C") and "." not in t.label for t in drawn.ticks)


@pytest.mark.parametrize(
    "span, step",
    [(1, 0.5), (2.5, 0.5), (4, 1), (9, 2), (20, 5), (40, 10), (90, 20), (240, 50), (480, 100), (900, 200)],
)
def test_tick_steps(span: float, step: float) -> None:
    assert tick_step(span) == step


def test_a_flat_series_still_gets_a_readable_scale() -> None:
    low, high, _ = celsius_range([-18.0, -18.0])
    assert high - low >= 4
    drawn = chart((0, -18.0), (60, -18.0), high=-18.0)
    assert drawn.points[0].y == drawn.points[1].y and TOP < drawn.points[0].y < BOTTOM


def test_a_single_reading_sits_in_the_middle() -> None:
    drawn = chart((0, -19.0))
    assert drawn.points[0].x == (LEFT + RIGHT) / 2 and drawn.start == drawn.end


def test_excursions_are_stripes_over_the_time_they_lasted() -> None:
    excursions = [
        {"kind": "too_warm", "from": at(30), "to": at(60)},
        {"kind": "gap", "from": at(120), "to": at(120)},  # one moment: still visible
    ]
    drawn = chart((0, -19.0), (30, -12.0), (60, -13.0), (120, -19.0), excursions=excursions)
    warm, gap = drawn.excursions
    assert warm.kind == "too_warm"
    assert warm.x == pytest.approx(LEFT + (RIGHT - LEFT) / 4, abs=0.1)
    assert warm.width == pytest.approx((RIGHT - LEFT) / 4, abs=0.2)
    assert gap.kind == "gap" and gap.width == pytest.approx(MIN_MARK)
    assert LEFT <= gap.x and gap.x + gap.width <= RIGHT + 0.01


def test_a_long_series_is_a_line_without_dots_but_excursions_stay_marked() -> None:
    drawn = chart(*[(m, -19.0) for m in range(MAX_DOTS)], (MAX_DOTS, -10.0))
    assert drawn.dots == () and len(drawn.points) == MAX_DOTS + 1
    assert [p.celsius for p in drawn.outside] == [-10.0]
    assert len(chart((0, -19.0), (1, -19.5)).dots) == 2


def test_short_time() -> None:
    assert short_time("2026-11-20T16:05:00+08:00") == "11-20 16:05"


def test_a_public_batch_is_charted_from_every_step_of_its_journey() -> None:
    batch = {
        "product": {"temp_min_c": None, "temp_max_c": -18.0},
        "journey": [
            {"seq": 5, "temperatures": readings((0, -19.5))},
            {"seq": 6, "temperatures": []},
            {"seq": 7, "temperatures": readings((60, -12.0), (90, -19.0))},
        ],
        "excursions": [{"kind": "too_warm", "from": at(60), "to": at(60), "minutes": 0, "extreme_c": -12.0}],
    }
    drawn = batch_temperature_chart(batch)
    assert drawn is not None
    assert [p.celsius for p in drawn.points] == [-19.5, -12.0, -19.0]
    assert [p.celsius for p in drawn.outside] == [-12.0]
    assert len(drawn.excursions) == 1 and drawn.band is not None
    assert batch_temperature_chart({**batch, "journey": [{"seq": 5, "temperatures": []}]}) is None
