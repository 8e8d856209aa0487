"""Maintenance visits by QR scan (TSG T5002): check in, record at check-out, confirmation by
the user unit, corrections as amendments; and each unit's maintenance clocks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import Equipment, MaintenanceRecord, MaintenanceVisit
from ledger.domain import equipment as rules
from ledger.domain import maintenance
from ledger.domain.access import Forbidden, Principal
from ledger.domain.clock import DEFAULT_ZONE, local_date
from ledger.domain.custody import CustodyViolation
from ledger.domain.orgs import validate_text
from ledger.errors import InvalidEntry, NotFound
from ledger.services import hazards
from ledger.services.inspections import require_contracted

CHECK_IN_TOLERANCE = timedelta(minutes=1)  # the record repeats the check-in time it was given


class NotCheckedIn(CustodyViolation):
    """A record at check-out with no check-in on that unit: the visit is not proven."""

    title = "Not checked in"
    type = "not-checked-in"


def open_visit(session: Session, unit: Equipment, org_id: str) -> MaintenanceVisit | None:
    query = select(MaintenanceVisit).where(
        MaintenanceVisit.equipment_id == unit.id,
        MaintenanceVisit.org_id == org_id,
        MaintenanceVisit.record_seq.is_(None),
    )
    return session.scalars(query.order_by(MaintenanceVisit.check_in.desc())).first()


def check_in(
    session: Session, unit: Equipment, principal: Principal, at: datetime, today: date, client_event_id: str | None
) -> MaintenanceVisit:
    """Scanning the unit's QR on arrival: a ``maintenance.checked_in`` entry opens the visit."""
    require_contracted(unit, principal, today)
    payload = {"equipment_code": unit.code, "check_in": at.isoformat()}
    event = store.NewEvent(
        "maintenance.checked_in", rules.subject(unit.code), principal.actor, payload, client_event_id
    )
    (appended,) = store.append(session, [event])
    if appended.replayed:
        visit = session.scalars(select(MaintenanceVisit).where(MaintenanceVisit.check_in_seq == appended.seq)).first()
        if visit is None:
            raise NotFound(f"check-in {appended.seq} has no visit row")
        return visit
    if open_visit(session, unit, principal.org_id) is not None:
        raise InvalidEntry(f"you are already checked in at unit {unit.code}: check out (record the visit) first")
    visit = MaintenanceVisit(equipment_id=unit.id, org_id=principal.org_id, check_in=at, check_in_seq=appended.seq)
    session.add(visit)
    session.flush()
    return visit


def _original(session: Session, unit: Equipment, spec: maintenance.MaintenanceSpec, org_id: str) -> MaintenanceRecord:
    original = session.scalars(select(MaintenanceRecord).where(MaintenanceRecord.seq == spec.amends_seq)).first()
    if original is None or original.equipment_id != unit.id:
        raise InvalidEntry(f"entry {spec.amends_seq} is not a maintenance record of unit {unit.code}")
    if original.org_id != org_id:
        raise Forbidden("only the company that made a record may correct it")
    if original.amended_by_seq is not None:
        raise InvalidEntry(f"record {spec.amends_seq} was already corrected by {original.amended_by_seq}: amend that")
    return original


def record(
    session: Session, unit: Equipment, spec: maintenance.MaintenanceSpec, principal: Principal, today: date
) -> MaintenanceRecord:
    """The record made at check-out (``maintenance.recorded``).  It closes the open visit; a
    correction (``amends_seq``) instead replaces an earlier record, which then counts no more.
    Faults that ask for it open hazards in the same transaction."""
    require_contracted(unit, principal, today)
    payload = {**spec.payload(), "equipment_code": unit.code}
    event = store.NewEvent(spec.kind, rules.subject(unit.code), principal.actor, payload, spec.client_event_id)
    previous = store.previous_appends(session, {(principal.org_id, spec.client_event_id)})
    if previous:
        (appended,) = store.append(session, [event])  # the same record again, or a conflict
        return get_record(session, appended.seq)
    visit, original = None, None
    if spec.amends_seq is not None:
        original = _original(session, unit, spec, principal.org_id)
    else:
        visit = open_visit(session, unit, principal.org_id)
        if visit is None:
            raise NotCheckedIn(f"no check-in at unit {unit.code}: scan the unit's QR code on arrival first")
        if abs(visit.check_in - spec.check_in) > CHECK_IN_TOLERANCE:
            raise InvalidEntry(
                f"check_in {spec.check_in.isoformat()} is not your check-in at {visit.check_in.isoformat()}"
            )
    (appended,) = store.append(session, [event])
    row = MaintenanceRecord(
        seq=appended.seq, equipment_id=unit.id, org_id=principal.org_id, tier=spec.tier, check_in=spec.check_in,
        check_out=spec.check_out, faults=len(spec.faults), amends_seq=spec.amends_seq,
    )  # fmt: skip
    session.add(row)
    if visit is not None:
        visit.record_seq = appended.seq
    if original is not None:
        original.amended_by_seq = appended.seq
        row.confirmed_seq, row.confirmed_at = None, None
    for fault in spec.faults:
        if fault.open_hazard:
            opened = hazards.hazard_spec(
                source="maintenance", level=fault.level, description=fault.description,
                responsible_org_id=unit.user_org_id, today=today, source_seq=appended.seq,
            )  # fmt: skip
            hazards.open_hazard(session, unit, opened, principal.actor)
    session.flush()
    return row


def get_record(session: Session, seq: int) -> MaintenanceRecord:
    found = session.scalars(select(MaintenanceRecord).where(MaintenanceRecord.seq == seq)).first()
    if found is None:
        raise NotFound(f"there is no maintenance record at seq {seq}")
    return found


def confirm(
    session: Session, unit: Equipment, row: MaintenanceRecord, principal: Principal, actor: dict[str, str],
    safety_manager: Any, at: datetime,
) -> MaintenanceRecord:  # fmt: skip
    """The user unit's safety manager confirms the record (``maintenance.confirmed``); the
    organisation's signature, when it signs, is in the entry's actor."""
    if principal.org_id != unit.user_org_id:
        raise Forbidden(f"only the user unit of {unit.code} confirms its maintenance records")
    if row.equipment_id != unit.id:
        raise InvalidEntry(f"record {row.seq} is not about unit {unit.code}")
    if row.amended_by_seq is not None:
        raise InvalidEntry(f"record {row.seq} was corrected by {row.amended_by_seq}: confirm the correction")
    if row.confirmed_seq is not None:
        raise InvalidEntry(f"record {row.seq} was already confirmed (entry {row.confirmed_seq})")
    payload = confirmation_payload(unit, row, safety_manager, at)
    (appended,) = store.append(
        session, [store.NewEvent("maintenance.confirmed", rules.subject(unit.code), actor, payload)]
    )
    row.confirmed_seq, row.confirmed_at = appended.seq, at
    session.flush()
    return row


def confirmation_payload(unit: Equipment, row: MaintenanceRecord, safety_manager: Any, at: datetime) -> dict[str, Any]:
    return {
        "equipment_code": unit.code,
        "record_seq": row.seq,
        "safety_manager": validate_text(safety_manager, "safety_manager", 100),
        "confirmed_at": at.isoformat(),
    }


def last_by_tier(session: Session, unit_ids: list[int], zone: str = DEFAULT_ZONE) -> dict[int, dict[str, date | None]]:
    """For each unit, the local date of its last valid visit of each tier (a corrected record
    counts through its correction only)."""
    query = (
        select(MaintenanceRecord.equipment_id, MaintenanceRecord.tier, func.max(MaintenanceRecord.check_out))
        .where(MaintenanceRecord.equipment_id.in_(unit_ids), MaintenanceRecord.amended_by_seq.is_(None))
        .group_by(MaintenanceRecord.equipment_id, MaintenanceRecord.tier)
    )
    found: dict[int, dict[str, date | None]] = {uid: dict.fromkeys(maintenance.TIERS) for uid in unit_ids}
    for unit_id, tier, last in session.execute(query):
        moment = last if last.tzinfo else last.replace(tzinfo=UTC)  # SQLite's max() returns naive text
        found[unit_id][tier] = local_date(moment, zone)
    return found


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def clocks(session: Session, unit: Equipment, today: date, zone: str = DEFAULT_ZONE) -> dict[str, Any]:
    """The unit's maintenance clocks: last visit, next due date and status per tier.  A unit
    never maintained counts from its installation date."""
    last = last_by_tier(session, [unit.id], zone)[unit.id]
    due = maintenance.due_dates(last, unit.on_demand_max_days)
    days = maintenance.intervals(unit.on_demand_max_days)
    result = {}
    for tier in maintenance.TIERS:
        next_due = due[tier]
        if next_due is None and unit.installed_on is not None:
            next_due = unit.installed_on + timedelta(days=days[tier])
        status = maintenance.status(next_due, today) if next_due else "never"
        result[tier] = {"last": _iso(last[tier]), "due": _iso(next_due), "status": status}
    return result
