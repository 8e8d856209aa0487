"""``/api/v1/ledger/witnesses`` and ``/api/v1/ledger/cosignatures``: the ledger's witnesses and
the cosignatures they send (C2SP tlog-cosignature).

Anyone may read the witnesses and their keys: the integrity badge checks every cosignature in the
browser against them.  Only an admin registers a witness (a ledger entry).  A cosignature needs no
API key: it is its own credential, accepted when it verifies against a registered witness's key
over a checkpoint this ledger signed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from flask import Blueprint, Response, jsonify, request

from api import context
from api.auth import current_principal, require_roles
from api.problems import BadRequest
from api.requests import UnsupportedMediaType, json_object
from ledger.db.tables import Witness
from ledger.domain.access import Principal
from ledger.services import witnesses

blueprint = Blueprint("witnesses", __name__, url_prefix="/api/v1/ledger")
NOTE_TYPE = "text/plain"
MAX_NOTE_BYTES = 64 * 1024  # a checkpoint with a few dozen signature lines is a few KiB


def _witness_json(witness: Witness, latest: Any) -> dict[str, Any]:
    return {
        "name": witness.name,
        "organisation": witness.organisation,
        "verifier_key": witness.verifier_key,
        "key_id": witness.key_id.hex(),
        "algorithm": "cosignature/v1 (Ed25519)",
        "registered_seq": witness.registered_seq,
        "registered_at": witness.registered_at.isoformat(),
        "latest_cosignature": None
        if latest is None
        else {
            "tree_size": latest.tree_size,
            "timestamp": latest.timestamp,
            "time": datetime.fromtimestamp(latest.timestamp, UTC).isoformat(),
        },
    }


@blueprint.get("/witnesses")
def list_witnesses() -> Response:
    with context.reading() as session:
        found = [_witness_json(w, witnesses.latest_cosignature(session, w)) for w in witnesses.registered(session)]
    return jsonify({"witnesses": found})


@blueprint.post("/witnesses")
@require_roles("admin")
def register_witness() -> tuple[Response, int]:
    body = json_object()
    vkey, organisation = body.get("verifier_key"), body.get("organisation")
    if not isinstance(vkey, str) or not vkey.strip():
        raise BadRequest("verifier_key must be the witness's cosignature/v1 key, name+keyid+base64key")
    if not isinstance(organisation, str):
        raise BadRequest("organisation must be a string naming who runs the witness")
    unknown = sorted(set(body) - {"verifier_key", "organisation"})
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}")
    principal = cast(Principal, current_principal())  # require_roles let only an admin in
    ledger_key = context.signer().public_key_bytes
    with context.writing() as session:
        done = witnesses.register(session, vkey, organisation, principal.actor, ledger_key)
        answer = _witness_json(done.witness, None)
    return jsonify(answer), 201 if done.created else 200


@blueprint.post("/cosignatures")
def add_cosignatures() -> Response:
    if request.mimetype != NOTE_TYPE:
        raise UnsupportedMediaType(f"send the cosigned checkpoint as {NOTE_TYPE}; got {request.mimetype!r}")
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"the cosigned checkpoint must be UTF-8, not {charset}")
    data = request.get_data(cache=False)
    if len(data) > MAX_NOTE_BYTES:
        raise BadRequest(f"a cosigned checkpoint is at most {MAX_NOTE_BYTES} bytes")
    try:
        note = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the cosigned checkpoint is not UTF-8") from exc
    with context.writing() as session:
        accepted = witnesses.accept(session, note)
    return jsonify(
        {"accepted": [{"witness": a.witness, "tree_size": a.tree_size, "timestamp": a.timestamp} for a in accepted]}
    )


def _problems(*codes: int) -> dict[str, Any]:
    return {
        str(code): {
            "description": "problem",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in codes
    }


WITNESS = {
    "type": "object",
    "required": ["name", "organisation", "verifier_key", "key_id", "registered_seq"],
    "properties": {
        "name": {"type": "string"},
        "organisation": {"type": "string"},
        "verifier_key": {"type": "string", "description": "C2SP vkey: name+hex key id+base64(0x04 ‖ Ed25519 key)"},
        "key_id": {"type": "string", "pattern": "^[0-9a-f]{8}$"},
        "algorithm": {"type": "string"},
        "registered_seq": {"type": "integer", "description": "the witness.registered ledger entry"},
        "registered_at": {"type": "string"},
        "latest_cosignature": {
            "type": ["object", "null"],
            "properties": {
                "tree_size": {"type": "integer"},
                "timestamp": {"type": "integer"},
                "time": {"type": "string"},
            },
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/ledger/witnesses": {
        "get": {
            "summary": "The ledger's witnesses: who runs each one, its cosignature key, and what it cosigned last",
            "responses": {
                "200": {
                    "description": "ok",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["witnesses"],
                                "properties": {"witnesses": {"type": "array", "items": WITNESS}},
                            }
                        }
                    },
                }
            },
        },
        "post": {
            "summary": "Register a witness by its cosignature/v1 vkey (admin API key); a witness.registered "
            "entry, none when the same key is registered again",
            "security": [{"bearer": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["verifier_key", "organisation"],
                            "properties": {
                                "verifier_key": {"type": "string"},
                                "organisation": {"type": "string", "minLength": 1, "maxLength": 200},
                            },
                        }
                    }
                },
            },
            "responses": {
                "201": {"description": "registered", "content": {"application/json": {"schema": WITNESS}}},
                "200": {"description": "already registered", "content": {"application/json": {"schema": WITNESS}}},
                **_problems(400, 401, 403, 409, 415, 422),
            },
        },
    },
    "/api/v1/ledger/cosignatures": {
        "post": {
            "summary": "A witness delivers its cosignature: the checkpoint body, an empty line and its C2SP "
            "cosignature line(s); checked against the registered witness keys, the latest one per "
            "witness and checkpoint is served with GET /api/v1/ledger/checkpoint",
            "requestBody": {
                "required": True,
                "content": {NOTE_TYPE: {"schema": {"type": "string"}}},
            },
            "responses": {
                "200": {
                    "description": "stored",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["accepted"],
                                "properties": {
                                    "accepted": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "witness": {"type": "string"},
                                                "tree_size": {"type": "integer"},
                                                "timestamp": {"type": "integer"},
                                            },
                                        },
                                    }
                                },
                            }
                        }
                    },
                },
                **_problems(400, 403, 415, 422),
            },
        }
    },
}
