"""``/api/v1/orgs``: organisations, their API keys, signing keys and sites.

Every change here is a ledger entry (see ``ledger.services.orgs``); views only check who is
asking, read the body and call the service inside one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from api import context
from api.auth import current_principal
from api.problems import BadRequest
from api.requests import client_event_id, csv_response, json_object, query_format
from ledger.db.tables import ApiKey, Organisation, OrgSigningKey, Site
from ledger.domain.access import Forbidden, require_any_role, require_self, require_self_or_admin
from ledger.domain.orgs import BUSINESS_ROLES, ROLES
from ledger.services import orgs
from ledger.services.signing import signed_actor

blueprint = Blueprint("orgs", __name__, url_prefix="/api/v1")


def _org_json(org: Organisation) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "roles": org.roles,
        "uscc": org.uscc,
        "contact": org.contact,
        "require_signature": org.require_signature,
        "created_seq": org.created_seq,
    }


def _site_json(site: Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "org_id": site.org_id,
        "name": site.name,
        "address": site.address,
        "grid_code": site.grid_code,
        "seq": site.created_seq,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _expiry(body: dict[str, Any]) -> datetime | None:
    raw = body.get("expires_at")
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest("expires_at must be an RFC 3339 time such as 2027-01-01T00:00:00Z") from exc
    if moment.tzinfo is None:
        raise BadRequest("expires_at needs a time zone (for example a trailing Z)")
    return moment


@blueprint.post("/orgs")
def create_org() -> tuple[Response, int]:
    principal = require_any_role(current_principal(), ["admin"])
    body = json_object()
    roles, scopes = body.get("roles") or [], body.get("scopes") or []
    if not isinstance(roles, list) or not isinstance(scopes, list):
        raise BadRequest("roles and scopes must be lists")
    spec = orgs.OrgSpec(
        name=body.get("name", ""),
        roles=roles,
        uscc=body.get("uscc"),
        contact=body.get("contact"),
        scopes=scopes,
        require_signature=body.get("require_signature") is True,
    )
    with context.writing() as session:
        created = orgs.create_organisation(session, spec, actor=principal.actor)
        result = {**_org_json(orgs.get_org(session, created.org_id)), "api_key": created.api_key}
    return jsonify(result), 201


@blueprint.get("/orgs/<org_id>")
def show_org(org_id: str) -> Response:
    require_self_or_admin(current_principal(), org_id)
    with context.writing() as session:
        org = orgs.get_org(session, org_id)
        keys = session.scalars(select(ApiKey).where(ApiKey.org_id == org_id).order_by(ApiKey.created_at))
        signing = session.scalars(select(OrgSigningKey).where(OrgSigningKey.org_id == org_id))
        return jsonify(
            {
                **_org_json(org),
                "api_keys": [
                    {
                        "prefix": k.prefix,
                        "created_at": _iso(k.created_at),
                        "expires_at": _iso(k.expires_at),
                        "revoked_at": _iso(k.revoked_at),
                    }
                    for k in keys
                ],
                "signing_keys": [{"key_id": k.key_id, "revoked_at": _iso(k.revoked_at)} for k in signing],
            }
        )


@blueprint.put("/orgs/<org_id>/settings")
def change_settings(org_id: str) -> Response:
    principal = require_any_role(current_principal(), ["admin"])
    body = json_object()
    if not isinstance(body.get("require_signature"), bool):
        raise BadRequest("require_signature must be true or false")
    with context.writing() as session:
        seq = orgs.set_require_signature(session, org_id, body["require_signature"], principal.actor)
    return jsonify({"org_id": org_id, "require_signature": body["require_signature"], "seq": seq})


@blueprint.post("/orgs/<org_id>/api-keys")
def create_key(org_id: str) -> tuple[Response, int]:
    principal = require_self_or_admin(current_principal(), org_id)
    body = json_object(optional=True)
    with context.writing() as session:
        issued = orgs.issue_key(session, org_id, principal.actor, _expiry(body))
    return jsonify({"prefix": issued.prefix, "api_key": issued.api_key, "seq": issued.seq}), 201


@blueprint.delete("/orgs/<org_id>/api-keys/<prefix>")
def revoke_key(org_id: str, prefix: str) -> Response:
    principal = require_self_or_admin(current_principal(), org_id)
    with context.writing() as session:
        if orgs.get_key(session, prefix).org_id != org_id:
            raise Forbidden(f"API key {prefix} does not belong to organisation {org_id}")
        seq = orgs.revoke_key(session, prefix, principal.actor)
    return jsonify({"prefix": prefix, "revoked": True, "seq": seq})


@blueprint.post("/orgs/<org_id>/signing-keys")
def register_signing_key(org_id: str) -> tuple[Response, int]:
    principal = require_self_or_admin(current_principal(), org_id)
    body = json_object()
    if not isinstance(body.get("public_key"), str):
        raise BadRequest("public_key (base64 of the raw 32-byte Ed25519 key) is required")
    with context.writing() as session:
        key_id, seq = orgs.register_signing_key(session, org_id, body["public_key"], principal.actor)
    return jsonify({"key_id": key_id, "seq": seq}), 201 if seq is not None else 200


@blueprint.delete("/orgs/<org_id>/signing-keys/<key_id>")
def revoke_signing_key(org_id: str, key_id: str) -> Response:
    principal = require_self_or_admin(current_principal(), org_id)
    with context.writing() as session:
        seq = orgs.revoke_signing_key(session, org_id, key_id, principal.actor)
    return jsonify({"key_id": key_id, "revoked": True, "seq": seq})


@blueprint.post("/orgs/<org_id>/sites")
def register_site(org_id: str) -> tuple[Response, int]:
    """A business registers one of its own sites; the write may be signed by the business."""
    principal = require_any_role(current_principal(), BUSINESS_ROLES)
    require_self(principal, org_id)
    body = json_object()
    retry_key = client_event_id(body)
    signature = body.pop("signature", None)
    payload = orgs.site_payload(org_id, body)
    with context.writing() as session:
        actor = signed_actor(session, principal, payload, signature)
        site = orgs.register_site(session, payload, actor, retry_key)
        return jsonify(_site_json(site)), 201


@blueprint.get("/sites")
def list_sites() -> Response:
    """Sites the caller may see, optionally under one grid-tree node; ``format=csv`` to export."""
    principal = require_any_role(current_principal(), ROLES)
    grid_code = request.args.get("grid") or None
    export = query_format("json", "csv")
    with context.reading() as session:
        sites = [_site_json(site) for site in orgs.visible_sites(session, principal, grid_code)]
    if export == "csv":
        return csv_response(sites, ["id", "org_id", "name", "address", "grid_code", "seq"], "sites.csv")
    return jsonify({"sites": sites})
