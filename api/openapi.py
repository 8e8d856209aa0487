"""The OpenAPI 3.1 description of ``/api/v1``, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

HEX32 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _problem_responses(*codes: int) -> dict[str, Any]:
    return {
        str(code): {"description": "problem", "content": {"application/problem+json": {"schema": PROBLEM}}}
        for code in codes
    }


def _int_param(name: str, where: str = "query", required: bool = True, minimum: int = 0) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": {"type": "integer", "minimum": minimum}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": "ok", "content": {"application/json": {"schema": schema}}}


ENTRY = {
    "type": "object",
    "required": ["seq", "leaf_hash", "entry"],
    "properties": {
        "seq": {"type": "integer", "minimum": 0},
        "leaf_hash": HEX32,
        "entry": {
            "type": "object",
            "required": ["seq", "kind", "subject", "actor", "recorded_at", "payload", "prev"],
            "properties": {
                "seq": {"type": "integer"},
                "kind": {"type": "string"},
                "subject": {"type": "string"},
                "actor": {"type": "object"},
                "recorded_at": {"type": "string"},
                "payload": {"type": "object"},
                "prev": HEX32,
            },
        },
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Anlian ledger API",
        "version": "1",
        "description": "A tamper-evident traceability ledger: entries, RFC 9162 proofs and signed checkpoints.",
    },
    "paths": {
        "/api/v1/ledger/checkpoint": {
            "get": {
                "summary": "The latest signed checkpoint (C2SP tlog-checkpoint as a signed note)",
                "responses": {
                    "200": {"description": "signed note", "content": {"text/plain": {"schema": {"type": "string"}}}},
                    **_problem_responses(404),
                },
            }
        },
        "/api/v1/ledger/key": {
            "get": {
                "summary": "The ledger's Ed25519 public key (PEM) and its C2SP note verifier key",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["verifier_key", "public_key_pem"],
                            "properties": {
                                "origin": {"type": "string"},
                                "key_name": {"type": "string"},
                                "key_id": {"type": "string"},
                                "algorithm": {"type": "string"},
                                "verifier_key": {"type": "string"},
                                "public_key_pem": {"type": "string"},
                            },
                        }
                    ),
                    **_problem_responses(503),
                },
            }
        },
        "/api/v1/ledger/entries": {
            "get": {
                "summary": "A page of entries in seq order",
                "parameters": [
                    _int_param("from", required=False),
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["tree_size", "entries", "next"],
                            "properties": {
                                "tree_size": {"type": "integer"},
                                "entries": {"type": "array", "items": ENTRY},
                                "next": {"type": ["integer", "null"]},
                            },
                        }
                    ),
                    **_problem_responses(400),
                },
            }
        },
        "/api/v1/ledger/entries/{seq}": {
            "get": {
                "summary": "One entry, decoded, with its leaf hash",
                "parameters": [_int_param("seq", "path")],
                "responses": {"200": _json(ENTRY), **_problem_responses(404)},
            }
        },
        "/api/v1/ledger/entries/{seq}/raw": {
            "get": {
                "summary": "The exact stored entry bytes (RFC 8785 canonical JSON)",
                "parameters": [_int_param("seq", "path")],
                "responses": {
                    "200": {"description": "entry bytes", "content": {"application/json": {"schema": {}}}},
                    **_problem_responses(404),
                },
            }
        },
        "/api/v1/ledger/proof/inclusion": {
            "get": {
                "summary": "RFC 9162 inclusion proof of entry seq in the tree of tree_size entries",
                "parameters": [_int_param("seq"), _int_param("tree_size", minimum=1)],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["seq", "tree_size", "leaf_hash", "hashes"],
                            "properties": {
                                "seq": {"type": "integer"},
                                "tree_size": {"type": "integer"},
                                "leaf_hash": HEX32,
                                "hashes": {"type": "array", "items": HEX32},
                            },
                        }
                    ),
                    **_problem_responses(400, 404),
                },
            }
        },
        "/api/v1/ledger/proof/consistency": {
            "get": {
                "summary": "RFC 9162 consistency proof between tree sizes first and second",
                "parameters": [_int_param("first", minimum=1), _int_param("second", minimum=1)],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["first", "second", "hashes"],
                            "properties": {
                                "first": {"type": "integer"},
                                "second": {"type": "integer"},
                                "hashes": {"type": "array", "items": HEX32},
                            },
                        }
                    ),
                    **_problem_responses(400),
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Problem": {
                "type": "object",
                "required": ["type", "title", "status"],
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "instance": {"type": "string"},
                },
            }
        }
    },
}
