"""RFC 9457 problem details: every error leaves as ``application/problem+json``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from ledger.errors import LedgerError

PROBLEM_JSON = "application/problem+json"
MAX_ID = 2**63 - 1  # ids and seqs are 64-bit signed integers in both databases
log = logging.getLogger(__name__)


class DatabaseInteger(IntegerConverter):
    """``<int:seq>`` up to the largest id a row can have: a larger number names nothing and
    matches no route (404), where it would otherwise overflow the database driver (500)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def problem_type(slug: str) -> str:
    # A URN keeps the type stable across deployments, whatever host serves the API.
    return f"urn:anlian:problem:{slug}"


def problem(status: int, title: str, detail: str | None = None, slug: str | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {
        "type": problem_type(slug) if slug else "about:blank",
        "title": title,
        "status": status,
        "instance": request.path,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)


class BadRequest(LedgerError):
    title = "Bad request"
    type = "bad-request"
    status = 400


def register(app: Flask) -> None:
    # Registered here, before any blueprint adds its rules, so that every <int:...> is bounded.
    app.url_map.converters["int"] = DatabaseInteger

    @app.errorhandler(LedgerError)
    def _ledger_error(exc: LedgerError) -> Response:
        if exc.status >= 500:
            log.error("ledger error: %s", exc)
        extra = {} if exc.index is None else {"index": exc.index}
        response = problem(exc.status, exc.title, str(exc), exc.type, **extra)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="anlian"'
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        return problem(status, exc.name, exc.description)

    @app.errorhandler(OperationalError)
    def _database_down(exc: OperationalError) -> Response:
        log.warning("database unavailable: %s", exc)
        response = problem(
            503, "Service Unavailable", "the database is not reachable; try again shortly", "database-unavailable"
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "Internal Server Error", "an unexpected error was logged", "internal")
