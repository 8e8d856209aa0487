"""Transformations, trace back / forward, recalls, and the public batch data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from api import context
from api.auth import current_principal
from api.food_routes import batch_link
from api.requests import client_event_id, csv_response, json_object
from ledger.db.tables import Batch
from ledger.domain import fsma
from ledger.domain.access import Forbidden, Principal, require_any_role
from ledger.domain.gs1 import normalize_gtin, validate_lot
from ledger.domain.transformation import transformation_spec
from ledger.errors import InvalidEntry
from ledger.services import food as food_service
from ledger.services import lineage, public, recalls, transformations
from ledger.services.signing import signed_actor

blueprint = Blueprint("trace", __name__, url_prefix="/api/v1")
MAKERS = ("producer", "processor", "canteen")
INVESTIGATORS = ("inspector", "admin")


def _batch(session: Any, gtin: str, lot: str) -> Batch:
    return food_service.get_batch(session, normalize_gtin(gtin), validate_lot(lot))


def _may_investigate(principal: Principal | None, batch: Batch) -> Principal:
    """Inspectors and admins trace any batch; a producer traces its own (for its own recall)."""
    principal = require_any_role(principal, (*INVESTIGATORS, *MAKERS))
    if not principal.has_any(INVESTIGATORS) and principal.org_id != batch.producer_org_id:
        raise Forbidden("only inspectors, admins and the batch's producer may trace it")
    return principal


@blueprint.post("/transformations")
def record_transformation() -> tuple[Response, int]:
    principal = require_any_role(current_principal(), MAKERS)
    body = json_object()
    signature, output_signature = body.pop("signature", None), body.pop("output_signature", None)
    spec = transformation_spec(body, datetime.now(UTC))
    with context.writing() as session:
        output_payload = food_service.batch_payload(session, spec.output, principal.org_id)
        actor = signed_actor(session, principal, spec.payload(), signature)
        output_actor = signed_actor(session, principal, output_payload, output_signature)
        recorded = transformations.record_transformation(
            session, spec, principal.org_id, actor, output_actor, output_payload
        )
        body = {
            "seq": recorded.seq,
            "replayed": recorded.replayed,
            "output": {"gtin": recorded.output.gtin, "lot": recorded.output.lot, "seq": recorded.output.created_seq},
            "inputs": [i.payload() for i in spec.inputs],
        }
    return jsonify(body), 200 if recorded.replayed else 201


def _trace_json(traced: lineage.Trace) -> dict[str, Any]:
    return {
        "direction": traced.direction,
        "batches": [vars(b) for b in traced.batches],
        "edges": [{**vars(e), "event_time": e.event_time.isoformat()} for e in traced.edges],
        "events": [{**vars(e), "event_time": e.event_time.isoformat()} for e in traced.events],
        "holders": traced.holders(),
    }


@blueprint.get("/batches/<gtin>/<path:lot>/trace")
def trace_batch(gtin: str, lot: str) -> Response:
    direction = request.args.get("direction", "forward")
    if direction not in lineage.DIRECTIONS:
        raise InvalidEntry("direction must be back or forward")
    with context.reading() as session:
        batch = _batch(session, gtin, lot)
        _may_investigate(current_principal(), batch)
        return jsonify(_trace_json(lineage.trace(session, batch.id, direction)))


@blueprint.post("/batches/<gtin>/<path:lot>/recalls")
def open_recall(gtin: str, lot: str) -> tuple[Response, int]:
    body = json_object()
    retry_key = client_event_id(body)
    with context.writing() as session:
        batch = _batch(session, gtin, lot)
        principal = _may_investigate(current_principal(), batch)
        recall = recalls.open_recall(session, batch, body.get("reason"), principal.actor, retry_key)
        return jsonify({"seq": recall.opened_seq, "reason": recall.reason, "opened_by": recall.opened_by}), 201


def _recall(gtin: str, lot: str) -> tuple[Batch, recalls.RecallView]:
    with context.reading() as session:
        batch = _batch(session, gtin, lot)
        _may_investigate(current_principal(), batch)
        return batch, recalls.recall_view(session, batch)


@blueprint.get("/batches/<gtin>/<path:lot>/recall")
def recall_json(gtin: str, lot: str) -> Response:
    _, view = _recall(gtin, lot)
    return jsonify(
        {
            "recalls": [
                {
                    "seq": r.opened_seq,
                    "reason": r.reason,
                    "opened_by": r.opened_by,
                    "opened_at": r.opened_at.isoformat(),
                }
                for r in view.recalls
            ],
            "batches": [vars(b) for b in view.trace.batches],
            "holders": [h.as_dict() for h in view.holders],
            "rows": view.fsma_rows,
        }
    )


def _filename(batch: Batch, extension: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in batch.lot)
    return f"recall-{batch.gtin}-{safe}.{extension}"


@blueprint.get("/batches/<gtin>/<path:lot>/recall.csv")
def recall_csv(gtin: str, lot: str) -> Response:
    batch, view = _recall(gtin, lot)
    return csv_response(view.fsma_rows, fsma.COLUMNS, _filename(batch, "csv"))


@blueprint.get("/batches/<gtin>/<path:lot>/recall.xlsx")
def recall_xlsx(gtin: str, lot: str) -> Response:
    batch, view = _recall(gtin, lot)
    data = fsma.to_xlsx(view.fsma_rows, f"Recall {batch.lot}")
    response = Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = f'attachment; filename="{_filename(batch, "xlsx")}"'
    return response


@blueprint.get("/public/batches/<gtin>/<path:lot>")
def public_batch(gtin: str, lot: str) -> Response:
    """No login: what anyone scanning the label may see."""
    return jsonify(public_batch_data(gtin, lot))


def public_batch_data(gtin: str, lot: str) -> dict[str, Any]:
    with context.reading() as session:
        batch = _batch(session, gtin, lot)
        data = public.public_batch(session, batch, context.settings().time_zone)
        data["digital_link"] = batch_link(batch.gtin, batch.lot, batch)
        data["subject"] = food_service.batch_subject(batch.gtin, batch.lot)
        return data
