"""Temperature excursions: readings outside a product's band, and gaps between readings longer
than it allows.  Consecutive readings out of the band on the same side make one excursion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Band:
    low: float | None
    high: float | None
    max_gap: timedelta | None = None

    def side(self, celsius: float) -> str | None:
        if self.high is not None and celsius > self.high:
            return "too_warm"
        if self.low is not None and celsius < self.low:
            return "too_cold"
        return None


@dataclass(frozen=True)
class Excursion:
    kind: str  # too_warm, too_cold or gap
    start: datetime
    end: datetime
    extreme_c: float | None  # the warmest (or coldest) reading; None for a gap
    readings: int

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "minutes": self.minutes,
            "extreme_c": self.extreme_c,
            "readings": self.readings,
        }


def excursions(readings: Sequence[tuple[datetime, float]], band: Band) -> list[Excursion]:
    """Excursions in time order; ``readings`` are (time, °C) pairs in any order."""
    ordered = sorted(readings)
    found: list[Excursion] = []
    run: list[tuple[datetime, float]] = []
    run_side: str | None = None

    def close_run() -> None:
        if run and run_side is not None:
            pick = max if run_side == "too_warm" else min
            found.append(Excursion(run_side, run[0][0], run[-1][0], pick(c for _, c in run), len(run)))

    previous: datetime | None = None
    for moment, celsius in ordered:
        if band.max_gap is not None and previous is not None and moment - previous > band.max_gap:
            found.append(Excursion("gap", previous, moment, None, 0))
        side = band.side(celsius)
        if side != run_side:
            close_run()
            run, run_side = [], side
        if side is not None:
            run.append((moment, celsius))
        previous = moment
    close_run()
    return sorted(found, key=lambda e: (e.start, e.kind))
