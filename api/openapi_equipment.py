"""The OpenAPI description of the special-equipment operations (``/api/v1/equipment`` and the
hazard loop) and of EPCIS capture and query, merged into ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from api.openapi import BEARER, SIGNATURE, _json, _problem_responses, with_exports

CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
OBJECT = {"type": "object"}


def _op(summary: str, *problems: int, params: list[Any] | None = None, body: dict[str, Any] | None = None,
        public: bool = False, ok: str = "200", media: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    """``media``: the success answer's types when it is not ``application/json``."""
    schemas = {m: OBJECT if m.endswith("json") else {"type": "string"} for m in media}
    success = {"description": "ok", "content": {m: {"schema": schema} for m, schema in schemas.items()}}
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": [CODE] if params is None else params,
        "responses": {ok: success if media else _json(OBJECT), **_problem_responses(*problems)},
    }
    if not public:
        operation["security"] = BEARER
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


WRITE = (400, 401, 403, 404, 409, 415, 422)
EQUIPMENT = {
    "type": "object",
    "required": ["code", "category", "kind", "registration_number", "address", "grid_code", "user_org_id"],
    "properties": {
        "code": {"type": "string", "description": "设备代码"},
        "category": {"enum": ["1000", "2000", "3000", "4000", "5000", "6000", "8000", "9000"]},
        "kind": {"type": "string"},
        "registration_number": {"type": "string", "description": "使用登记证号"},
        "factory_number": {"type": "string"},
        "emergency_code": {"type": "string", "description": "96333 code"},
        "address": {"type": "string"},
        "grid_code": {"type": "string"},
        "user_org_id": {"type": "string"},
        "maintenance_org_id": {"type": "string"},
        "contract_end": {"type": "string", "format": "date"},
        "status": {"enum": ["in_use", "stopped", "scrapped"]},
        "installed_on": {"type": "string", "format": "date"},
        "next_inspection_due": {"type": "string", "format": "date"},
        "on_demand_max_days": {"type": "integer"},
    },
}
INCIDENT_STEP = [
    CODE,
    {"name": "incident_seq", "in": "path", "required": True, "schema": {"type": "integer"}},
    {"name": "step", "in": "path", "required": True, "schema": {"enum": ["dispatched", "arrived", "released"]}},
]
SEQ = {"name": "seq", "in": "path", "required": True, "schema": {"type": "integer"}}
HAZARD_SEQ = {"name": "hazard_seq", "in": "path", "required": True, "schema": {"type": "integer"}}

EPCIS_PATHS: dict[str, Any] = {
    "/api/v1/epcis/capture": {
        "post": _op("Capture an EPCIS 2.0 JSON-LD EPCISDocument (ObjectEvents: shipping, receiving, storing, "
                    "retail_selling, destroying with sensor reports; TransformationEvents) as our scans, all or "
                    "nothing; errors name the event's index", *WRITE, params=[], ok="201",
                    body={"type": "object", "required": ["type", "epcisBody"]})
    },
    "/api/v1/epcis/events": {
        "get": _op("Our events as an EPCIS 2.0 document with CBV 2.0 event hash ids; filters as the EPCIS query "
                   "interface; next page in the Link header", 401, 403, 422, params=[
                       {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                       for name in ("MATCH_epc", "MATCH_epcClass", "MATCH_anyEPC", "MATCH_anyEPCClass",
                                    "EQ_bizStep", "GE_eventTime", "LT_eventTime")
                   ] + [
                       {"name": "perPage", "in": "query", "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                       {"name": "nextPageToken", "in": "query", "required": False, "schema": {"type": "integer"}},
                   ], media=("application/ld+json",))
    },
}  # fmt: skip

EQUIPMENT_PATHS: dict[str, Any] = {
    "/api/v1/equipment": {
        "post": _op(
            "Register a unit (admins, inspectors of its grid, its user unit)",
            *WRITE,
            params=[],
            body=EQUIPMENT,
            ok="201",
        ),
        "get": _op(
            "Units in the caller's view with maintenance and inspection status, worst first; filter by "
            "grid and status, format=csv for a spreadsheet",
            401,
            403,
            422,
            params=[
                {"name": "grid", "in": "query", "required": False, "schema": {"type": "string"}},
                {
                    "name": "status",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": ["overdue", "due_soon", "ok", "never"]},
                },
                {"name": "format", "in": "query", "required": False, "schema": {"enum": ["json", "csv"]}},
            ],
        ),
    },  # fmt: skip
    "/api/v1/equipment/{code}": {
        "get": _op("One unit's registry record", 401, 403, 404),
        "put": _op("Change a unit's registry record (an equipment.updated entry)", *WRITE, body=OBJECT),
    },
    "/api/v1/equipment/{code}/history": {
        "get": _op("Every entry about the unit with its seq, for inclusion proofs", 404, public=True)
    },
    "/api/v1/equipment/{code}/qr.{fmt}": {
        "get": _op(
            "The unit's QR code ({public host}/e/{code}), png or svg",
            404,
            public=True,
            params=[CODE, {"name": "fmt", "in": "path", "required": True, "schema": {"enum": ["png", "svg"]}}],
            media=("image/png", "image/svg+xml"),
        )
    },  # fmt: skip
    "/api/v1/equipment/{code}/check-in": {
        "post": _op("Check in by scanning the unit's QR (the contracted maintenance company)", *WRITE, ok="201")
    },
    "/api/v1/equipment/{code}/maintenance": {
        "post": _op(
            "The maintenance record at check-out, or a correction with amends_seq (TSG T5002)",
            *WRITE,
            body={
                "type": "object",
                "required": ["client_event_id", "tier", "check_in", "check_out", "technicians", "items"],
            },
            ok="201",
        ),
        "get": _op("The unit's maintenance records and its clocks per tier", 401, 403, 404),
    },  # fmt: skip
    "/api/v1/equipment/{code}/maintenance/{seq}/confirmation": {
        "post": _op(
            "The user unit's safety manager confirms a record (may be signed)",
            *WRITE,
            params=[CODE, SEQ],
            body={
                "type": "object",
                "required": ["safety_manager"],
                "properties": {"safety_manager": {"type": "string"}, "signature": SIGNATURE},
            },
        )
    },  # fmt: skip
    "/api/v1/maintenance/checklists/{tier}": {
        "get": _op(
            "The TSG T5002 checklist of a tier, lower tiers included",
            422,
            public=True,
            params=[
                {
                    "name": "tier",
                    "in": "path",
                    "required": True,
                    "schema": {"enum": ["half_monthly", "quarterly", "half_yearly", "yearly"]},
                }
            ],
        )
    },  # fmt: skip
    "/api/v1/equipment/{code}/inspections": {
        "post": _op(
            "An inspection result (agency) or the yearly self-inspection (maintenance company); defects "
            "and a failed inspection of a unit in use open hazards",
            *WRITE,
            body=OBJECT,
            ok="201",
        )
    },  # fmt: skip
    "/api/v1/equipment/{code}/incidents": {
        "post": _op("Report a fault or an entrapment (困人)", *WRITE, body=OBJECT, ok="201")
    },
    "/api/v1/equipment/{code}/incidents/{incident_seq}/{step}": {
        "post": _op(
            "Dispatched, arrived (late arrivals are recorded as violations) or released (with the cause)",
            *WRITE,
            params=INCIDENT_STEP,
        )
    },  # fmt: skip
    "/api/v1/equipment/{code}/hazards": {
        "post": _op("An inspector records a hazard found on a visit", *WRITE, body=OBJECT, ok="201")
    },
    "/api/v1/hazards/{hazard_seq}/transitions": {
        "post": _op(
            "Move a hazard on: issued (optionally with deadline and responsible_org_id), rectifying, to_verify "
            "(with evidence), closed (with satisfied_by_seq); a retry with the same client_event_id moves it once",
            *WRITE,
            params=[{"name": "hazard_seq", "in": "path", "required": True, "schema": {"type": "integer"}}],
            body={
                "type": "object",
                "required": ["to"],
                "properties": {
                    "to": {"type": "string", "enum": ["issued", "rectifying", "to_verify", "closed"]},
                    "note": {"type": "string", "maxLength": 2000},
                    "evidence": {"type": "array", "items": {"type": "string"}},
                    "satisfied_by_seq": {"type": "integer"},
                    "deadline": {"type": "string", "format": "date"},
                    "responsible_org_id": {"type": "string"},
                    "client_event_id": {"type": "string", "maxLength": 200},
                },
            },
        )
    },  # fmt: skip
    "/api/v1/hazards/{hazard_seq}/supervision": {
        "post": _op(
            "List a hazard for supervised rectification (挂牌督办) or lift it, with the reason (inspectors of "
            "its grid; not once closed; a request that changes nothing is refused)",
            *WRITE,
            params=[HAZARD_SEQ],
            ok="201",
            body={
                "type": "object",
                "required": ["supervised", "reason"],
                "properties": {
                    "supervised": {"type": "boolean"},
                    "reason": {"type": "string", "maxLength": 2000},
                    "client_event_id": {"type": "string", "maxLength": 200},
                },
                "additionalProperties": False,
            },
        )
    },  # fmt: skip
    "/api/v1/hazards/{hazard_seq}/assignment": {
        "post": _op(
            "Give a hazard to a person of the inspector's own bureau to follow up, or to another one; the "
            "entry names the person by account number only",
            *WRITE,
            params=[HAZARD_SEQ],
            ok="201",
            body={
                "type": "object",
                "required": ["assignee_user_id"],
                "properties": {
                    "assignee_user_id": {"type": "integer", "minimum": 1},
                    "note": {"type": "string", "maxLength": 2000},
                    "client_event_id": {"type": "string", "maxLength": 200},
                },
                "additionalProperties": False,
            },
        )
    },  # fmt: skip
    "/api/v1/public/equipment/{code}": {
        "get": _op("What the QR code in the car shows anyone (equipment code or 96333 code)", 404, public=True)
    },
    "/api/v1/public/equipment/{code}/reports": {
        "post": _op(
            "Report a problem from the public page (no login, rate-limited); answers a reference",
            400,
            404,
            415,
            422,
            429,
            public=True,
            ok="201",
            body={
                "type": "object",
                "required": ["description"],
                "properties": {"description": {"type": "string"}, "contact": {"type": "string"}},
            },
        )
    },  # fmt: skip
}
with_exports(EQUIPMENT_PATHS["/api/v1/equipment"]["get"], "text/csv")
