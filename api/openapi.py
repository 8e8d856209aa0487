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


def with_exports(operation: dict[str, Any], *mimetypes: str) -> None:
    """Document that ``operation`` may also answer as a file (``format=csv``, ``xlsx``)."""
    for code, response in operation["responses"].items():
        if code.startswith("2"):
            response["content"].update({mimetype: {"schema": {"type": "string"}} for mimetype in mimetypes})


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

ORG_ID = {"name": "org_id", "in": "path", "required": True, "schema": {"type": "string"}}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _write(
    summary: str, body: dict[str, Any] | None, ok: str, *problems: int, params: list[Any] | None = None
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "security": BEARER,
        "parameters": params or [ORG_ID],
        "responses": {ok: _json({"type": "object"}), **_problem_responses(400, 401, 403, 404, 415, 422, *problems)},
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


SIGNATURE = {
    "type": "object",
    "description": "Ed25519 signature over the RFC 8785 canonical payload, by a registered key",
    "required": ["key_id", "sig"],
    "properties": {"key_id": {"type": "string"}, "sig": {"type": "string"}},
}

TIME = {"type": "string", "description": "RFC 3339 with its UTC offset, at most 5 minutes in the future"}
SCAN = {
    "type": "object",
    "required": ["client_event_id", "action", "quantity", "unit", "event_time"],
    "properties": {
        "client_event_id": {"type": "string", "minLength": 1, "maxLength": 200},
        "action": {"enum": ["ship", "receive", "store", "sell", "dispose"]},
        "code": {"type": "string", "description": "a GS1 Digital Link or element string naming GTIN and lot"},
        "gtin": {"type": "string"},
        "lot": {"type": "string"},
        "quantity": {"type": "number", "exclusiveMinimum": 0},
        "unit": {"type": "string"},
        "event_time": TIME,
        "temperature_c": {"type": "number"},
        "readings": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["time", "celsius"],
                "properties": {"time": TIME, "celsius": {"type": "number"}},
            },
        },
        "site_id": {"type": "integer"},
        "gln": {"type": "string"},
        "latitude": {"type": "number"},
        "longitude": {"type": "number"},
        "to_org_id": {"type": "string", "description": "ship: the receiving organisation"},
        "to_site_id": {"type": "integer"},
        "from_org_id": {"type": "string", "description": "receive: the sender, when known"},
        "reason": {"type": "string", "description": "dispose: why"},
        "device": {"type": "string"},
        "signature": SIGNATURE,
    },
}

ORG_PATHS: dict[str, Any] = {
    "/api/v1/sites": {
        "get": {
            "summary": "Sites the caller may see: admins all, inspectors their grids, businesses their own",
            "security": BEARER,
            "parameters": [
                {"name": "grid", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "format", "in": "query", "required": False, "schema": {"enum": ["json", "csv"]}},
            ],
            "responses": {
                "200": {
                    "description": "sites",
                    "content": {
                        "application/json": {"schema": {"type": "object"}},
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                **_problem_responses(401, 403, 422),
            },
        }
    },
    "/api/v1/orgs": {
        "post": {
            **_write(
                "Register an organisation (admin); its first API key is returned once",
                {
                    "type": "object",
                    "required": ["name", "roles"],
                    "properties": {
                        "name": {"type": "string"},
                        "roles": {"type": "array", "items": {"type": "string"}},
                        "uscc": {"type": "string", "description": "统一社会信用代码"},
                        "contact": {"type": "object"},
                        "scopes": {"type": "array", "items": {"type": "string"}, "description": "grid-tree codes"},
                        "require_signature": {"type": "boolean"},
                    },
                },
                "201",
                409,
                params=[],
            )
        }
    },
    "/api/v1/orgs/{org_id}": {
        "get": {
            "summary": "An organisation with its keys (itself or an admin)",
            "security": BEARER,
            "parameters": [ORG_ID],
            "responses": {"200": _json({"type": "object"}), **_problem_responses(401, 403, 404)},
        }
    },
    "/api/v1/orgs/{org_id}/settings": {
        "put": _write(
            "Change whether the organisation must sign its events (admin)",
            {
                "type": "object",
                "required": ["require_signature"],
                "properties": {"require_signature": {"type": "boolean"}},
            },
            "200",
        )
    },
    "/api/v1/orgs/{org_id}/api-keys": {
        "post": _write(
            "Issue another API key, shown once (itself or an admin)",
            None,
            "201",
        )
    },
    "/api/v1/orgs/{org_id}/api-keys/{prefix}": {
        "delete": _write(
            "Revoke an API key (itself or an admin)",
            None,
            "200",
            params=[ORG_ID, {"name": "prefix", "in": "path", "required": True, "schema": {"type": "string"}}],
        )
    },
    "/api/v1/orgs/{org_id}/signing-keys": {
        "post": _write(
            "Register an Ed25519 public key for signing events",
            {"type": "object", "required": ["public_key"], "properties": {"public_key": {"type": "string"}}},
            "201",
        )
    },
    "/api/v1/orgs/{org_id}/signing-keys/{key_id}": {
        "delete": _write(
            "Revoke a signing key",
            None,
            "200",
            params=[ORG_ID, {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        )
    },
    "/api/v1/orgs/{org_id}/sites": {
        "post": _write(
            "A business registers one of its sites (address and grid); may be signed",
            {
                "type": "object",
                "required": ["name", "address", "grid_code"],
                "properties": {
                    "name": {"type": "string"},
                    "address": {"type": "string"},
                    "grid_code": {"type": "string"},
                    "client_event_id": {"type": "string"},
                    "signature": SIGNATURE,
                },
            },
            "201",
            409,
        )
    },
}


GTIN_LOT = [
    {"name": "gtin", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "lot", "in": "path", "required": True, "schema": {"type": "string"}},
]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _recall_export(mimetype: str, ok: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "get": {
            "summary": f"Every downstream batch and holder of a batch, in the FSMA 204 sortable spreadsheet's "
            f"columns ({mimetype})",
            "security": BEARER,
            "parameters": GTIN_LOT,
            "responses": {
                "200": ok or {"description": "spreadsheet", "content": {mimetype: {"schema": {"type": "string"}}}},
                **_problem_responses(401, 403, 404, 422),
            },
        }
    }


def _image(mimetype: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": f"The batch's GS1 Digital Link QR code ({mimetype}, error correction M, quiet zone 4)",
            "parameters": GTIN_LOT,
            "responses": {
                "200": {"description": "QR code", "content": {mimetype: {"schema": {"type": "string"}}}},
                **_problem_responses(404, 422),
            },
        }
    }


FOOD_PATHS: dict[str, Any] = {
    "/api/v1/products": {
        "post": _write(
            "A producer registers a product (GTIN, names, storage class and band); may be signed",
            {"type": "object", "required": ["gtin", "name_zh", "category", "storage_class"]},
            "201",
            409,
            params=[],
        )
    },
    "/api/v1/batches": {
        "post": _write(
            "A producer codes a batch (GTIN + lot, site, origin, dates, quantity, documents); may be signed",
            {
                "type": "object",
                "required": ["gtin", "lot", "site_id", "origin", "production_date", "quantity", "unit"],
            },
            "201",
            409,
            params=[],
        )
    },
    "/api/v1/batches/{gtin}/{lot}": {
        "get": {
            "summary": "A coded batch with its Digital Link",
            "parameters": GTIN_LOT,
            "responses": {"200": _json({"type": "object"}), **_problem_responses(404, 422)},
        }
    },
    "/api/v1/scans": {
        "post": _write(
            "A business records one cold-chain scan, or a list of up to 1,000 all or nothing; retries with the "
            "same client_event_id record nothing twice (200 when every scan was recorded before)",
            {
                "oneOf": [
                    SCAN,
                    {
                        "type": "object",
                        "required": ["scans"],
                        "properties": {"scans": {"type": "array", "minItems": 1, "maxItems": 1000, "items": SCAN}},
                    },
                ]
            },
            "201",
            409,
            params=[],
        )
    },
    "/api/v1/holdings": {
        "get": {
            "summary": "What the calling business holds now, soonest expiry first (format=csv for a spreadsheet)",
            "security": BEARER,
            "parameters": [{"name": "format", "in": "query", "required": False, "schema": {"enum": ["json", "csv"]}}],
            "responses": {"200": _json({"type": "object"}), **_problem_responses(401, 403, 422)},
        }
    },
    "/api/v1/shipments": {
        "get": {
            "summary": "Shipments not yet received, to the calling business (incoming) or from it (outgoing)",
            "security": BEARER,
            "parameters": [
                {"name": "direction", "in": "query", "required": False, "schema": {"enum": ["incoming", "outgoing"]}}
            ],
            "responses": {"200": _json({"type": "object"}), **_problem_responses(401, 403, 422)},
        }
    },
    "/api/v1/transformations": {
        "post": _write(
            "A processor turns input batches it holds into one new coded batch (lineage points to every input)",
            {"type": "object", "required": ["client_event_id", "event_time", "inputs", "output"]},
            "201",
            409,
            params=[],
        )
    },
    "/api/v1/batches/{gtin}/{lot}/trace": {
        "get": {
            "summary": "Trace back (what it came from) or forward (what it went into, who held it); inspectors, "
            "admins and the batch's producer",
            "security": BEARER,
            "parameters": [
                *GTIN_LOT,
                {"name": "direction", "in": "query", "required": False, "schema": {"enum": ["back", "forward"]}},
            ],
            "responses": {"200": _json({"type": "object"}), **_problem_responses(401, 403, 404, 422)},
        }
    },
    "/api/v1/batches/{gtin}/{lot}/recalls": {
        "post": _write(
            "Open a recall of a batch (a recall.opened entry with the reason)",
            {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}},
            "201",
            409,
            params=GTIN_LOT,
        )
    },
    "/api/v1/batches/{gtin}/{lot}/recall": _recall_export("application/json", _json({"type": "object"})),
    "/api/v1/batches/{gtin}/{lot}/recall.csv": _recall_export("text/csv"),
    "/api/v1/batches/{gtin}/{lot}/recall.xlsx": _recall_export(XLSX),
    "/api/v1/public/batches/{gtin}/{lot}": {
        "get": {
            "summary": "What anyone may see of a batch: product, producer, origin, journey with temperatures, "
            "excursions, recall status, and the ledger seq of each fact",
            "parameters": GTIN_LOT,
            "responses": {"200": _json({"type": "object"}), **_problem_responses(404, 422)},
        }
    },
    "/api/v1/batches/{gtin}/{lot}/qr.png": _image("image/png"),
    "/api/v1/batches/{gtin}/{lot}/qr.svg": _image("image/svg+xml"),
}
with_exports(FOOD_PATHS["/api/v1/holdings"]["get"], "text/csv")


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
                "summary": "The latest signed checkpoint (C2SP tlog-checkpoint as a signed note), followed by its "
                "witnesses' C2SP tlog-cosignature lines",
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
        "/api/v1/grids": {
            "get": {
                "summary": "The supervision grid tree (city, district, station, grid) in tree order, filtered",
                "parameters": [
                    {
                        "name": "level",
                        "in": "query",
                        "required": False,
                        "schema": {"enum": ["city", "district", "station", "grid"]},
                    },
                    {"name": "parent", "in": "query", "required": False, "schema": {"type": "string"}},
                    {
                        "name": "under",
                        "in": "query",
                        "required": False,
                        "description": "a node and everything below it",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "q",
                        "in": "query",
                        "required": False,
                        "description": "part of a name or code",
                        "schema": {"type": "string"},
                    },
                    {"name": "format", "in": "query", "required": False, "schema": {"enum": ["json", "csv"]}},
                ],
                "responses": {
                    "200": {
                        "description": "the nodes, as JSON or as the import CSV",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["grids"],
                                    "properties": {"grids": {"type": "array", "items": {"type": "object"}}},
                                }
                            },
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    **_problem_responses(400),
                },
            }
        },
        "/api/v1/grids/{code}": {
            "get": {
                "summary": "One node with its ancestors (city first) and its children",
                "parameters": [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["code", "name", "level", "parent_code", "ancestors", "children"],
                            "properties": {
                                "code": {"type": "string"},
                                "name": {"type": "string"},
                                "level": {"enum": ["city", "district", "station", "grid"]},
                                "parent_code": {"type": ["string", "null"]},
                                "ancestors": {"type": "array", "items": {"type": "object"}},
                                "children": {"type": "array", "items": {"type": "object"}},
                            },
                        }
                    ),
                    **_problem_responses(404),
                },
            }
        },
        "/api/v1/grids/import": {
            "post": {
                "summary": "Add and rename nodes from a CSV (admin API key); one ledger entry, none if nothing changed",
                "requestBody": {
                    "required": True,
                    "content": {
                        "text/csv": {
                            "schema": {"type": "string", "description": "UTF-8; header code,name,level,parent_code"}
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["created", "updated", "unchanged", "sha256", "seq", "changed"],
                            "properties": {
                                "created": {"type": "integer"},
                                "updated": {"type": "integer"},
                                "unchanged": {"type": "integer"},
                                "sha256": HEX32,
                                "seq": {"type": ["integer", "null"]},
                                "changed": {"type": "boolean"},
                            },
                        }
                    ),
                    **_problem_responses(401, 403, 413, 415, 422),
                },
            }
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "an organisation's API key"}},
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
        },
    },
}
OPENAPI["paths"].update(ORG_PATHS)
OPENAPI["paths"].update(FOOD_PATHS)
