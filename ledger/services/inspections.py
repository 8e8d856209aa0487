"""Inspections and incidents of a unit, each an entry with its rows; defects and failed
inspections open hazards in the same transaction, late arrivals are recorded as violations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import Equipment, Grid, Incident, Inspection
from ledger.domain import equipment as rules
from ledger.domain.access import Forbidden, Principal
from ledger.domain.inspection import (
    IncidentReport,
    InspectionSpec,
    arrival_target,
    late_minutes,
    step_order,
)
from ledger.domain.orgs import validate_text
from ledger.errors import InvalidEntry, NotFound
from ledger.services import hazards


def is_contracted(unit: Equipment, org_id: str, today: date) -> bool:
    """Whether ``org_id`` is the unit's maintenance company with a contract still running."""
    return unit.maintenance_org_id == org_id and unit.contract_end is not None and unit.contract_end >= today


def require_contracted(unit: Equipment, principal: Principal, today: date) -> None:
    if "maintenance" not in principal.roles or not is_contracted(unit, principal.org_id, today):
        raise Forbidden(f"organisation {principal.org_id} holds no running maintenance contract for unit {unit.code}")


def record_inspection(
    session: Session, unit: Equipment, spec: InspectionSpec, principal: Principal, today: date,
    client_event_id: str | None = None,
) -> Inspection:  # fmt: skip
    """Periodic inspections and self-tests come from an inspection agency; the yearly
    self-inspection from the contracted maintenance company."""
    if spec.kind == "annual_self_inspection":
        require_contracted(unit, principal, today)
    elif "inspection_agency" not in principal.roles:
        raise Forbidden("periodic inspections and self-tests are recorded by an inspection agency")
    event = store.NewEvent(
        "inspection.recorded", rules.subject(unit.code), principal.actor, spec.payload(unit.code), client_event_id
    )
    (appended,) = store.append(session, [event])
    if appended.replayed:
        found = session.scalars(select(Inspection).where(Inspection.seq == appended.seq)).first()
        if found is None:
            raise NotFound(f"inspection entry {appended.seq} has no row")
        return found
    inspection = Inspection(
        seq=appended.seq, equipment_id=unit.id, org_id=principal.org_id, kind=spec.kind,
        inspected_on=spec.inspected_on, result=spec.result, report_number=spec.report_number, next_due=spec.next_due,
    )  # fmt: skip
    session.add(inspection)
    if spec.result != "fail" and spec.kind != "annual_self_inspection" and spec.next_due is not None:
        unit.next_inspection_due = spec.next_due
    for defect in spec.defects:
        opened = hazards.hazard_spec(
            source="inspection", level=defect["level"], description=defect["description"],
            responsible_org_id=unit.user_org_id, today=today, source_seq=appended.seq,
        )  # fmt: skip
        hazards.open_hazard(session, unit, opened, principal.actor)
    if spec.result == "fail" and unit.status == "in_use":
        failed = hazards.hazard_spec(
            source="inspection", level="major", today=today, source_seq=appended.seq,
            description=f"定期检验不合格仍在使用 (failed inspection, still in use): report {spec.report_number}",
            responsible_org_id=unit.user_org_id,
        )  # fmt: skip
        hazards.open_hazard(session, unit, failed, principal.actor)
    session.flush()
    return inspection


# --- incidents --------------------------------------------------------------------------------


def _may_handle(unit: Equipment, principal: Principal, today: date) -> None:
    if principal.org_id == unit.user_org_id or "admin" in principal.roles:
        return
    require_contracted(unit, principal, today)


def _grid_path(session: Session, code: str) -> list[str]:
    path: list[str] = []
    current: str | None = code
    while current is not None and len(path) < 10:
        path.append(current)
        current = session.scalars(select(Grid.parent_code).where(Grid.code == current)).first()
    return path


def report_incident(
    session: Session, unit: Equipment, report: IncidentReport, principal: Principal, today: date,
    targets: dict[str, int], client_event_id: str | None = None,
) -> Incident:  # fmt: skip
    _may_handle(unit, principal, today)
    target = arrival_target(_grid_path(session, unit.grid_code), targets)
    payload = {**report.payload(unit.code), "arrival_target_minutes": target}
    event = store.NewEvent("incident.reported", rules.subject(unit.code), principal.actor, payload, client_event_id)
    (appended,) = store.append(session, [event])
    if appended.replayed:
        return get_incident(session, appended.seq)
    incident = Incident(
        equipment_id=unit.id, kind=report.kind, reported_via=report.reported_via, reported_at=report.reported_at,
        reported_seq=appended.seq, people_trapped=report.people_trapped, arrival_target_minutes=target,
        late_arrival=False, updated_seq=appended.seq,
    )  # fmt: skip
    session.add(incident)
    session.flush()
    return incident


def get_incident(session: Session, reported_seq: int) -> Incident:
    incident = session.scalars(select(Incident).where(Incident.reported_seq == reported_seq)).first()
    if incident is None:
        raise NotFound(f"there is no incident reported at seq {reported_seq}")
    return incident


def record_step(
    session: Session, unit: Equipment, incident: Incident, step: str, at: datetime, principal: Principal,
    today: date, cause: object = None,
) -> Incident:  # fmt: skip
    """Dispatched, arrived or released.  An entrapment reached later than its target gets an
    ``incident.late_arrival`` entry too: the violation itself is on the record."""
    _may_handle(unit, principal, today)
    done = {"reported": incident.reported_at, "dispatched": incident.dispatched_at,
            "arrived": incident.arrived_at, "released": incident.released_at}  # fmt: skip
    step_order(step, done, at)
    if step == "released" and cause in (None, ""):
        raise InvalidEntry("a release states the cause")
    cause_text = validate_text(cause, "cause", 2000) if step == "released" else None
    payload = {"incident_seq": incident.reported_seq, "step": step, "at": at.isoformat(), "cause": cause_text}
    events = [store.NewEvent(f"incident.{step}", rules.subject(unit.code), principal.actor, payload)]
    late = late_minutes(incident.reported_at, at, incident.arrival_target_minutes) if step == "arrived" else 0
    if late and incident.kind == "entrapment":
        violation = {"incident_seq": incident.reported_seq, "target_minutes": incident.arrival_target_minutes,
                     "minutes_late": late, "maintenance_org_id": unit.maintenance_org_id}  # fmt: skip
        events.append(store.NewEvent("incident.late_arrival", rules.subject(unit.code), principal.actor, violation))
    appended = store.append(session, events)
    setattr(incident, f"{step}_at", at)
    incident.updated_seq = appended[-1].seq
    if late and incident.kind == "entrapment":
        incident.late_arrival = True
    if step == "released":
        incident.cause = cause_text
    session.flush()
    return incident
