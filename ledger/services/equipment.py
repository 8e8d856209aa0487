"""The equipment registry: registering and updating units (each an entry), finding a unit by
its equipment code or 96333 code, its full history with entry seqs, and lists by grid."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import Equipment, Grid, Hazard, MaintenanceRecord, Organisation, PublicReport
from ledger.domain import maintenance
from ledger.domain.access import Forbidden, Principal
from ledger.domain.clock import local_date
from ledger.domain.equipment import CATEGORIES, EquipmentSpec, subject
from ledger.domain.orgs import validate_text
from ledger.errors import InvalidEntry, NotFound
from ledger.services import hazards
from ledger.services import maintenance as upkeep
from ledger.services.grids import grid_codes_under, in_scope
from ledger.services.orgs import AlreadyExists

PUBLIC_ACTOR = {"org": "public"}  # a report from the public page: no organisation stands behind it


def get_equipment(session: Session, code: str) -> Equipment:
    """A unit by its equipment code, or by its 96333 emergency code (what a caller reads out)."""
    unit = session.scalars(
        select(Equipment).where(or_(Equipment.code == code, Equipment.emergency_code == code))
    ).first()
    if unit is None:
        raise NotFound(f"there is no equipment with code {code}")
    return unit


def may_register(session: Session, principal: Principal, spec: EquipmentSpec) -> None:
    """Admins; inspectors for units in their grids; a user unit (使用单位) for its own units."""
    if "admin" in principal.roles:
        return
    if "inspector" in principal.roles and in_scope(session, principal, spec.grid_code):
        return
    if "equipment_user" in principal.roles and spec.user_org_id == principal.org_id:
        return
    raise Forbidden("only an admin, an inspector of its grid or its own user unit may register or change a unit")


def _check_references(session: Session, spec: EquipmentSpec) -> None:
    if session.get(Grid, spec.grid_code) is None:
        raise InvalidEntry(f"unknown grid code {spec.grid_code}")
    for org_id, role in ((spec.user_org_id, "equipment_user"), (spec.maintenance_org_id, "maintenance")):
        if org_id is None:
            continue
        org = session.get(Organisation, org_id)
        if org is None:
            raise NotFound(f"there is no organisation {org_id}")
        if role not in org.roles:
            raise InvalidEntry(f"organisation {org_id} does not have the {role} role")
    if spec.emergency_code is not None:
        holder = session.scalars(select(Equipment.code).where(Equipment.emergency_code == spec.emergency_code)).first()
        if holder is not None and holder != spec.code:
            raise AlreadyExists(f"emergency code {spec.emergency_code} is already on unit {holder}")


def register_equipment(
    session: Session, spec: EquipmentSpec, actor: dict[str, str], client_event_id: str | None = None
) -> Equipment:
    _check_references(session, spec)
    event = store.NewEvent("equipment.registered", subject(spec.code), actor, spec.payload(), client_event_id)
    (appended,) = store.append(session, [event])
    if appended.replayed:
        return get_equipment(session, spec.code)
    if session.scalars(select(Equipment.id).where(Equipment.code == spec.code)).first() is not None:
        raise AlreadyExists(f"equipment {spec.code} is already registered")
    unit = Equipment(**spec.__dict__, created_seq=appended.seq, updated_seq=appended.seq)
    session.add(unit)
    session.flush()
    return unit


def update_equipment(
    session: Session, unit: Equipment, spec: EquipmentSpec, actor: dict[str, str], client_event_id: str | None = None
) -> Equipment:
    """An ``equipment.updated`` entry with the whole new registry record (a new maintenance
    contract, a stop, scrapping): the history keeps every version."""
    if spec.code != unit.code:
        raise InvalidEntry("the equipment code of a unit cannot change; register the new unit")
    _check_references(session, spec)
    event = store.NewEvent("equipment.updated", subject(spec.code), actor, spec.payload(), client_event_id)
    (appended,) = store.append(session, [event])
    if not appended.replayed:
        for key, value in spec.__dict__.items():
            setattr(unit, key, value)
        unit.updated_seq = appended.seq
        session.flush()
    return unit


def history(session: Session, unit: Equipment) -> list[dict[str, Any]]:
    """Every entry about the unit in ledger order, each with its seq for an inclusion proof."""
    return [
        {"seq": seq, "kind": kind, "actor_org": actor, "recorded_at": recorded.isoformat()}
        for seq, kind, actor, recorded in store.entries_about(session, subject(unit.code))
    ]


def new_reference() -> str:
    """A short reference a caller can read out on the phone: no 0/O or 1/I to confuse."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "R" + "".join(secrets.choice(alphabet) for _ in range(8))


def public_report(
    session: Session, unit: Equipment, description: Any, contact: Any, now: datetime
) -> tuple[PublicReport, Hazard]:
    """A problem reported from the public page: an entry (without the contact, which only the
    bureau sees) and a hazard at 发现 for an inspector of the grid to triage."""
    text = validate_text(description, "description", 1000)
    reachable = None if contact in (None, "") else validate_text(contact, "contact", 200)
    reference = new_reference()
    payload = {"equipment_code": unit.code, "reference": reference, "description": text}
    (appended,) = store.append(session, [store.NewEvent("public.reported", subject(unit.code), PUBLIC_ACTOR, payload)])
    spec = hazards.hazard_spec(
        source="public_report", level="general", description=text, responsible_org_id=unit.user_org_id,
        today=now.date(), source_seq=appended.seq,
    )  # fmt: skip
    hazard = hazards.open_hazard(session, unit, spec, PUBLIC_ACTOR)
    report = PublicReport(reference=reference, equipment_id=unit.id, description=text, contact=reachable,
                          seq=appended.seq, reported_at=now, hazard_id=hazard.id)  # fmt: skip
    session.add(report)
    session.flush()
    return report, hazard


def visible_equipment(session: Session, principal: Principal, grid_code: str | None = None) -> list[Equipment]:
    """Units a principal may list: admins all, inspectors their grids, a user unit or a
    maintenance company the units it uses or maintains."""
    query = select(Equipment).order_by(Equipment.grid_code, Equipment.code)
    if "admin" not in principal.roles:
        if "inspector" in principal.roles:
            covered = grid_codes_under(session, principal.scopes)
            if grid_code is not None and grid_code not in covered:
                raise Forbidden(f"grid {grid_code} is outside the grids you oversee")
            query = query.where(Equipment.grid_code.in_(sorted(covered)))
        else:
            query = query.where(
                or_(Equipment.user_org_id == principal.org_id, Equipment.maintenance_org_id == principal.org_id)
            )
    if grid_code is not None:
        query = query.where(Equipment.grid_code.in_(sorted(grid_codes_under(session, [grid_code]))))
    return list(session.scalars(query))


INSPECTION_NOTICE_DAYS = 30  # the user unit asks for the periodic inspection a month ahead


def inspection_status(due: date | None, today: date) -> str:
    if due is None:
        return "unknown"
    if due < today:
        return "overdue"
    return "due_soon" if (due - today).days <= INSPECTION_NOTICE_DAYS else "ok"


def public_equipment(session: Session, unit: Equipment, today: date) -> dict[str, Any]:
    """What the QR code in the car shows anyone: who is responsible, when it was last
    maintained and inspected, what is due, the emergency code, and open hazards; with the seq
    of each fact for a proof.  No people, no phone numbers but the public hotline."""
    names = dict(
        session.execute(
            select(Organisation.id, Organisation.name).where(
                Organisation.id.in_([unit.user_org_id, unit.maintenance_org_id or ""])
            )
        ).all()
    )
    last = session.scalars(
        select(MaintenanceRecord)
        .where(MaintenanceRecord.equipment_id == unit.id, MaintenanceRecord.amended_by_seq.is_(None))
        .order_by(MaintenanceRecord.check_out.desc())
    ).first()
    open_hazards = session.scalar(
        select(func.count()).select_from(Hazard).where(Hazard.equipment_id == unit.id, Hazard.status != "closed")
    )
    zh, en = CATEGORIES[unit.category]
    return {
        "code": unit.code,
        "category": {"code": unit.category, "zh": zh, "en": en},
        "kind": unit.kind,
        "address": unit.address,
        "status": unit.status,
        "user_unit": names.get(unit.user_org_id),
        "maintenance_company": names.get(unit.maintenance_org_id or ""),
        "last_maintenance": {"date": local_date(last.check_out).isoformat(), "tier": last.tier, "seq": last.seq}
        if last
        else None,
        "maintenance": upkeep.clocks(session, unit, today),
        "inspection_valid_until": unit.next_inspection_due.isoformat() if unit.next_inspection_due else None,
        "inspection_status": inspection_status(unit.next_inspection_due, today),
        "emergency_code": unit.emergency_code,
        "hotline": "96333",
        "open_hazards": int(open_hazards or 0),
        "registered_seq": unit.created_seq,
        "updated_seq": unit.updated_seq,
    }


STATUS_ORDER = {"overdue": 0, "due_soon": 1, "never": 2, "unknown": 2, "ok": 3}


def status_rows(session: Session, units: list[Equipment], today: date, zone: str) -> list[dict[str, Any]]:
    """Each unit with its half-monthly maintenance and inspection status, worst first: the
    list an inspector works down ("维保超期清零")."""
    last = upkeep.last_by_tier(session, [u.id for u in units], zone)
    rows = []
    for unit in units:
        due = maintenance_due(unit, last[unit.id])
        rows.append(
            {
                "code": unit.code,
                "emergency_code": unit.emergency_code,
                "address": unit.address,
                "grid_code": unit.grid_code,
                "status": unit.status,
                "user_org_id": unit.user_org_id,
                "maintenance_org_id": unit.maintenance_org_id,
                "maintenance_due": due.isoformat() if due else None,
                "maintenance_status": upkeep_status(due, today),
                "days_overdue": max(0, (today - due).days) if due else None,
                "inspection_due": unit.next_inspection_due.isoformat() if unit.next_inspection_due else None,
                "inspection_status": inspection_status(unit.next_inspection_due, today),
            }
        )
    rows.sort(key=_worst_first)
    return rows


def _worst_first(row: dict[str, Any]) -> tuple[int, int, str]:
    rank = min(STATUS_ORDER[row["maintenance_status"]], STATUS_ORDER[row["inspection_status"]])
    return rank, -int(row["days_overdue"] or 0), str(row["code"])


def maintenance_due(unit: Equipment, last: dict[str, date | None]) -> date | None:
    """The half-monthly clock (the one the law sets): from the last visit of any tier, else
    from installation."""
    due = maintenance.due_dates(last, unit.on_demand_max_days)["half_monthly"]
    if due is None and unit.installed_on is not None:
        due = unit.installed_on + timedelta(days=maintenance.intervals(unit.on_demand_max_days)["half_monthly"])
    return due


def upkeep_status(due: date | None, today: date) -> str:
    return maintenance.status(due, today) if due else "never"
