"""The inspector's desk: alerts in one's grids, worst first, filtered and paged; acting on one
(acknowledge, assign to a hazard, close through a satisfying entry); and the per-grid summary
with its 30-day trend (the "清零" chart)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, true
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import Alert, Equipment, LedgerEntry
from ledger.domain.access import Forbidden, Principal
from ledger.domain.alerts import COLOURS
from ledger.domain.clock import day_start, parse_date
from ledger.errors import InvalidEntry, NotFound
from ledger.services import hazards
from ledger.services.alerts import OPEN, resolve
from ledger.services.grids import grid_codes_under

SORTS = {
    "days_overdue": (Alert.days_overdue.desc(), Alert.due_date),
    "due_date": (Alert.due_date, Alert.id),
    "opened_at": (Alert.opened_at.desc(), Alert.id),
}
MAX_PER_PAGE = 500


@dataclass(frozen=True)
class AlertFilter:
    grid: str | None = None
    rules: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()
    statuses: tuple[str, ...] = OPEN
    category: str | None = None
    maintenance_org_id: str | None = None
    user_org_id: str | None = None
    due_from: date | None = None
    due_to: date | None = None
    sort: str = "days_overdue"

    def describe(self) -> str:
        """The filters in words, for the stamp on an export."""
        parts = [f"{name}={value}" for name, value in self.__dict__.items() if value not in (None, (), "")]
        return "; ".join(parts)


def _grids_in_view(session: Session, principal: Principal, grid: str | None) -> set[str] | None:
    """None: everything (admins); else the grid codes the caller may see, narrowed to ``grid``."""
    if "admin" in principal.roles:
        return grid_codes_under(session, [grid]) if grid else None
    if "inspector" not in principal.roles:
        raise Forbidden("the inspector's lists are for inspectors; a business reads /api/v1/my/alerts")
    covered = grid_codes_under(session, principal.scopes)
    if grid is None:
        return covered
    if grid not in covered:
        raise Forbidden(f"grid {grid} is outside the grids you oversee")
    return grid_codes_under(session, [grid])


def _query(session: Session, principal: Principal, wanted: AlertFilter) -> Select[Alert]:
    query = select(Alert)
    grids = _grids_in_view(session, principal, wanted.grid)
    if grids is not None:
        query = query.where(Alert.grid_code.in_(sorted(grids)))
    conditions = [
        Alert.rule.in_(wanted.rules) if wanted.rules else None,
        Alert.colour.in_(wanted.colours) if wanted.colours else None,
        Alert.status.in_(wanted.statuses) if wanted.statuses else None,
        Alert.category == wanted.category if wanted.category else None,
        Alert.maintenance_org_id == wanted.maintenance_org_id if wanted.maintenance_org_id else None,
        Alert.user_org_id == wanted.user_org_id if wanted.user_org_id else None,
        Alert.due_date >= wanted.due_from if wanted.due_from else None,
        Alert.due_date <= wanted.due_to if wanted.due_to else None,
    ]
    for condition in conditions:
        if condition is not None:
            query = query.where(condition)
    if wanted.sort not in SORTS:
        raise InvalidEntry(f"sort must be one of {', '.join(SORTS)}")
    return query.order_by(*SORTS[wanted.sort])


def list_alerts(
    session: Session, principal: Principal, wanted: AlertFilter, page: int = 1, per_page: int = 100
) -> tuple[list[Alert], int]:
    """A page of alerts and how many match in all."""
    query = _query(session, principal, wanted)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = session.scalars(query.limit(per_page).offset((page - 1) * per_page))
    return list(rows), int(total)


def all_alerts(session: Session, principal: Principal, wanted: AlertFilter) -> list[Alert]:
    return list(session.scalars(_query(session, principal, wanted)))


def get_alert(session: Session, principal: Principal, raised_seq: int) -> Alert:
    alert = session.scalars(select(Alert).where(Alert.raised_seq == raised_seq)).first()
    if alert is None:
        raise NotFound(f"there is no alert raised at seq {raised_seq}")
    grids = _grids_in_view(session, principal, None)
    if grids is not None and alert.grid_code not in grids:
        raise Forbidden(f"alert {raised_seq} is outside the grids you oversee")
    return alert


def acknowledge(session: Session, alert: Alert, principal: Principal, note: Any, now: datetime) -> Alert:
    if alert.status == "resolved":
        raise InvalidEntry(f"alert {alert.raised_seq} is already resolved")
    payload = {"alert_seq": alert.raised_seq, "note": None if note in (None, "") else str(note)[:1000]}
    (appended,) = store.append(session, [store.NewEvent("alert.acknowledged", alert.subject, principal.actor, payload)])
    alert.status, alert.acknowledged_by, alert.acknowledged_at = "acknowledged", principal.org_id, now
    alert.updated_seq = appended.seq
    session.flush()
    return alert


def _unit_of(session: Session, alert: Alert) -> Equipment:
    """The unit an equipment alert is about, from its subject or the entry its subject names."""
    subject = _ledger_subject(session, alert)
    if not subject.startswith("equipment:"):
        raise InvalidEntry(
            "only equipment alerts become hazards; cold-chain alerts are closed by the scans that fix them"
        )
    unit = session.scalars(select(Equipment).where(Equipment.code == subject.removeprefix("equipment:"))).first()
    if unit is None:
        raise NotFound(f"alert {alert.raised_seq} names no registered unit")
    return unit


def assign(session: Session, alert: Alert, principal: Principal, body: dict[str, Any], today: date) -> Alert:
    """Turn an equipment alert into a hazard for its responsible unit (or link an open one)."""
    if alert.hazard_seq is not None:
        raise InvalidEntry(f"alert {alert.raised_seq} is already assigned to hazard {alert.hazard_seq}")
    if body.get("hazard_seq") is not None:
        hazard = hazards.get_hazard(session, int(body["hazard_seq"]))
    else:
        unit = _unit_of(session, alert)
        deadline = body.get("deadline")
        spec = hazards.hazard_spec(
            source="inspector_visit", level=body.get("level", "general"), colour=body.get("colour"),
            description=body.get("description") or alert.label,
            responsible_org_id=body.get("responsible_org_id") or unit.user_org_id, today=today,
            deadline=parse_date(deadline, "deadline") if deadline else None, source_seq=alert.raised_seq,
        )  # fmt: skip
        hazard = hazards.open_hazard(session, unit, spec, principal.actor)
    payload = {"alert_seq": alert.raised_seq, "hazard_seq": hazard.opened_seq}
    (appended,) = store.append(session, [store.NewEvent("alert.assigned", alert.subject, principal.actor, payload)])
    alert.hazard_seq, alert.updated_seq = hazard.opened_seq, appended.seq
    session.flush()
    return alert


def _ledger_subject(session: Session, alert: Alert) -> str:
    """The ledger subject an alert is about: its own, or that of the entry it names
    (``hazard:N``, ``shipment:N``, ``incident:N``...)."""
    kind, _, rest = alert.subject.partition(":")
    if kind in ("hazard", "shipment", "incident", "receipt", "maintenance") and rest.isdigit():
        named = session.get(LedgerEntry, int(rest))
        if named is not None:
            return named.subject
    return alert.subject.split("#", 1)[0]


def close(session: Session, alert: Alert, principal: Principal, satisfied_by: Any, now: datetime) -> Alert:
    """Close only through a satisfying entry: a later entry about the same unit or batch."""
    if alert.status == "resolved":
        raise InvalidEntry(f"alert {alert.raised_seq} is already resolved")
    if isinstance(satisfied_by, bool) or not isinstance(satisfied_by, int):
        raise InvalidEntry("closing an alert needs satisfied_by_seq: the entry that put it right")
    entry = session.get(LedgerEntry, satisfied_by)
    if entry is None or entry.seq <= alert.raised_seq or entry.subject != _ledger_subject(session, alert):
        raise InvalidEntry(f"entry {satisfied_by} is not a later entry about what alert {alert.raised_seq} is about")
    return resolve(session, alert, satisfied_by, principal.actor, now)


def summary(session: Session, principal: Principal, grid: str | None, today: date, zone: str) -> dict[str, Any]:
    """Open alerts by rule and colour, and how many were open at the end of each of the last
    30 days: the count an inspector drives to zero."""
    grids = _grids_in_view(session, principal, grid)
    scope = Alert.grid_code.in_(sorted(grids)) if grids is not None else true()
    counts: dict[str, dict[str, int]] = {}
    for rule, colour, number in session.execute(
        select(Alert.rule, Alert.colour, func.count())
        .where(scope, Alert.status.in_(OPEN))
        .group_by(Alert.rule, Alert.colour)
    ):
        counts.setdefault(rule, dict.fromkeys(COLOURS, 0))[colour] = int(number)
    trend = []
    for back in range(29, -1, -1):
        day = today - timedelta(days=back)
        end = day_start(day + timedelta(days=1), zone)
        still_open = or_(Alert.resolved_at.is_(None), Alert.resolved_at >= end)
        count = session.scalar(
            select(func.count()).select_from(Alert).where(scope, and_(Alert.opened_at < end, still_open))
        )
        trend.append({"date": day.isoformat(), "open": int(count or 0)})
    return {"grid": grid, "open": counts, "total_open": sum(sum(c.values()) for c in counts.values()), "trend": trend}
