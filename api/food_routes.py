"""``/api/v1/products`` and ``/api/v1/batches``: producers register products and code batches;
anyone fetches a batch's QR code."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from api import context
from api.auth import current_principal
from api.requests import client_event_id, json_object
from ledger.db.tables import Batch, Product
from ledger.domain import food
from ledger.domain.access import require_any_role
from ledger.domain.gs1 import digital_link, normalize_gtin, validate_lot
from ledger.labels import qr_png, qr_svg
from ledger.services import food as food_service
from ledger.services.signing import signed_actor

blueprint = Blueprint("food", __name__, url_prefix="/api/v1")
PRODUCERS = ("producer", "processor")


def _product_json(product: Product) -> dict[str, Any]:
    fields = ("gtin", "producer_org_id", "name_zh", "name_en", "brand", "category", "storage_class",
              "temp_min_c", "temp_max_c", "max_reading_gap_minutes", "origin_country", "created_seq")  # fmt: skip
    return {field: getattr(product, field) for field in fields}


def _batch_json(batch: Batch) -> dict[str, Any]:
    return {
        "gtin": batch.gtin,
        "lot": batch.lot,
        "digital_link": batch_link(batch.gtin, batch.lot, batch),
        "producer_org_id": batch.producer_org_id,
        "site_id": batch.site_id,
        "grid_code": batch.grid_code,
        "origin": batch.origin,
        "production_date": batch.production_date.isoformat(),
        "expiry_date": batch.expiry_date.isoformat() if batch.expiry_date else None,
        "quantity": batch.quantity,
        "unit": batch.unit,
        "documents": batch.documents,
        "seq": batch.created_seq,
    }


def batch_link(gtin: str, lot: str, batch: Batch) -> str:
    """The Digital Link printed on the label: our public host, with the expiry when known."""
    return digital_link(context.settings().public_url, gtin, lot, batch.expiry_date)


@blueprint.post("/products")
def register_product() -> tuple[Response, int]:
    principal = require_any_role(current_principal(), PRODUCERS)
    body = json_object()
    retry_key = client_event_id(body)
    signature = body.pop("signature", None)
    spec = food.product_spec(body)
    with context.writing() as session:
        actor = signed_actor(session, principal, spec.payload(principal.org_id), signature)
        product = food_service.register_product(session, spec, principal.org_id, actor, retry_key)
        return jsonify(_product_json(product)), 201


@blueprint.post("/batches")
def register_batch() -> tuple[Response, int]:
    principal = require_any_role(current_principal(), PRODUCERS)
    body = json_object()
    retry_key = client_event_id(body)
    signature = body.pop("signature", None)
    spec = food.batch_spec(body)
    with context.writing() as session:
        payload = food_service.batch_payload(session, spec, principal.org_id)
        actor = signed_actor(session, principal, payload, signature)
        batch = food_service.register_batch(session, spec, payload, actor, retry_key)
        return jsonify(_batch_json(batch)), 201


def _find_batch(gtin: str, lot: str) -> Batch:
    with context.reading() as session:
        return food_service.get_batch(session, normalize_gtin(gtin), validate_lot(lot))


@blueprint.get("/batches/<gtin>/<path:lot>/qr.png")
def batch_qr_png(gtin: str, lot: str) -> Response:
    batch = _find_batch(gtin, lot)
    return Response(qr_png(batch_link(batch.gtin, batch.lot, batch)), mimetype="image/png")


@blueprint.get("/batches/<gtin>/<path:lot>/qr.svg")
def batch_qr_svg(gtin: str, lot: str) -> Response:
    batch = _find_batch(gtin, lot)
    return Response(qr_svg(batch_link(batch.gtin, batch.lot, batch)), mimetype="image/svg+xml")


@blueprint.get("/batches/<gtin>/<path:lot>")
def show_batch(gtin: str, lot: str) -> Response:
    return jsonify(_batch_json(_find_batch(gtin, lot)))
