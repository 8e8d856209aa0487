"""The Flask application: ``create_app`` builds one on the configured database.

``flask --app api run`` finds the factory; gunicorn runs ``'api:create_app()'``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from api import (
    account_routes,
    admin_routes,
    assets,
    desk_hazard_routes,
    desk_recall_routes,
    desk_routes,
    epcis_routes,
    equipment_routes,
    food_routes,
    grids_routes,
    home_routes,
    i18n,
    inspect_routes,
    label_picker,
    label_routes,
    ledger_routes,
    notify_routes,
    org_routes,
    problems,
    public_pages,
    resolver_routes,
    results_pages,
    risk_routes,
    scan_routes,
    scanner_routes,
    security,
    trace_routes,
    witness_routes,
)
from ledger.config import Settings
from ledger.db.engine import make_engine


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """``config`` holds ``LEDGER_*`` keys that override the environment (tests use it)."""
    app = assets.AppWithVersionedStatic(__name__, static_folder="../static", static_url_path="/static")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    overrides = {key: str(value) for key, value in (config or {}).items()}
    settings = Settings.from_env({**os.environ, **overrides})
    app.config.update(overrides)
    app.config["LEDGER_SETTINGS"] = settings
    app.extensions["ledger.engine"] = make_engine(settings.database_url)
    problems.register(app)
    security.init_app(app)
    i18n.init_app(app)
    assets.init_app(app)
    for module in (
        ledger_routes,
        witness_routes,
        grids_routes,
        org_routes,
        food_routes,
        scan_routes,
        trace_routes,
        epcis_routes,
        label_routes,
        label_picker,
        resolver_routes,
        equipment_routes,
        inspect_routes,
        notify_routes,
        risk_routes,
        home_routes,
        desk_routes,
        desk_hazard_routes,
        desk_recall_routes,
        account_routes,
        admin_routes,
        scanner_routes,
        public_pages,
        results_pages,
        i18n,
    ):
        app.register_blueprint(module.blueprint)
        # A blueprint module may describe its own operations; /api/v1/openapi.json merges them.
        app.extensions.setdefault("openapi.paths", {}).update(getattr(module, "OPENAPI_PATHS", {}))
    return app
