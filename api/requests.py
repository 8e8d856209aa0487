"""Reading request bodies strictly: JSON objects only, with clear problems for anything else."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from flask import Response, request

from api.problems import BadRequest
from ledger.errors import InvalidEntry, LedgerError


class UnsupportedMediaType(LedgerError):
    title = "Unsupported Media Type"
    type = "unsupported-media-type"
    status = 415


def json_object(optional: bool = False) -> dict[str, Any]:
    """The body as a JSON object; with ``optional``, an empty body reads as ``{}``."""
    if optional and not request.get_data():
        return {}
    if not request.is_json:
        raise UnsupportedMediaType("send the body as application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def client_event_id(body: dict[str, Any]) -> str | None:
    """A retry key from the ``Idempotency-Key`` header or the body's ``client_event_id``."""
    value = request.headers.get("Idempotency-Key") or body.pop("client_event_id", None)
    if value is not None and not isinstance(value, str):
        raise BadRequest("client_event_id must be a string")
    return value


def csv_response(rows: list[dict[str, Any]], columns: list[str], filename: str, stamp: str | None = None) -> Response:
    """A list as a CSV download, with a byte-order mark so Excel reads the Chinese correctly;
    ``stamp`` is a first line saying what the export holds (``# …``)."""
    buffer = io.StringIO()
    if stamp is not None:
        csv.writer(buffer, lineterminator="\r\n").writerow([f"# {stamp}"])
    writer = csv.DictWriter(buffer, columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    response = Response("\ufeff" + buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def query_choices(name: str, allowed: Iterable[str]) -> tuple[str, ...]:
    """A comma-separated query parameter, every value one of ``allowed`` (else 422)."""
    known = tuple(allowed)
    values = tuple(v for v in request.args.get(name, "").split(",") if v)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InvalidEntry(f"{name} must be chosen from {', '.join(known)}; unknown: {', '.join(unknown)}")
    return values


def query_int(name: str, default: int, high: int) -> int:
    """A whole-number query parameter from 1 to ``high`` (paging), else 422."""
    value = request.args.get(name, str(default))
    if not value.isdigit() or not 1 <= int(value) <= high:
        raise InvalidEntry(f"{name} must be a whole number from 1 to {high}")
    return int(value)
