"""Dates as the region lives them: a maintenance "day" and an inspection date are local
(Asia/Shanghai by default), while every stored time is UTC."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"


def local_date(moment: datetime, zone: str = DEFAULT_ZONE) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()
