"""Staff login and logout for the browser pages."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("account", __name__)
