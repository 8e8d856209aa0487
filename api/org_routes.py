"""``/api/v1/orgs``: organisations, their API keys and signing keys (admin actions are ledger entries)."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("orgs", __name__, url_prefix="/api/v1")
