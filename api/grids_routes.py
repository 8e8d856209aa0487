"""``/api/v1/grids``: browse and import the supervision grid tree."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("grids", __name__, url_prefix="/api/v1")
