"""``/api/v1/equipment``: the registry, inspections, faults and entrapments, hazards, and what
the public sees through the QR code in the car."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from api import context
from api.auth import current_principal
from api.requests import client_event_id, csv_response, json_object, query_format
from ledger.db.tables import Equipment, Hazard, Incident, MaintenanceRecord
from ledger.domain import maintenance
from ledger.domain.access import Forbidden, require_any_role
from ledger.domain.clock import local_date, parse_date
from ledger.domain.equipment import equipment_spec
from ledger.domain.inspection import arrival_targets, incident_report, inspection_spec
from ledger.domain.orgs import ROLES
from ledger.domain.scans import parse_time
from ledger.errors import InvalidEntry, NotFound
from ledger.labels import qr_png, qr_svg
from ledger.services import equipment as registry
from ledger.services import hazards, inspections
from ledger.services import maintenance as upkeep
from ledger.services.grids import in_scope
from ledger.services.signing import signed_actor

blueprint = Blueprint("equipment", __name__, url_prefix="/api/v1")
REGISTRARS = ("admin", "inspector", "equipment_user")
STATUS_COLUMNS = (
    "code", "emergency_code", "address", "grid_code", "status", "user_org_id", "maintenance_org_id",
    "maintenance_due", "maintenance_status", "days_overdue", "inspection_due", "inspection_status",
)  # fmt: skip


def _today() -> date:
    return local_date(datetime.now(UTC), context.settings().time_zone)


def equipment_json(unit: Equipment) -> dict[str, Any]:
    fields = ("code", "category", "kind", "registration_number", "factory_number", "emergency_code", "address",
              "grid_code", "user_org_id", "maintenance_org_id", "status", "on_demand_max_days", "created_seq",
              "updated_seq")  # fmt: skip
    data = {field: getattr(unit, field) for field in fields}
    for field in ("contract_end", "installed_on", "next_inspection_due"):
        value = getattr(unit, field)
        data[field] = value.isoformat() if value else None
    data["qr_url"] = f"{context.settings().public_url}/e/{unit.code}"
    return data


def hazard_json(hazard: Hazard) -> dict[str, Any]:
    return {
        "hazard_seq": hazard.opened_seq,
        "grid_code": hazard.grid_code,
        "source": hazard.source,
        "source_seq": hazard.source_seq,
        "level": hazard.level,
        "colour": hazard.colour,
        "description": hazard.description,
        "responsible_org_id": hazard.responsible_org_id,
        "deadline": hazard.deadline.isoformat(),
        "status": hazard.status,
        "supervised": hazard.supervised,
        "assignee_user_id": hazard.assignee_user_id,
        "escalations": hazard.escalations,
        "updated_seq": hazard.updated_seq,
        "closed_by_seq": hazard.closed_by_seq,
    }


def incident_json(incident: Incident) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "incident_seq": incident.reported_seq,
        "kind": incident.kind,
        "reported_via": incident.reported_via,
        "reported_at": iso(incident.reported_at),
        "people_trapped": incident.people_trapped,
        "dispatched_at": iso(incident.dispatched_at),
        "arrived_at": iso(incident.arrived_at),
        "released_at": iso(incident.released_at),
        "cause": incident.cause,
        "arrival_target_minutes": incident.arrival_target_minutes,
        "late_arrival": incident.late_arrival,
        "updated_seq": incident.updated_seq,
    }


@blueprint.post("/equipment")
def register_equipment() -> tuple[Response, int]:
    principal = require_any_role(current_principal(), REGISTRARS)
    body = json_object()
    retry_key = client_event_id(body)
    spec = equipment_spec(body, context.settings().emergency_code_pattern)
    with context.writing() as session:
        registry.may_register(session, principal, spec)
        unit = registry.register_equipment(session, spec, principal.actor, retry_key)
        return jsonify(equipment_json(unit)), 201


@blueprint.put("/equipment/<code>")
def update_equipment(code: str) -> Response:
    principal = require_any_role(current_principal(), REGISTRARS)
    body = json_object()
    retry_key = client_event_id(body)
    spec = equipment_spec({"code": code, **body}, context.settings().emergency_code_pattern)
    with context.writing() as session:
        unit = registry.get_equipment(session, code)
        registry.may_register(session, principal, spec)
        if principal.org_id == unit.user_org_id or principal.has_any(("admin", "inspector")):
            return jsonify(equipment_json(registry.update_equipment(session, unit, spec, principal.actor, retry_key)))
        raise Forbidden("only the unit's user unit, an inspector of its grid or an admin may change it")


@blueprint.get("/equipment/<code>")
def show_equipment(code: str) -> Response:
    require_any_role(current_principal(), ROLES)
    with context.reading() as session:
        return jsonify(equipment_json(registry.get_equipment(session, code)))


@blueprint.get("/equipment/<code>/history")
def equipment_history(code: str) -> Response:
    """Every entry about the unit with its seq: fetch ``/api/v1/ledger/proofs/inclusion`` for any."""
    with context.reading() as session:
        unit = registry.get_equipment(session, code)
        return jsonify({"code": unit.code, "events": registry.history(session, unit)})


@blueprint.post("/equipment/<code>/inspections")
def record_inspection(code: str) -> tuple[Response, int]:
    principal = require_any_role(current_principal(), ("inspection_agency", "maintenance"))
    body = json_object()
    retry_key = client_event_id(body)
    today = _today()
    spec = inspection_spec(body, today)
    with context.writing() as session:
        unit = registry.get_equipment(session, code)
        found = inspections.record_inspection(session, unit, spec, principal, today, retry_key)
        opened = session.scalars(select(Hazard).where(Hazard.source_seq == found.seq)).all()
        return jsonify({"seq": found.seq, "result": found.result, "hazards": [hazard_json(h) for h in opened]}), 201


@blueprint.post("/equipment/<code>/incidents")
def report_incident(code: str) -> tuple[Response, int]:
    principal = require_any_role(current_principal(), ("equipment_user", "maintenance", "admin"))
    body = json_object()
    retry_key = client_event_id(body)
    report = incident_report(body, datetime.now(UTC))
    settings = context.settings()
    with context.writing() as session:
        unit = registry.get_equipment(session, code)
        incident = inspections.report_incident(
            session, unit, report, principal, _today(), arrival_targets(settings.arrival_targets), retry_key
        )
        return jsonify(incident_json(incident)), 201


@blueprint.post("/equipment/<code>/incidents/<int:incident_seq>/<step>")
def incident_step(code: str, incident_seq: int, step: str) -> Response:
    """``dispatched``, ``arrived`` or ``released`` (with the cause), at ``at`` (default: now)."""
    principal = require_any_role(current_principal(), ("equipment_user", "maintenance", "admin"))
    body = json_object(optional=True)
    now = datetime.now(UTC)
    at = parse_time(body["at"], "at", now) if body.get("at") else now
    with context.writing() as session:
        unit = registry.get_equipment(session, code)
        incident = inspections.get_incident(session, incident_seq)
        if incident.equipment_id != unit.id:
            raise InvalidEntry(f"incident {incident_seq} is not on unit {code}")
        updated = inspections.record_step(session, unit, incident, step, at, principal, _today(), body.get("cause"))
        return jsonify(incident_json(updated))


@blueprint.post("/equipment/<code>/hazards")
def open_hazard(code: str) -> tuple[Response, int]:
    """An inspector records a hazard found on a visit (source ``inspector_visit``)."""
    principal = require_any_role(current_principal(), ("inspector",))
    body = json_object()
    with context.writing() as session:
        unit = registry.get_equipment(session, code)
        if not in_scope(session, principal, unit.grid_code):
            raise Forbidden(f"unit {code} is outside the grids you oversee")
        deadline = body.get("deadline")
        spec = hazards.hazard_spec(
            source="inspector_visit",
            level=body.get("level", "general"),
            colour=body.get("colour"),
            description=body.get("description"),
            responsible_org_id=body.get("responsible_org_id") or unit.user_org_id,
            today=_today(),
            deadline=parse_date(deadline, "deadline") if deadline else None,
            evidence=_hashes(body.get("evidence")),
        )
        return jsonify(hazard_json(hazards.open_hazard(session, unit, spec, principal.actor))), 201


@blueprint.post("/hazards/<int:hazard_seq>/transitions")
def move_hazard(hazard_seq: int) -> Response:
    """Move a hazard on: ``{"to": "issued" | "rectifying" | "to_verify" | "closed", ...}``; issuing
    may give ``deadline`` and ``responsible_org_id``; a retry with the same ``client_event_id``
    (or ``Idempotency-Key``) moves it once."""
    principal = require_any_role(current_principal(), ROLES)
    body = json_object()
    retry_key = client_event_id(body)
    notice = None
    if body.get("deadline") or body.get("responsible_org_id"):
        deadline = parse_date(body["deadline"], "deadline") if body.get("deadline") else None
        notice = hazards.Notice(deadline, body.get("responsible_org_id"))
    with context.writing() as session:
        hazard = hazards.get_hazard(session, hazard_seq)
        moved = hazards.transition(
            session, hazard, str(body.get("to")), principal, body.get("note"), _hashes(body.get("evidence")),
            body.get("satisfied_by_seq"), notice=notice, today=_today(), client_event_id=retry_key,
        )  # fmt: skip
        return jsonify(hazard_json(moved))


def _only_fields(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidEntry(f"unknown field(s): {', '.join(unknown)}")


@blueprint.post("/hazards/<int:hazard_seq>/supervision")
def supervise_hazard(hazard_seq: int) -> tuple[Response, int]:
    """List a hazard for supervised rectification (挂牌督办) or lift it: ``{"supervised", "reason"}``."""
    principal = require_any_role(current_principal(), ROLES)
    body = json_object()
    retry_key = client_event_id(body)
    _only_fields(body, {"supervised", "reason"})
    with context.writing() as session:
        hazard = hazards.get_hazard(session, hazard_seq)
        supervised, reason = body.get("supervised"), body.get("reason")
        changed = hazards.set_supervised(session, hazard, principal, supervised, reason, retry_key)
        return jsonify(hazard_json(changed)), 201


@blueprint.post("/hazards/<int:hazard_seq>/assignment")
def assign_hazard(hazard_seq: int) -> tuple[Response, int]:
    """Give a hazard to a person of the inspector's bureau to follow up: ``{"assignee_user_id", "note"}``."""
    principal = require_any_role(current_principal(), ROLES)
    body = json_object()
    retry_key = client_event_id(body)
    _only_fields(body, {"assignee_user_id", "note"})
    with context.writing() as session:
        hazard = hazards.get_hazard(session, hazard_seq)
        assigned = hazards.assign(session, hazard, principal, body.get("assignee_user_id"), body.get("note"), retry_key)
        return jsonify(hazard_json(assigned)), 201


def _hashes(value: Any) -> list[str]:
    if value is None:
        return []
    if (
        not isinstance(value, list)
        or len(value) > 20
        or not all(isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v) for v in value)
    ):
        raise InvalidEntry("evidence must be a list of up to 20 SHA-256 hex digests of photos or documents")
    return value


@blueprint.get("/public/equipment/<code>")
def public_equipment(code: str) -> Response:
    with context.reading() as session:
        unit = registry.get_equipment(session, code)
        return jsonify(registry.public_equipment(session, unit, _today()))


@blueprint.post("/public/equipment/<code>/reports")
def public_report(code: str) -> tuple[Response, int]:
    """No login: a short description and an optional contact; answers with a reference number."""
    body = json_object()
    if set(body) - {"description", "contact"}:
        raise InvalidEntry("send description and, if you like, contact; nothing else")
    with context.writing() as session:
        unit = registry.get_equipment(session, code)
        report, _ = registry.public_report(
            session, unit, body.get("description"), body.get("contact"), datetime.now(UTC)
        )
        return jsonify({"reference": report.reference, "seq": report.seq}), 201


@blueprint.get("/equipment")
def list_equipment() -> Response:
    """Units in the caller's view (inspectors: their grids; businesses: their own), filterable by grid."""
    principal = require_any_role(current_principal(), ROLES)
    wanted = request.args.get("status")
    if wanted not in (None, "overdue", "due_soon", "ok", "never"):
        raise InvalidEntry("status must be overdue, due_soon, ok or never")
    export = query_format("json", "csv")
    with context.reading() as session:
        units = registry.visible_equipment(session, principal, request.args.get("grid") or None)
        rows = registry.status_rows(session, units, _today(), context.settings().time_zone)
    if wanted:
        rows = [r for r in rows if wanted in (r["maintenance_status"], r["inspection_status"])]
    if export == "csv":
        return csv_response(rows, list(STATUS_COLUMNS), "equipment.csv")
    return jsonify({"equipment": rows})


def record_json(row: MaintenanceRecord) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "tier": row.tier,
        "check_in": row.check_in.isoformat(),
        "check_out": row.check_out.isoformat(),
        "faults": row.faults,
        "amends_seq": row.amends_seq,
        "amended_by_seq": row.amended_by_seq,
        "confirmed_seq": row.confirmed_seq,
        "confirmed_at": row.confirmed_at.isoformat() if row.confirmed_at else None,
    }


@blueprint.post("/equipment/<code>/check-in")
def check_in(code: str) -> tuple[Response, int]:
    """A maintenance company scans the unit's QR on arrival; ``at`` defaults to now."""
    principal = require_any_role(current_principal(), ("maintenance",))
    body = json_object(optional=True)
    retry_key = client_event_id(body)
    now = datetime.now(UTC)
    at = parse_time(body["at"], "at", now) if body.get("at") else now
    with context.writing() as session:
        unit = registry.get_equipment(session, code)
        visit = upkeep.check_in(session, unit, principal, at, _today(), retry_key)
        return jsonify(
            {"seq": visit.check_in_seq, "check_in": visit.check_in.isoformat(), "checklists": _checklists()}
        ), 201


def _checklists() -> dict[str, list[str]]:
    return {tier: [item.code for item in maintenance.checklist(tier)] for tier in maintenance.TIERS}


@blueprint.get("/maintenance/checklists/<tier>")
def checklist(tier: str) -> Response:
    """The TSG T5002 items a visit of ``tier`` must answer (the lower tiers' included)."""
    return jsonify(
        {"tier": tier, "source": maintenance.source(), "items": [vars(i) for i in maintenance.checklist(tier)]}
    )


@blueprint.post("/equipment/<code>/maintenance")
def record_maintenance(code: str) -> tuple[Response, int]:
    """The record at check-out (or a correction with ``amends_seq``)."""
    principal = require_any_role(current_principal(), ("maintenance",))
    body = json_object()
    if "Idempotency-Key" in request.headers:
        body.setdefault("client_event_id", request.headers["Idempotency-Key"])
    spec = maintenance.maintenance_spec(body, datetime.now(UTC))
    with context.writing() as session:
        unit = registry.get_equipment(session, code)
        row = upkeep.record(session, unit, spec, principal, _today())
        opened = session.scalars(select(Hazard).where(Hazard.source_seq == row.seq)).all()
        return jsonify({**record_json(row), "hazards": [hazard_json(h) for h in opened]}), 201


@blueprint.post("/equipment/<code>/maintenance/<int:seq>/confirmation")
def confirm_maintenance(code: str, seq: int) -> Response:
    """The user unit's safety manager confirms a record; the body may carry the organisation's
    Ed25519 signature over the confirmation payload."""
    principal = require_any_role(current_principal(), ("equipment_user",))
    body = json_object()
    now = datetime.now(UTC)
    with context.writing() as session:
        unit = registry.get_equipment(session, code)
        row = upkeep.get_record(session, seq)
        payload = upkeep.confirmation_payload(unit, row, body.get("safety_manager"), now)
        actor = signed_actor(session, principal, payload, body.get("signature"))
        return jsonify(
            record_json(upkeep.confirm(session, unit, row, principal, actor, body.get("safety_manager"), now))
        )


@blueprint.get("/equipment/<code>/maintenance")
def maintenance_clocks(code: str) -> Response:
    """The unit's records (newest first) and its maintenance clocks per tier."""
    require_any_role(current_principal(), ROLES)
    with context.reading() as session:
        unit = registry.get_equipment(session, code)
        rows = session.scalars(
            select(MaintenanceRecord)
            .where(MaintenanceRecord.equipment_id == unit.id)
            .order_by(MaintenanceRecord.check_out.desc())
        ).all()
        return jsonify(
            {
                "clocks": upkeep.clocks(session, unit, _today(), context.settings().time_zone),
                "records": [record_json(r) for r in rows],
            }
        )


@blueprint.get("/equipment/<code>/qr.<fmt>")
def equipment_qr(code: str, fmt: str) -> Response:
    """The unit's QR code for the car wall and maintenance check-in: ``{public host}/e/{code}``."""
    if fmt not in ("png", "svg"):
        raise NotFound("the QR code comes as qr.png or qr.svg")
    with context.reading() as session:
        unit = registry.get_equipment(session, code)
    link = f"{context.settings().public_url}/e/{unit.code}"
    if fmt == "png":
        return Response(qr_png(link), mimetype="image/png")
    return Response(qr_svg(link), mimetype="image/svg+xml")
