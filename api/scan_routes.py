"""``/api/v1/scans``: businesses record cold-chain scans, one or a list of up to 1,000."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from api import context
from api.auth import current_principal
from api.requests import csv_response, json_object, query_format
from ledger.domain.access import require_any_role
from ledger.domain.scans import FOOD_ROLES, MAX_SCANS, scan_spec
from ledger.errors import InvalidEntry, list_item
from ledger.services import scans as scan_service
from ledger.services.signing import signed_actor

blueprint = Blueprint("scans", __name__, url_prefix="/api/v1")
STOCK_COLUMNS = ["gtin", "lot", "product", "quantity", "unit", "expiry_date", "coded", "updated_seq"]


def _scan_json(recorded: scan_service.RecordedScan) -> dict[str, Any]:
    spec = recorded.spec
    return {
        "seq": recorded.seq,
        "client_event_id": spec.client_event_id,
        "action": spec.action,
        "gtin": spec.gtin,
        "lot": spec.lot,
        "replayed": recorded.replayed,
        "unexpected_receipt": recorded.unexpected,
        "uncoded": recorded.uncoded,
    }


def _items(body: dict[str, Any]) -> tuple[list[Any], bool]:
    """The scans sent, and whether they came as a list (then errors name their index)."""
    if "scans" not in body:
        return [body], False
    if set(body) != {"scans"}:
        raise InvalidEntry('send one scan, or {"scans": [...]} with nothing beside the list')
    items = body["scans"]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_SCANS:
        raise InvalidEntry(f"scans must be a list of 1 to {MAX_SCANS} scans")
    return items, True


@blueprint.post("/scans")
def record_scans() -> tuple[Response, int]:
    principal = require_any_role(current_principal(), FOOD_ROLES)
    items, listed = _items(json_object())
    now = datetime.now(UTC)
    name = "scans" if listed else None
    specs = []
    for index, item in enumerate(items):
        with list_item(name, index):
            specs.append((scan_spec(item, now), item.get("signature")))
    with context.writing() as session:
        requests = []
        for index, (spec, signature) in enumerate(specs):
            with list_item(name, index):
                actor = signed_actor(session, principal, spec.payload(), signature)
            requests.append(scan_service.ScanRequest(spec, actor))
        recorded = scan_service.record_scans(session, principal.org_id, requests, name)
    status = 200 if all(r.replayed for r in recorded) else 201
    if not listed:
        return jsonify(_scan_json(recorded[0])), status
    return jsonify({"scans": [_scan_json(r) for r in recorded]}), status


@blueprint.get("/holdings")
def my_stock() -> Response:
    """What the calling business holds now (``?format=csv`` for a spreadsheet)."""
    principal = require_any_role(current_principal(), FOOD_ROLES)
    export = query_format("json", "csv")
    with context.reading() as session:
        rows = scan_service.stock_of(session, principal.org_id)
    if export == "csv":
        return csv_response(rows, STOCK_COLUMNS, "holdings.csv")
    return jsonify({"holdings": rows})


@blueprint.get("/shipments")
def my_open_shipments() -> Response:
    """Shipments not yet received: ``?direction=incoming`` (to me, the default) or ``outgoing``."""
    principal = require_any_role(current_principal(), FOOD_ROLES)
    direction = request.args.get("direction", "incoming")
    if direction not in ("incoming", "outgoing"):
        raise InvalidEntry("direction must be incoming or outgoing")
    with context.reading() as session:
        rows = scan_service.open_shipments(session, principal.org_id, direction == "incoming")
    return jsonify({"direction": direction, "shipments": rows})
