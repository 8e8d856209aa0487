"""Sessions, CSRF, rate limits, request size limits and security headers."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Wire the protections into ``app``."""
