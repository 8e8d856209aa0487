"""Dates as the region lives them: a maintenance "day" and an inspection date are local
(Asia/Shanghai by default), while every stored time is UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from ledger.errors import InvalidEntry

DEFAULT_ZONE = "Asia/Shanghai"


def local_date(moment: datetime, zone: str = DEFAULT_ZONE) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def day_start(day: date, zone: str = DEFAULT_ZONE) -> datetime:
    """The UTC instant at which ``day`` begins in ``zone``: rules compare stored UTC times with
    it, so "before that day" is an indexed range query, not a per-row date conversion."""
    return datetime.combine(day, time(0), ZoneInfo(zone)).astimezone(UTC)


def parse_date(value: Any, what: str) -> date:
    """An ISO calendar date sent by a client, or a 422 naming the field."""
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidEntry(f"{what} must be a date such as 2026-11-26") from exc
