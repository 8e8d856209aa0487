"""Alerts: what the rules find, and the colours the supervision plans give them.

A finding is keyed by (rule, subject, due date): the same rule run again finds the same key
and raises nothing new, and a key no longer found means the subject was put right, so its alert
resolves by itself.  Colours run blue (due soon) → yellow → orange → red (proposed for 挂牌督办).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

COLOURS = ("blue", "yellow", "orange", "red")
STATUSES = ("open", "acknowledged", "resolved", "escalated")
INSPECTION_NOTICE_DAYS = 30  # the user unit asks for the periodic inspection a month ahead


@dataclass(frozen=True)
class Finding:
    rule: str
    subject: str
    due_date: date
    colour: str
    days_overdue: int
    label: str
    grid_code: str | None = None
    org_id: str | None = None  # the organisation whose subject it is (holder, carrier, maintainer)
    evidence: tuple[int, ...] = ()
    category: str | None = None
    maintenance_org_id: str | None = None
    user_org_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, date]:
        return self.rule, self.subject, self.due_date


def half_monthly_colour(days_overdue: int) -> str:
    """Half-monthly maintenance: blue when due within three days, then yellow 1–15 days over,
    orange 16–30, red beyond 30."""
    if days_overdue <= 0:
        return "blue"
    if days_overdue <= 15:
        return "yellow"
    return "orange" if days_overdue <= 30 else "red"


def tier_colour(days_overdue: int) -> str:
    """Quarterly, half-yearly and yearly maintenance: yellow when overdue, orange after 30 days."""
    return "yellow" if days_overdue <= 30 else "orange"


def inspection_colour(days_overdue: int) -> str:
    """Periodic inspection: a notice (blue) in the month before, red from the day after."""
    return "blue" if days_overdue <= 0 else "red"


def shipment_colour(hours_late: float, limit_hours: float) -> str:
    """Shipped but not received: orange past the route's limit, red past twice the limit."""
    return "red" if hours_late > limit_hours else "orange"


def worse(first: str, second: str) -> str:
    return first if COLOURS.index(first) >= COLOURS.index(second) else second
