"""``/api/v1/my``: an organisation's own alerts (as subject owner, maintenance company or user
unit) and the webhooks that push them to its systems.

The secret of a webhook is in the answer to its registration and nowhere else: listings show
only its SHA-256, as the ledger entry does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from api import context
from api.auth import current_principal
from api.openapi import BEARER, _json, _problem_responses, with_exports
from api.requests import csv_response, json_object, query_choices, query_int
from ledger.db.tables import Webhook, WebhookDelivery
from ledger.domain.access import require_any_role
from ledger.domain.alerts import COLOURS, STATUSES
from ledger.domain.orgs import ROLES
from ledger.errors import InvalidEntry
from ledger.rules import RULES
from ledger.services import webhooks
from ledger.services.alerts import OPEN

blueprint = Blueprint("notify", __name__, url_prefix="/api/v1/my")
MAX_PER_PAGE = 500
MAX_DELIVERIES = 500
ALERT_COLUMNS = ["raised_seq", "rule", "label", "subject", "grid_code", "category", "colour", "status", "due_date",
                 "days_overdue", "opened_at", "org_id", "maintenance_org_id", "user_org_id", "evidence",
                 "hazard_seq", "resolved_seq", "satisfied_by_seq"]  # fmt: skip
SIGNATURE_SCHEME = (
    "X-Anlian-Signature is 'sha256=' + hex HMAC-SHA256, keyed by the secret's text, over "
    "X-Anlian-Timestamp + '.' + the raw body; refuse timestamps more than 5 minutes from your clock "
    "and delivery ids (X-Anlian-Delivery) already processed"
)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _webhook_json(hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "url": hook.url,
        "active": hook.disabled_at is None,
        "created_at": _iso(hook.created_at),
        "disabled_at": _iso(hook.disabled_at),
        "secret_sha256": webhooks.fingerprint(hook.secret),
    }


def _delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    alert = delivery.payload.get("alert", {})
    return {
        "id": delivery.id,
        "event": delivery.event,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": _iso(delivery.next_attempt_at) if delivery.status == webhooks.PENDING else None,
        "last_error": delivery.last_error,
        "delivered_at": _iso(delivery.delivered_at),
        "alert": {key: alert.get(key) for key in ("raised_seq", "rule", "subject", "colour", "status")},
    }




def _alert_query() -> webhooks.AlertQuery:
    statuses = query_choices("status", (*STATUSES, "all"))
    return webhooks.AlertQuery(
        statuses=() if "all" in statuses else statuses or OPEN,
        rules=query_choices("rule", RULES),
        colours=query_choices("colour", COLOURS),
    )


@blueprint.get("/alerts")
def my_alerts() -> Response:
    """Alerts naming the caller's organisation in any role, newest first; open ones unless
    ``status`` says otherwise (``status=all`` for every one); ``format=csv`` for all pages."""
    principal = require_any_role(current_principal(), ROLES)
    wanted = _alert_query()
    export = request.args.get("format")
    if export not in (None, "json", "csv"):
        raise InvalidEntry("format must be json or csv")
    # Checked for an export too, which has every page: a bad value is refused, never ignored.
    page, per_page = query_int("page", 1, 10**6), query_int("per_page", 100, MAX_PER_PAGE)
    with context.reading() as session:
        if export == "csv":
            found, _ = webhooks.alerts_concerning(session, principal.org_id, wanted, per_page=None)
            rows = [webhooks.alert_summary(a) for a in found]
            for row in rows:
                row["evidence"] = " ".join(str(seq) for seq in row["evidence"])
            return csv_response(rows, ALERT_COLUMNS, "my-alerts.csv")
        found, total = webhooks.alerts_concerning(session, principal.org_id, wanted, page, per_page)
        alerts = [webhooks.alert_summary(a) for a in found]
    return jsonify({"org_id": principal.org_id, "total": total, "page": page, "per_page": per_page, "alerts": alerts})


@blueprint.post("/webhooks")
def register_webhook() -> tuple[Response, int]:
    """Register an endpoint; the answer holds the signing secret, shown this once."""
    principal = require_any_role(current_principal(), ROLES)
    body = json_object()
    if set(body) != {"url"}:
        raise InvalidEntry('send {"url": "https://..."} and nothing else')
    with context.writing() as session:
        hook, secret = webhooks.register(session, principal.org_id, body["url"], principal.actor)
        result = {**_webhook_json(hook), "secret": secret, "signature": SIGNATURE_SCHEME}
    return jsonify(result), 201


@blueprint.get("/webhooks")
def list_webhooks() -> Response:
    principal = require_any_role(current_principal(), ROLES)
    with context.reading() as session:
        hooks = webhooks.list_webhooks(session, principal.org_id)
        return jsonify({"max_active": webhooks.MAX_ACTIVE, "webhooks": [_webhook_json(h) for h in hooks]})


@blueprint.delete("/webhooks/<int:webhook_id>")
def disable_webhook(webhook_id: int) -> Response:
    """Disable a webhook and cancel its unsent deliveries; again is harmless (``seq`` null)."""
    principal = require_any_role(current_principal(), ROLES)
    with context.writing() as session:
        seq = webhooks.disable(session, principal.org_id, webhook_id, principal.actor)
        hook = webhooks.get_webhook(session, principal.org_id, webhook_id)
        return jsonify({**_webhook_json(hook), "seq": seq})


@blueprint.get("/webhooks/<int:webhook_id>/deliveries")
def webhook_deliveries(webhook_id: int) -> Response:
    """The latest deliveries to one webhook, newest first, with status and last error."""
    principal = require_any_role(current_principal(), ROLES)
    limit = query_int("limit", 100, MAX_DELIVERIES)
    with context.reading() as session:
        found = webhooks.recent_deliveries(session, principal.org_id, webhook_id, limit)
        return jsonify({"webhook_id": webhook_id, "deliveries": [_delivery_json(d) for d in found]})


def _query(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema or {"type": "string"}}


def _op(summary: str, *problems: int, params: list[Any] | None = None, body: dict[str, Any] | None = None,
        ok: str = "200") -> dict[str, Any]:  # fmt: skip
    operation: dict[str, Any] = {
        "summary": summary,
        "security": BEARER,
        "parameters": params or [],
        "responses": {ok: _json({"type": "object"}), **_problem_responses(401, 403, *problems)},
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


WEBHOOK_ID = {"name": "webhook_id", "in": "path", "required": True, "schema": {"type": "integer"}}
OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/my/alerts": {
        "get": _op("Alerts naming the caller's organisation (owner, maintenance company or user unit), newest "
                   "first; status (default the open ones; 'all'), rule and colour take comma-separated values; "
                   "format=csv for every page", 422,
                   params=[_query("status"), _query("rule"), _query("colour"),
                           _query("format", {"enum": ["json", "csv"]}),
                           _query("page", {"type": "integer", "minimum": 1}),
                           _query("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE})])
    },
    "/api/v1/my/webhooks": {
        "post": {**_op("Register a webhook for the caller's alerts (alert.raised, alert.resolved); https only, "
                       "at most 5 active; the answer holds the signing secret, shown once", 400, 409, 415, 422,
                       ok="201", body={"type": "object", "required": ["url"],
                                       "properties": {"url": {"type": "string", "format": "uri"}}}),
                 "description": SIGNATURE_SCHEME},
        "get": _op("The caller's webhooks, active and disabled, without their secrets"),
    },
    "/api/v1/my/webhooks/{webhook_id}": {
        "delete": _op("Disable a webhook and cancel its unsent deliveries (a webhook.disabled entry)", 404,
                      params=[WEBHOOK_ID])
    },
    "/api/v1/my/webhooks/{webhook_id}/deliveries": {
        "get": _op("Recent deliveries to a webhook, newest first, with status, attempts and last error", 404, 422,
                   params=[WEBHOOK_ID, _query("limit", {"type": "integer", "minimum": 1,
                                                        "maximum": MAX_DELIVERIES})])
    },
}  # fmt: skip
with_exports(OPENAPI_PATHS["/api/v1/my/alerts"]["get"], "text/csv")
