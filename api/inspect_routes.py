"""``/api/v1/inspect``: the inspector's lists — alerts in one's grids, worst first, with filters,
paging and stamped CSV/XLSX exports; acting on an alert; and the per-grid summary."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from api import context
from api.auth import current_principal
from api.openapi import BEARER, XLSX, _json, _problem_responses, with_exports
from api.requests import csv_response, json_object, query_choices, query_int
from ledger.db.tables import Alert
from ledger.domain.access import require_any_role
from ledger.domain.alerts import COLOURS, STATUSES
from ledger.domain.clock import local_date, parse_date
from ledger.errors import InvalidEntry
from ledger.exports import xlsx_table
from ledger.rules import RULES
from ledger.services import inspect
from ledger.services.alerts import OPEN

blueprint = Blueprint("inspect", __name__, url_prefix="/api/v1/inspect")
VIEWERS = ("inspector", "admin")
COLUMNS = ["raised_seq", "rule", "rule_zh", "label", "subject", "grid_code", "colour", "status", "due_date",
           "days_overdue", "opened_at", "org_id", "maintenance_org_id", "user_org_id", "evidence", "hazard_seq",
           "resolved_seq", "satisfied_by_seq"]  # fmt: skip


def alert_json(alert: Alert) -> dict[str, Any]:
    rule = RULES.get(alert.rule)
    return {
        "raised_seq": alert.raised_seq,
        "rule": alert.rule,
        "rule_zh": rule.title_zh if rule else alert.rule,
        "rule_en": rule.title_en if rule else alert.rule,
        "label": alert.label,
        "subject": alert.subject,
        "grid_code": alert.grid_code,
        "colour": alert.colour,
        "status": alert.status,
        "due_date": alert.due_date.isoformat(),
        "days_overdue": alert.days_overdue,
        "opened_at": alert.opened_at.isoformat(),
        "org_id": alert.org_id,
        "category": alert.category,
        "maintenance_org_id": alert.maintenance_org_id,
        "user_org_id": alert.user_org_id,
        "evidence": alert.evidence,
        "hazard_seq": alert.hazard_seq,
        "updated_seq": alert.updated_seq,
        "resolved_seq": alert.resolved_seq,
        "satisfied_by_seq": alert.satisfied_by_seq,
    }


def _date(name: str) -> date | None:
    value = request.args.get(name)
    return parse_date(value, name) if value else None


def filter_from_query() -> inspect.AlertFilter:
    """The alert filter from the query string: the API and the desk page read the same one."""
    statuses = query_choices("status", (*STATUSES, "all"))
    return inspect.AlertFilter(
        grid=request.args.get("grid") or None,
        rules=query_choices("rule", RULES),
        colours=query_choices("colour", COLOURS),
        statuses=() if "all" in statuses else statuses or OPEN,
        category=request.args.get("category") or None,
        maintenance_org_id=request.args.get("maintenance_org_id") or None,
        user_org_id=request.args.get("user_org_id") or None,
        due_from=_date("due_from"),
        due_to=_date("due_to"),
        sort=request.args.get("sort", "days_overdue"),
    )


def _stamp(wanted: inspect.AlertFilter, now: datetime) -> str:
    return f"安链 Anlian alerts, {now.isoformat(timespec='seconds')}; filters: {wanted.describe() or 'none'}"


def _export(rows: list[dict[str, Any]], wanted: inspect.AlertFilter, kind: str) -> Response:
    """A spreadsheet of every matching alert, its first line saying when and with which filters."""
    now = datetime.now(UTC)
    stamp = _stamp(wanted, now)
    name = f"alerts-{now.strftime('%Y%m%d-%H%M')}"
    flat = [{c: " ".join(map(str, v)) if isinstance(v := row[c], list) else v for c in COLUMNS} for row in rows]
    if kind == "csv":
        return csv_response(flat, COLUMNS, f"{name}.csv", stamp)
    data = xlsx_table(COLUMNS, ([row[c] for c in COLUMNS] for row in flat), "alerts", stamp)
    response = Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


@blueprint.get("/alerts")
def list_alerts() -> Response:
    principal = require_any_role(current_principal(), VIEWERS)
    wanted = filter_from_query()
    export = request.args.get("format")
    if export not in (None, "json", "csv", "xlsx"):
        raise InvalidEntry("format must be json, csv or xlsx")
    # Checked for an export too, which has every page: a bad value is refused, never ignored.
    page, per_page = query_int("page", 1, 10**6), query_int("per_page", 100, inspect.MAX_PER_PAGE)
    with context.reading() as session:
        if export in ("csv", "xlsx"):
            return _export([alert_json(a) for a in inspect.all_alerts(session, principal, wanted)], wanted, export)
        found, total = inspect.list_alerts(session, principal, wanted, page, per_page)
        return jsonify({"total": total, "page": page, "per_page": per_page, "alerts": [alert_json(a) for a in found]})


def _act(raised_seq: int, action: str) -> Response:
    principal = require_any_role(current_principal(), VIEWERS)
    body = json_object(optional=True)
    now = datetime.now(UTC)
    with context.writing() as session:
        alert = inspect.get_alert(session, principal, raised_seq)
        if action == "acknowledge":
            alert = inspect.acknowledge(session, alert, principal, body.get("note"), now)
        elif action == "assign":
            alert = inspect.assign(session, alert, principal, body, local_date(now, context.settings().time_zone))
        else:
            alert = inspect.close(session, alert, principal, body.get("satisfied_by_seq"), now)
        return jsonify(alert_json(alert))


@blueprint.post("/alerts/<int:raised_seq>/acknowledge")
def acknowledge(raised_seq: int) -> Response:
    return _act(raised_seq, "acknowledge")


@blueprint.post("/alerts/<int:raised_seq>/assign")
def assign(raised_seq: int) -> Response:
    """Create a hazard for the unit (level, deadline, description) or link one (hazard_seq)."""
    return _act(raised_seq, "assign")


@blueprint.post("/alerts/<int:raised_seq>/close")
def close(raised_seq: int) -> Response:
    """Close only through a satisfying entry (``satisfied_by_seq``) about the same unit or batch."""
    return _act(raised_seq, "close")


@blueprint.get("/summary")
def summary() -> Response:
    principal = require_any_role(current_principal(), VIEWERS)
    settings = context.settings()
    today = local_date(datetime.now(UTC), settings.time_zone)
    with context.reading() as session:
        return jsonify(inspect.summary(session, principal, request.args.get("grid") or None, today, settings.time_zone))


def _query(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema or {"type": "string"}}


def _operation(summary: str, *problems: int, params: list[Any] | None = None, post: bool = False) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "security": BEARER,
        "parameters": params or [],
        "responses": {"200": _json({"type": "object"}), **_problem_responses(401, 403, 422, *problems)},
    }
    if post:
        operation["responses"].update(_problem_responses(400, 415))
        operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}}
    return operation


SEQ = {"name": "raised_seq", "in": "path", "required": True, "schema": {"type": "integer"}}
OPENAPI_PATHS = {
    "/api/v1/inspect/alerts": {
        "get": _operation(
            "Alerts in the caller's grids, worst first; filters, paging, format=csv|xlsx stamped with the filters",
            params=[_query(n) for n in ("grid", "rule", "colour", "status", "category", "maintenance_org_id",
                                        "user_org_id", "due_from", "due_to", "sort", "format")]
            + [_query("page", {"type": "integer", "minimum": 1}),
               _query("per_page", {"type": "integer", "minimum": 1, "maximum": 500})],
        )
    },
    "/api/v1/inspect/alerts/{raised_seq}/acknowledge": {
        "post": _operation("Acknowledge an alert (an alert.acknowledged entry)", 404, params=[SEQ], post=True)
    },
    "/api/v1/inspect/alerts/{raised_seq}/assign": {
        "post": _operation("Assign an equipment alert to a new or existing hazard", 404, params=[SEQ], post=True)
    },
    "/api/v1/inspect/alerts/{raised_seq}/close": {
        "post": _operation("Close an alert through a satisfying entry (satisfied_by_seq)", 404, params=[SEQ], post=True)
    },
    "/api/v1/inspect/summary": {
        "get": _operation("Open alerts by rule and colour and the 30-day trend of open alerts", params=[_query("grid")])
    },
}  # fmt: skip
with_exports(OPENAPI_PATHS["/api/v1/inspect/alerts"]["get"], "text/csv", XLSX)
