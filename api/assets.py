"""Static files that a phone on a slow network downloads once.

Every ``url_for('static', ...)`` gets ``?v=`` and the first 12 hex digits of the file's SHA-256,
so a changed file has a new address; a request that names the current version is answered
with a year-long, immutable cache lifetime.  Anything else (an old version, no version) is
served without a lifetime, so browsers revalidate it with the ETag instead of keeping it stale.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, request

ONE_YEAR = 365 * 24 * 3600


@cache
def content_version(folder: str, filename: str) -> str | None:
    # Cached for the life of the process: a deployment restarts the workers.
    path = Path(folder) / filename
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


class AppWithVersionedStatic(Flask):
    """The Flask app, with a cache lifetime for static files that depends on the version asked for."""

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        if filename and self.static_folder and request.args.get("v") == content_version(self.static_folder, filename):
            return ONE_YEAR
        return None


def init_app(app: Flask) -> None:
    @app.url_defaults
    def add_version(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and app.static_folder and "filename" in values and "v" not in values:
            version = content_version(app.static_folder, values["filename"])
            if version is not None:
                values["v"] = version

    @app.after_request
    def immutable(response: Any) -> Any:
        if request.endpoint == "static" and response.cache_control.max_age == ONE_YEAR:
            response.cache_control.immutable = True
        return response
