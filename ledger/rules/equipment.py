"""Equipment rules: overdue maintenance by tier, periodic inspections, unconfirmed records,
hazards past their deadline and late arrivals at entrapments.

Each rule is one or a few set-based queries that return only the flagged units: the
thresholds are turned into UTC instants and dates before the query, so the database compares
indexed columns and the Python side only shapes the rows it gets back.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from ledger.db.tables import Equipment, Hazard, Incident, LedgerEntry, MaintenanceRecord
from ledger.domain import alerts, maintenance
from ledger.domain.alerts import Finding
from ledger.domain.clock import day_start, local_date
from ledger.domain.equipment import subject


def _maintenance_findings(session: Session, rule: str, tier: str, today: date, zone: str) -> list[Finding]:
    """Units in use with no valid visit of ``tier`` or higher since the earliest day that could
    still keep them on time: a ``NOT EXISTS`` per unit on the valid-visits index, then the last
    visit read only for the units kept, and each unit's own interval (on-demand units have a
    longer one) applied to those few rows."""
    tiers = maintenance.TIERS[maintenance.TIERS.index(tier) :]
    # Half-monthly: flagged in the last three days still on time (the due day among them), as
    # maintenance.status counts them; the other tiers only once overdue.
    lead = maintenance.DUE_SOON_DAYS - 1 if tier == "half_monthly" else -1
    flag_from = today + timedelta(days=lead)
    shortest = maintenance.intervals(None)[tier]
    valid = (
        MaintenanceRecord.equipment_id == Equipment.id,
        MaintenanceRecord.tier.in_(tiers),
        MaintenanceRecord.amended_by_seq.is_(None),
    )
    recent = exists().where(
        *valid, MaintenanceRecord.check_out >= day_start(flag_from - timedelta(days=shortest - 1), zone)
    )
    last = select(func.max(MaintenanceRecord.check_out)).where(*valid).correlate(Equipment).scalar_subquery()
    query = (
        select(Equipment, last.label("last"), LedgerEntry.recorded_at)
        .join(LedgerEntry, LedgerEntry.seq == Equipment.created_seq)
        .where(Equipment.category == "3000", Equipment.status == "in_use", ~recent)
    )
    findings = []
    for unit, last_visit, registered in session.execute(query):
        interval = maintenance.intervals(unit.on_demand_max_days)[tier]
        cutoff_day = flag_from - timedelta(days=interval - 1)
        if last_visit is not None:
            if last_visit >= day_start(cutoff_day, zone):
                continue  # an on-demand unit still within its longer interval
            base = local_date(last_visit, zone)
        else:
            base = unit.installed_on or local_date(registered, zone)
            if base >= cutoff_day:
                continue
        due = base + timedelta(days=interval)
        overdue = (today - due).days
        colour = alerts.half_monthly_colour(overdue) if tier == "half_monthly" else alerts.tier_colour(overdue)
        name = maintenance.TIER_NAMES[tier]
        label = f"{unit.code} {name}维保{'将到期' if overdue <= 0 else f'超期 {overdue} 天'}"
        findings.append(_unit_finding(rule, unit, due, colour, overdue, label))
    return findings


def _unit_finding(rule: str, unit: Equipment, due: date, colour: str, overdue: int, label: str,
                  evidence: tuple[int, ...] = ()) -> Finding:  # fmt: skip
    return Finding(
        rule=rule, subject=subject(unit.code), due_date=due, colour=colour, days_overdue=max(0, overdue),
        label=label, grid_code=unit.grid_code, org_id=unit.maintenance_org_id or unit.user_org_id,
        evidence=evidence or (unit.updated_seq,), category=unit.category,
        maintenance_org_id=unit.maintenance_org_id, user_org_id=unit.user_org_id,
    )  # fmt: skip


def half_monthly(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
    return _maintenance_findings(session, "maintenance_half_monthly", "half_monthly", today, zone)


def quarterly(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
    return _maintenance_findings(session, "maintenance_quarterly", "quarterly", today, zone)


def half_yearly(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
    return _maintenance_findings(session, "maintenance_half_yearly", "half_yearly", today, zone)


def yearly(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
    return _maintenance_findings(session, "maintenance_yearly", "yearly", today, zone)


def inspection_due(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
    """Every category: a notice in the month before the next periodic inspection, red from
    the day after it until a pass moves the date."""
    notice = today + timedelta(days=alerts.INSPECTION_NOTICE_DAYS)
    units = session.scalars(
        select(Equipment).where(Equipment.status == "in_use", Equipment.next_inspection_due <= notice)
    )
    findings = []
    for unit in units:
        due = unit.next_inspection_due
        if due is None:
            continue
        overdue = (today - due).days
        when = f"超期 {overdue} 天" if overdue > 0 else f"将于 {due.isoformat()} 到期"
        label = f"{unit.code} 定期检验{when}"
        findings.append(_unit_finding("inspection_due", unit, due, alerts.inspection_colour(overdue), overdue, label))
    return findings


UNCONFIRMED_AFTER = timedelta(hours=24)


def unconfirmed(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
    """Maintenance records the user unit has not confirmed within 24 hours: yellow."""
    rows = session.execute(
        select(MaintenanceRecord, Equipment)
        .join(Equipment, Equipment.id == MaintenanceRecord.equipment_id)
        .where(
            MaintenanceRecord.confirmed_seq.is_(None),
            MaintenanceRecord.amended_by_seq.is_(None),
            MaintenanceRecord.check_out < now - UNCONFIRMED_AFTER,
        )
    )
    findings = []
    for record, unit in rows:
        due = local_date(record.check_out + UNCONFIRMED_AFTER, zone)
        label = f"{unit.code} 维保记录 #{record.seq} 使用单位未确认"
        finding = _unit_finding(
            "maintenance_unconfirmed", unit, due, "yellow", (today - due).days, label, (record.seq,)
        )
        findings.append(replace(finding, subject=f"maintenance:{record.seq}", org_id=unit.user_org_id))
    return findings


def hazard_overdue(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
    """Hazards past their deadline and not closed, in their (escalated) colour."""
    rows = session.execute(
        select(Hazard, Equipment)
        .join(Equipment, Equipment.id == Hazard.equipment_id)
        .where(Hazard.status != "closed", Hazard.deadline < today)
    )
    findings = []
    for hazard, unit in rows:
        overdue = (today - hazard.deadline).days
        label = f"{unit.code} 隐患整改超期 {overdue} 天：{hazard.description[:60]}"
        finding = _unit_finding("hazard_overdue", unit, hazard.deadline, hazard.colour, overdue, label,
                                (hazard.opened_seq, hazard.updated_seq))  # fmt: skip
        findings.append(replace(finding, subject=f"hazard:{hazard.opened_seq}", org_id=hazard.responsible_org_id))
    return findings


def entrapment_late(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
    """Entrapments reached later than the region's target: a violation, red."""
    rows = session.execute(
        select(Incident, Equipment)
        .join(Equipment, Equipment.id == Incident.equipment_id)
        .where(Incident.kind == "entrapment", Incident.late_arrival.is_(True))
    )
    findings = []
    for incident, unit in rows:
        day = local_date(incident.reported_at, zone)
        label = f"{unit.code} 困人救援超时到场（目标 {incident.arrival_target_minutes} 分钟）"
        finding = _unit_finding("entrapment_late", unit, day, "red", 0, label, (incident.reported_seq,))
        findings.append(replace(finding, subject=f"incident:{incident.reported_seq}"))
    return findings
