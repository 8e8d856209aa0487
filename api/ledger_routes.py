"""``/api/v1/ledger``: checkpoints, keys, entries and proofs for anyone to verify."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from api import context
from api.openapi import OPENAPI
from api.openapi_equipment import EPCIS_PATHS, EQUIPMENT_PATHS
from api.problems import BadRequest
from ledger.db import store
from ledger.db.tables import LedgerEntry
from ledger.services import checkpoints, witnesses

blueprint = Blueprint("ledger", __name__, url_prefix="/api/v1")
MAX_PAGE = 1000


def _int_arg(name: str, default: int | None = None, minimum: int = 0, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        if default is None:
            raise BadRequest(f"query parameter '{name}' is required")
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise BadRequest(f"query parameter '{name}' must be a non-negative integer, got {raw!r}")
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise BadRequest(f"query parameter '{name}' must be at least {minimum}{upper}")
    return value


def _entry_json(row: LedgerEntry) -> dict[str, Any]:
    return {"seq": row.seq, "leaf_hash": row.leaf_hash.hex(), "entry": json.loads(row.entry)}


@blueprint.get("/openapi.json")
def openapi() -> Response:
    extra = current_app.extensions.get("openapi.paths", {})
    return jsonify({**OPENAPI, "paths": {**OPENAPI["paths"], **EQUIPMENT_PATHS, **EPCIS_PATHS, **extra}})


@blueprint.get("/ledger/checkpoint")
def latest_checkpoint() -> Response:
    with context.reading() as session:
        row = checkpoints.require_latest(session)
        return Response(witnesses.cosigned_note(session, row), mimetype="text/plain")


@blueprint.get("/ledger/key")
def public_key() -> Response:
    signer = context.signer()
    return jsonify(
        {
            "origin": context.settings().origin,
            "key_name": signer.name,
            "key_id": signer.key_id.hex(),
            "algorithm": "Ed25519",
            "verifier_key": signer.verifier_key,
            "public_key_pem": signer.public_key_pem(),
        }
    )


@blueprint.get("/ledger/entries/<int:seq>")
def entry(seq: int) -> Response:
    with context.reading() as session:
        return jsonify(_entry_json(store.get_entry(session, seq)))


@blueprint.get("/ledger/entries/<int:seq>/raw")
def entry_raw(seq: int) -> Response:
    with context.reading() as session:
        row = store.get_entry(session, seq)
        return Response(bytes(row.entry), mimetype="application/json")


@blueprint.get("/ledger/entries")
def entries() -> Response:
    start = _int_arg("from", 0)
    limit = _int_arg("limit", 100, minimum=1, maximum=MAX_PAGE)
    with context.reading() as session:
        rows = store.list_entries(session, start, limit)
        size = store.tree_size(session)
    following = start + len(rows)
    return jsonify(
        {
            "tree_size": size,
            "entries": [_entry_json(row) for row in rows],
            "next": following if following < size else None,
        }
    )


@blueprint.get("/ledger/proof/inclusion")
def inclusion() -> Response:
    seq = _int_arg("seq")
    size = _int_arg("tree_size")
    with context.reading() as session:
        leaf, hashes = store.inclusion_proof(session, seq, size)
    return jsonify({"seq": seq, "tree_size": size, "leaf_hash": leaf.hex(), "hashes": [h.hex() for h in hashes]})


@blueprint.get("/ledger/proof/consistency")
def consistency() -> Response:
    first = _int_arg("first", minimum=1)
    second = _int_arg("second", minimum=1)
    if first > second:
        raise BadRequest("'first' must not be greater than 'second'")
    with context.reading() as session:
        hashes = store.consistency_proof(session, first, second)
    return jsonify({"first": first, "second": second, "hashes": [h.hex() for h in hashes]})
