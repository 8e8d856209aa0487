"""Grading every business and every equipment unit from the projection tables, and publishing
the grades as one tamper-evident ledger entry.

Each fact of ``ledger.domain.risk.RULES`` is one GROUP BY query over the projections (units'
maintenance records, inspections, hazards and incidents; businesses' scans, readings and
holdings): the database returns one aggregated row per subject, never the raw rows.  Days
are counted as the region lives them (``LEDGER_TIME_ZONE``): PostgreSQL converts each time in
that zone; SQLite, which has no zone database, shifts by the zone's offset on the grading day
(exact for Asia/Shanghai, which keeps no daylight saving time).

The grades are published by one ``risk.graded`` entry holding the date, the rule table's version
and SHA-256, and the SHA-256 of the canonical list of (subject, grade, score)
(``ledger.domain.risk.grades_sha256``): one entry a day proves what every subject's grade was,
without an entry per subject.  A second run on the same day that finds the same grades writes
nothing.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, and_, case, cast, delete, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ledger.db import store
from ledger.db.tables import (
    Batch,
    Equipment,
    Hazard,
    Holding,
    Incident,
    Inspection,
    LedgerEntry,
    MaintenanceRecord,
    Organisation,
    Product,
    RiskGrade,
    Scan,
    Site,
    TemperatureReading,
)
from ledger.domain import risk
from ledger.domain.access import Forbidden, Principal
from ledger.domain.clock import DEFAULT_ZONE, day_start
from ledger.domain.equipment import subject as unit_subject
from ledger.domain.maintenance import INTERVAL_DAYS
from ledger.services.grids import grid_codes_under, in_scope

GRADED_KIND = "risk.graded"
SUBJECT = "risk:grades"
EPOCH = date(1970, 1, 1)
_JULIAN_EPOCH = 2440587.5  # julianday('1970-01-01')
UNRECEIVED_AFTER = timedelta(hours=48)
Counts = dict[str, dict[str, int]]  # subject → rule name → count


@dataclass(frozen=True)
class GradeSummary:
    """What a grading run found and the ``risk.graded`` entry that publishes it."""

    date: date
    subjects: int
    by_grade: dict[str, int]
    grades_sha256: str
    table_version: str
    table_sha256: str
    seq: int | None  # the entry appended now, or the one that already publishes these grades
    changed: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "subjects": self.subjects,
            "by_grade": self.by_grade,
            "grades_sha256": self.grades_sha256,
            "rule_table": {"version": self.table_version, "sha256": self.table_sha256},
            "seq": self.seq,
            "changed": self.changed,
        }


@dataclass(frozen=True)
class _Days:
    """Whole-day numbers (days since 1970-01-01) as SQL expressions, local to ``zone``."""

    dialect: str
    zone: str
    offset_minutes: int

    def local(self, moment: Any) -> ColumnElement[int]:
        """The local calendar day of a stored UTC time."""
        if self.dialect == "postgresql":
            return self.of_date(cast(func.timezone(self.zone, moment), Date))
        shifted = func.date(moment, f"{self.offset_minutes:+d} minutes")
        return cast(func.julianday(shifted) - _JULIAN_EPOCH, Integer)

    def of_date(self, day: Any) -> ColumnElement[int]:
        if self.dialect == "postgresql":
            return cast(day - cast(literal(EPOCH.isoformat()), Date), Integer)
        return cast(func.julianday(day) - _JULIAN_EPOCH, Integer)


def _days(session: Session, zone: str, today: date) -> _Days:
    offset = ZoneInfo(zone).utcoffset(datetime.combine(today, time(12)))
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return _Days(session.get_bind().dialect.name, zone, minutes)


def _larger(a: Any, b: Any) -> ColumnElement[int]:
    return case((a > b, a), else_=b)


@dataclass(frozen=True)
class _Window:
    """The twelve months a grading covers, as day numbers, dates and UTC instants."""

    today: date
    zone: str
    days: _Days
    length: int = 365

    @property
    def start_date(self) -> date:
        return self.today - timedelta(days=self.length)

    @property
    def today_n(self) -> int:
        return (self.today - EPOCH).days

    @property
    def start_n(self) -> int:
        return (self.start_date - EPOCH).days

    @property
    def start(self) -> datetime:
        return day_start(self.start_date, self.zone)

    @property
    def now(self) -> datetime:
        """The start of the grading day: the same instant however often a day is graded."""
        return day_start(self.today, self.zone)


# --- equipment facts ------------------------------------------------------------------------


def _unit_base(window: _Window) -> ColumnElement[int]:
    """The day the ledger starts to expect maintenance of a unit: its registration, or its
    installation when that came later.  Before registration the ledger holds no evidence."""
    registered = window.days.local(LedgerEntry.recorded_at)
    return _larger(registered, func.coalesce(window.days.of_date(Equipment.installed_on), registered))


def _overdue_between_visits(session: Session, window: _Window) -> dict[int, int]:
    """Days each unit was overdue before a visit in the window: for consecutive valid records,
    the days the later one came after the earlier one's day plus the interval (15 days, or the
    approved on-demand interval), counted from the window's start at the earliest."""
    day = window.days.local(MaintenanceRecord.check_out)
    visits = (
        select(
            MaintenanceRecord.equipment_id.label("unit"),
            day.label("day"),
            func.lag(day).over(partition_by=MaintenanceRecord.equipment_id, order_by=MaintenanceRecord.check_out)
            .label("before"),
        )
        .where(MaintenanceRecord.amended_by_seq.is_(None))
        .subquery()
    )  # fmt: skip
    interval = func.coalesce(Equipment.on_demand_max_days, INTERVAL_DAYS["half_monthly"])
    late_from = _larger(func.coalesce(visits.c.before, _unit_base(window)) + interval, window.start_n)
    query = (
        select(visits.c.unit, func.sum(visits.c.day - late_from))
        .select_from(visits)
        .join(Equipment, Equipment.id == visits.c.unit)
        .join(LedgerEntry, LedgerEntry.seq == Equipment.created_seq)
        .where(visits.c.day > late_from)
        .group_by(visits.c.unit)
    )
    return {unit: int(total) for unit, total in session.execute(query)}


def _overdue_now(session: Session, window: _Window) -> dict[int, int]:
    """Days an elevator in use is overdue today: since its last valid visit (or since the ledger
    knew it) plus the interval, from the window's start at the earliest."""
    last = (
        select(
            MaintenanceRecord.equipment_id.label("unit"),
            func.max(window.days.local(MaintenanceRecord.check_out)).label("last"),
        )
        .where(MaintenanceRecord.amended_by_seq.is_(None))
        .group_by(MaintenanceRecord.equipment_id)
        .subquery()
    )
    interval = func.coalesce(Equipment.on_demand_max_days, INTERVAL_DAYS["half_monthly"])
    late_from = _larger(func.coalesce(last.c.last, _unit_base(window)) + interval, window.start_n)
    query = (
        select(Equipment.id, window.today_n - late_from)
        .outerjoin(last, last.c.unit == Equipment.id)
        .join(LedgerEntry, LedgerEntry.seq == Equipment.created_seq)
        .where(Equipment.category == "3000", Equipment.status == "in_use", late_from < window.today_n)
    )
    return {unit: int(days) for unit, days in session.execute(query)}


def _count_by(session: Session, key: Any, *conditions: Any) -> dict[Any, int]:
    query = select(key, func.count()).where(*conditions).group_by(key)
    return {value: int(count) for value, count in session.execute(query)}


def _late_hazards(session: Session, window: _Window) -> dict[int, int]:
    """Hazards still open past their deadline, and those of the window closed after it (the
    closing entry is the hazard's last update)."""
    closed_day = window.days.local(LedgerEntry.recorded_at)
    query = (
        select(Hazard.equipment_id, func.count())
        .join(LedgerEntry, LedgerEntry.seq == Hazard.updated_seq)
        .where(
            or_(
                and_(Hazard.status != "closed", Hazard.deadline < window.today),
                and_(
                    Hazard.status == "closed",
                    Hazard.deadline >= window.start_date,
                    closed_day > window.days.of_date(Hazard.deadline),
                ),
            )
        )
        .group_by(Hazard.equipment_id)
    )
    return {unit: int(count) for unit, count in session.execute(query)}


def _unit_facts(session: Session, window: _Window) -> dict[int, dict[str, int]]:
    """Equipment id → rule → count, only for units with something to count."""
    facts: dict[int, dict[str, int]] = defaultdict(dict)
    overdue: Counter[int] = Counter(_overdue_between_visits(session, window))
    overdue.update(_overdue_now(session, window))
    per_rule: dict[str, dict[int, int]] = {
        "maintenance_overdue_days": dict(overdue),
        "inspection_failed": _count_by(
            session, Inspection.equipment_id, Inspection.result == "fail", Inspection.inspected_on >= window.start_date
        ),
        "hazard_late": _late_hazards(session, window),
        "entrapment": _count_by(
            session, Incident.equipment_id, Incident.kind == "entrapment", Incident.reported_at >= window.start
        ),
        "late_arrival": _count_by(
            session, Incident.equipment_id, Incident.late_arrival.is_(True), Incident.reported_at >= window.start
        ),
    }
    for rule, counts in per_rule.items():
        for unit, count in counts.items():
            if count > 0:
                facts[unit][rule] = count
    return facts


# --- business facts -------------------------------------------------------------------------


def _excursions(session: Session, window: _Window) -> dict[str, int]:
    """Batches (GTIN + lot) with a reading outside the product's band in the holder's scans."""
    outside = or_(TemperatureReading.celsius > Product.temp_max_c, TemperatureReading.celsius < Product.temp_min_c)
    held = (
        select(Scan.org_id, Scan.gtin, Scan.lot)
        .join(TemperatureReading, TemperatureReading.scan_id == Scan.id)
        .join(Product, Product.gtin == Scan.gtin)
        .where(TemperatureReading.at >= window.start, outside)
        .distinct()
        .subquery()
    )
    query = select(held.c.org_id, func.count()).group_by(held.c.org_id)
    return {org: int(count) for org, count in session.execute(query)}


def _expired_held(session: Session, window: _Window) -> dict[str, int]:
    query = (
        select(Holding.org_id, func.count())
        .join(Batch, and_(Batch.gtin == Holding.gtin, Batch.lot == Holding.lot))
        .where(Holding.quantity > 0, Batch.expiry_date < window.today)
        .group_by(Holding.org_id)
    )
    return {org: int(count) for org, count in session.execute(query)}


def _business_facts(session: Session, window: _Window) -> dict[str, dict[str, int]]:
    """Organisation id → rule → count for the food rules."""
    per_rule: dict[str, dict[str, int]] = {
        "temperature_excursion": _excursions(session, window),
        "untraced_receipt": _count_by(
            session, Scan.org_id, Scan.action == "receive", or_(Scan.unexpected.is_(True), Scan.uncoded.is_(True)),
            Scan.event_time >= window.start,
        ),
        "shipment_unreceived": _count_by(
            session, Scan.org_id, Scan.action == "ship", Scan.matched_scan_id.is_(None),
            Scan.event_time >= window.start, Scan.event_time < window.now - UNRECEIVED_AFTER,
        ),
        "expired_held": _expired_held(session, window),
    }  # fmt: skip
    facts: dict[str, dict[str, int]] = defaultdict(dict)
    for rule, counts in per_rule.items():
        for org, count in counts.items():
            if count > 0:
                facts[org][rule] = count
    return facts


# --- subjects -------------------------------------------------------------------------------


@dataclass
class _Subjects:
    kind: dict[str, str] = field(default_factory=dict)  # subject → risk.EQUIPMENT or risk.BUSINESS
    grid: dict[str, str | None] = field(default_factory=dict)
    counts: Counts = field(default_factory=dict)


def _org_grids(session: Session) -> dict[str, str]:
    """A business's grid: its first site's, else the first grid of the units it uses or maintains."""
    queries = [
        select(column, func.min(Equipment.grid_code)).where(column.is_not(None)).group_by(column)
        for column in (Equipment.maintenance_org_id, Equipment.user_org_id)
    ]
    queries.append(select(Site.org_id, func.min(Site.grid_code)).group_by(Site.org_id))
    found: dict[str, str] = {}
    for query in queries:  # later queries win: a site says best where a business is
        found.update((org, grid) for org, grid in session.execute(query) if org is not None)
    return found


def _collect(session: Session, window: _Window) -> _Subjects:
    subjects = _Subjects()
    unit_facts = _unit_facts(session, window)
    maintained: dict[str, Counter[str]] = defaultdict(Counter)
    units = session.execute(
        select(Equipment.id, Equipment.code, Equipment.grid_code, Equipment.maintenance_org_id).where(
            Equipment.status != "scrapped"
        )
    )
    for unit_id, code, grid, maintainer in units:
        name, facts = unit_subject(code), unit_facts.get(unit_id, {})
        subjects.kind[name], subjects.grid[name], subjects.counts[name] = risk.EQUIPMENT, grid, facts
        if maintainer:
            maintained[maintainer]["maintained_overdue_days"] += facts.get("maintenance_overdue_days", 0)
            maintained[maintainer]["maintained_late_arrivals"] += facts.get("late_arrival", 0)
    business_facts = _business_facts(session, window)
    grids = _org_grids(session)
    for org_id, roles in session.execute(select(Organisation.id, Organisation.roles)):
        if not risk.GRADED_ROLES.intersection(roles):
            continue
        name = f"org:{org_id}"
        counts = {**business_facts.get(org_id, {}), **{k: v for k, v in maintained[org_id].items() if v > 0}}
        subjects.kind[name], subjects.grid[name], subjects.counts[name] = risk.BUSINESS, grids.get(org_id), counts
    return subjects


# --- grading and publishing -----------------------------------------------------------------


def compute_grades(
    session: Session, today: date, zone: str = DEFAULT_ZONE, table: risk.RuleTable = risk.DEFAULT_TABLE
) -> tuple[list[risk.Grading], dict[str, str | None]]:
    """Every subject's grading, sorted by subject, and each subject's grid."""
    window = _Window(today, zone, _days(session, zone, today), table.window_days)
    subjects = _collect(session, window)
    gradings = [
        risk.grade_subject(name, subjects.kind[name], subjects.counts[name], table) for name in sorted(subjects.kind)
    ]
    return gradings, subjects.grid


def _last_published(session: Session) -> tuple[int, dict[str, Any]] | None:
    query = select(LedgerEntry.seq, LedgerEntry.entry).where(LedgerEntry.kind == GRADED_KIND)
    row = session.execute(query.order_by(LedgerEntry.seq.desc()).limit(1)).first()
    return None if row is None else (row.seq, json.loads(row.entry)["payload"])


def _row(grading: risk.Grading, grid: str | None, today: date, seq: int) -> dict[str, Any]:
    return {
        "subject": grading.subject,
        "grid_code": grid,
        "grade": grading.grade,
        "score": grading.score,
        "reasons": list(grading.reasons),
        "graded_on": today,
        "graded_seq": seq,
    }


def _unchanged(session: Session, rows: list[dict[str, Any]]) -> bool:
    """Whether the stored grades are exactly ``rows`` (the graded_seq aside)."""
    fields = ("grid_code", "grade", "score", "reasons", "graded_on")
    stored = {
        row.subject: tuple(getattr(row, name) for name in fields) for row in session.scalars(select(RiskGrade))
    }
    wanted = {row["subject"]: tuple(row[name] for name in fields) for row in rows}
    return stored == wanted


def _store(session: Session, rows: list[dict[str, Any]]) -> None:
    """Upsert every grade, all pointing at the new entry, and drop subjects no longer graded."""
    existing = set(session.scalars(select(RiskGrade.subject)))
    wanted = {row["subject"] for row in rows}
    if existing - wanted:
        session.execute(delete(RiskGrade).where(RiskGrade.subject.in_(sorted(existing - wanted))))
    updates = [row for row in rows if row["subject"] in existing]
    inserts = [row for row in rows if row["subject"] not in existing]
    if updates:
        session.execute(update(RiskGrade), updates)
    if inserts:
        session.execute(insert(RiskGrade), inserts)
    session.flush()


def grade_all(
    session: Session,
    today: date,
    actor: dict[str, str],
    zone: str = DEFAULT_ZONE,
    table: risk.RuleTable = risk.DEFAULT_TABLE,
) -> GradeSummary:
    """Grade every subject, store the grades and publish them in one ``risk.graded`` entry.

    The append lock is taken first, so two runs at once cannot both publish; a run that finds
    the grades already stored for ``today`` under the same table appends and changes nothing.
    """
    store.lock(session)
    gradings, grids = compute_grades(session, today, zone, table)
    digest = risk.grades_sha256(gradings)
    by_grade = dict.fromkeys(risk.GRADES, 0)
    for grading in gradings:
        by_grade[grading.grade] += 1
    summary = GradeSummary(today, len(gradings), by_grade, digest, table.version, table.sha256(), None, False)
    last = _last_published(session)
    rows = [_row(g, grids.get(g.subject), today, 0) for g in gradings]
    if last is not None and _same_publication(last[1], summary) and _unchanged(session, rows):
        return _replace_seq(summary, last[0], changed=False)
    payload = {
        "date": today.isoformat(),
        "zone": zone,
        "window_days": table.window_days,
        "rule_table": {"version": table.version, "sha256": summary.table_sha256},
        "subjects": summary.subjects,
        "by_grade": summary.by_grade,
        "grades_sha256": digest,
    }
    (appended,) = store.append(session, [store.NewEvent(GRADED_KIND, SUBJECT, actor, payload)])
    _store(session, [{**row, "graded_seq": appended.seq} for row in rows])
    return _replace_seq(summary, appended.seq, changed=True)


def _same_publication(payload: dict[str, Any], summary: GradeSummary) -> bool:
    return bool(
        payload.get("date") == summary.date.isoformat()
        and payload.get("grades_sha256") == summary.grades_sha256
        and payload.get("rule_table", {}).get("sha256") == summary.table_sha256
    )


def _replace_seq(summary: GradeSummary, seq: int, changed: bool) -> GradeSummary:
    return GradeSummary(summary.date, summary.subjects, summary.by_grade, summary.grades_sha256,
                        summary.table_version, summary.table_sha256, seq, changed)  # fmt: skip


# --- reading --------------------------------------------------------------------------------

KINDS = {"org": "org:", "equipment": "equipment:"}


def visible_grades(
    session: Session,
    principal: Principal,
    grid: str | None = None,
    grades: Iterable[str] = (),
    kind: str | None = None,
) -> list[RiskGrade]:
    """Grades the caller may read: an inspector those in its grids (or in ``grid`` within them),
    an admin all, a business only its own; worst first, then by subject."""
    query = select(RiskGrade)
    if "admin" in principal.roles or "inspector" in principal.roles:
        if grid is not None and "admin" not in principal.roles and not in_scope(session, principal, grid):
            raise Forbidden(f"grid {grid} is outside the grids you oversee")
        scope = [grid] if grid is not None else None if "admin" in principal.roles else sorted(principal.scopes)
        if scope is not None:
            query = query.where(RiskGrade.grid_code.in_(sorted(grid_codes_under(session, scope))))
    else:
        query = query.where(RiskGrade.subject == f"org:{principal.org_id}")
    wanted = sorted(set(grades))
    if wanted:
        query = query.where(RiskGrade.grade.in_(wanted))
    if kind is not None:
        query = query.where(RiskGrade.subject.startswith(KINDS[kind], autoescape=True))
    return list(session.scalars(query.order_by(RiskGrade.score.desc(), RiskGrade.subject)))


def grade_json(row: RiskGrade) -> dict[str, Any]:
    return {
        "subject": row.subject,
        "kind": "equipment" if row.subject.startswith("equipment:") else "org",
        "grid_code": row.grid_code,
        "grade": row.grade,
        "score": row.score,
        "reasons": row.reasons,
        "graded_on": row.graded_on.isoformat(),
        "graded_seq": row.graded_seq,
    }

