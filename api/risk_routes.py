"""``/api/v1/risk`` and ``/api/v1/draws``: risk grades (信用分级分类) and random inspection draws
(双随机、一公开) — announced, performed with the next checkpoint's root as seed, results
recorded, and everything public at ``/api/v1/public/draws/{seq}``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from api import context
from api.auth import current_principal
from api.openapi import BEARER, _json, _problem_responses, with_exports
from api.requests import csv_response, json_object
from ledger.domain import risk
from ledger.domain.access import Forbidden, require_any_role
from ledger.domain.orgs import ROLES
from ledger.errors import InvalidEntry
from ledger.services import draws
from ledger.services import risk as grading
from ledger.services.grids import in_scope

blueprint = Blueprint("risk", __name__, url_prefix="/api/v1")
GRADE_COLUMNS = ["subject", "kind", "grid_code", "grade", "score", "reasons", "graded_on", "graded_seq"]
DRAW_FIELDS = {"grid_code", "n", "weights", "inspectors_per_subject", "pool", "kind"}


def _grades_filter() -> tuple[list[str], str | None]:
    grades = [g for g in request.args.get("grade", "").split(",") if g]
    unknown = sorted(set(grades) - set(risk.GRADES))
    if unknown:
        raise InvalidEntry(f"grade must be chosen from {', '.join(risk.GRADES)}; unknown: {', '.join(unknown)}")
    kind = request.args.get("kind")
    if kind is not None and kind not in grading.KINDS:
        raise InvalidEntry(f"kind must be one of {', '.join(grading.KINDS)}")
    return grades, kind


def _csv_row(row: dict[str, Any]) -> dict[str, Any]:
    reasons = "; ".join(f"{r['rule']} ×{r['count']:g} = {r['points']:g}" for r in row["reasons"])
    return {**row, "reasons": reasons}


@blueprint.get("/risk/grades")
def list_grades() -> Response:
    """Inspectors: the grades in their grids (``grid`` narrows); a business: its own grade."""
    principal = require_any_role(current_principal(), ROLES)
    grades, kind = _grades_filter()
    export = request.args.get("format")
    if export not in (None, "json", "csv"):
        raise InvalidEntry("format must be json or csv")
    with context.reading() as session:
        rows = grading.visible_grades(session, principal, request.args.get("grid") or None, grades, kind)
        found = [grading.grade_json(row) for row in rows]
    if export == "csv":
        return csv_response([_csv_row(row) for row in found], GRADE_COLUMNS, "risk-grades.csv")
    table = risk.DEFAULT_TABLE
    return jsonify({"rule_table": {"version": table.version, "sha256": table.sha256()}, "grades": found})


@blueprint.get("/risk/rules")
def rule_table() -> Response:
    """The rule table every grade is computed with, and its SHA-256 as ``risk.graded`` names it."""
    table = risk.DEFAULT_TABLE
    return jsonify({**table.as_dict(), "sha256": table.sha256()})


@blueprint.post("/draws")
def announce_draw() -> tuple[Response, int]:
    principal = require_any_role(current_principal(), ("inspector",))
    body = json_object()
    if "seed" in body:
        raise InvalidEntry(
            "a draw takes no seed: it is the root hash of the first checkpoint signed after the announcement"
        )
    unknown = sorted(set(body) - DRAW_FIELDS)
    if unknown:
        raise InvalidEntry(f"unknown field(s): {', '.join(unknown)}; send {', '.join(sorted(DRAW_FIELDS))}")
    grid_code = body.get("grid_code")
    if not isinstance(grid_code, str) or not grid_code:
        raise InvalidEntry("grid_code is required")
    with context.writing() as session:
        drawn = draws.announce(
            session, principal, grid_code, body.get("n"), body.get("weights"), body.get("inspectors_per_subject"),
            body.get("pool"), body.get("kind"),
        )  # fmt: skip
        return jsonify(draws.public_draw(session, drawn)), 201


@blueprint.post("/draws/<int:seq>/perform")
def perform_draw(seq: int) -> Response:
    """Possible once a checkpoint has been signed after the announcement (409 until then)."""
    principal = require_any_role(current_principal(), ("inspector", "admin"))
    with context.writing() as session:
        drawn = draws.get_draw(session, seq)
        if "admin" not in principal.roles and not in_scope(session, principal, drawn.grid_code):
            raise Forbidden(f"grid {drawn.grid_code} is outside the grids you oversee")
        return jsonify(draws.public_draw(session, draws.perform(session, drawn, principal.actor)))


@blueprint.post("/draws/<int:seq>/results")
def record_result(seq: int) -> tuple[Response, int]:
    """``{"subject", "result": compliant | non_compliant | not_found, "note"}`` by the assigned
    inspectors' organisation."""
    principal = require_any_role(current_principal(), ("inspector",))
    body = json_object()
    unknown = sorted(set(body) - {"subject", "result", "note"})
    if unknown:
        raise InvalidEntry(f"unknown field(s): {', '.join(unknown)}; send subject, result and note")
    with context.writing() as session:
        drawn = draws.get_draw(session, seq)
        row = draws.record_result(session, principal, drawn, body.get("subject"), body.get("result"), body.get("note"))
        return jsonify(
            {"subject": row.subject, "result": row.result, "note": row.note, "recorded_seq": row.recorded_seq}
        ), 201


@blueprint.get("/public/draws/<int:seq>")
def public_draw(seq: int) -> Response:
    """一公开: inputs, seed checkpoint, outcome and results; names, never contact details."""
    with context.reading() as session:
        return jsonify(draws.public_draw(session, draws.get_draw(session, seq)))


@blueprint.get("/public/draws/<int:seq>/verification")
def verify_draw(seq: int) -> Response:
    """The draw redone from the ledger and the signed checkpoint, compared with what was recorded."""
    verifier = context.signer().verifier()
    with context.reading() as session:
        return jsonify(draws.verify(session, seq, verifier).as_dict())


def _query(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema or {"type": "string"}}


def _operation(summary: str, *problems: int, params: list[Any] | None = None, body: dict[str, Any] | None = None,
               public: bool = False, ok: str = "200") -> dict[str, Any]:  # fmt: skip
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": params or [],
        "responses": {ok: _json({"type": "object"}), **_problem_responses(*problems)},
    }
    if not public:
        operation["security"] = BEARER
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


SEQ = {"name": "seq", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
GRADE_LETTER = {"enum": list(risk.GRADES)}
DRAW_BODY = {
    "type": "object",
    "required": ["grid_code", "n", "pool"],
    "additionalProperties": False,
    "properties": {
        "grid_code": {"type": "string"},
        "n": {"type": "integer", "minimum": 1, "maximum": 1000},
        "weights": {"type": "object", "description": "integer weight per grade; default A 1, B 2, C 4, D 8",
                    "properties": {g: {"type": "integer", "minimum": 0, "maximum": 1000} for g in risk.GRADES}},
        "inspectors_per_subject": {"type": "integer", "minimum": 1, "maximum": 10, "default": 2},
        "kind": {"enum": list(grading.KINDS)},
        "pool": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["id", "name"],
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "org_id": {"type": "string"}}}},
    },
}  # fmt: skip
RESULT_BODY = {
    "type": "object",
    "required": ["subject", "result"],
    "properties": {"subject": {"type": "string"}, "result": {"enum": list(draws.RESULTS)}, "note": {"type": "string"}},
}
OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/risk/grades": {
        "get": _operation("Risk grades A (low) to D (high) with their reasons: inspectors see their grids, a business "
                          "its own grade; format=csv", 401, 403, 422,
                          params=[_query("grid"), _query("grade", {"type": "string", "description": "e.g. C,D"}),
                                  _query("kind", {"enum": list(grading.KINDS)}),
                                  _query("format", {"enum": ["json", "csv"]})])
    },
    "/api/v1/risk/rules": {
        "get": _operation("The risk rule table (points per fact, caps, grade thresholds) and its SHA-256", public=True)
    },
    "/api/v1/draws": {
        "post": _operation("Announce a random inspection draw in a grid (a draw.announced entry with every input); "
                           "no seed: it is the root of the next signed checkpoint", 400, 401, 403, 404, 415, 422,
                           body=DRAW_BODY, ok="201")
    },
    "/api/v1/draws/{seq}/perform": {
        "post": _operation("Perform an announced draw with the first checkpoint signed after it as seed; 409 while "
                           "waiting for that checkpoint", 401, 403, 404, 409, params=[SEQ])
    },
    "/api/v1/draws/{seq}/results": {
        "post": _operation("Record the inspection result for a drawn subject (the assigned inspectors' organisation)",
                           400, 401, 403, 404, 409, 415, 422, params=[SEQ], body=RESULT_BODY, ok="201")
    },
    "/api/v1/public/draws/{seq}": {
        "get": _operation("一公开: a draw's inputs, seed checkpoint, outcome and results", 404, params=[SEQ],
                          public=True)
    },
    "/api/v1/public/draws/{seq}/verification": {
        "get": _operation("A draw redone from the ledger and the signed checkpoint, compared with the recorded outcome",
                          404, params=[SEQ], public=True)
    },
}  # fmt: skip
with_exports(OPENAPI_PATHS["/api/v1/risk/grades"]["get"], "text/csv")
