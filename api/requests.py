"""Reading request bodies strictly: JSON objects only, with clear problems for anything else."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from typing import Any

from flask import Response, request

from api.problems import BadRequest
from ledger.errors import InvalidEntry, LedgerError

# Far deeper than any body we take, and shallow enough that every later walk of it (checks,
# RFC 8785 encoding) stays well inside Python's recursion limit.
MAX_DEPTH = 64
# RFC 7493 (I-JSON): the integers every JSON reader agrees on, and all RFC 8785 can encode.
SAFE_INTEGER = 2**53 - 1


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
    body = _parse(request.get_data())
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    _check_values(body)
    return body


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _parse(data: bytes) -> Any:
    """The body as JSON (RFC 8259: UTF-8, no NaN or Infinity); anything else is a 400."""
    try:
        return json.loads(data, parse_constant=_not_json)
    except RecursionError as exc:
        raise BadRequest(f"the body nests more than {MAX_DEPTH} levels") from exc
    except ValueError as exc:  # malformed, or not UTF-8 (UnicodeDecodeError is a ValueError)
        raise BadRequest(f"the body must be a JSON object: {exc}") from exc


def _check_values(body: dict[str, Any]) -> None:
    """Refuse what would fail deeper down: nesting beyond ``MAX_DEPTH`` (400), and numbers no
    ledger entry can hold (422): integers beyond I-JSON's range, or too large for a double."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise BadRequest(f"the body nests more than {MAX_DEPTH} levels")
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > SAFE_INTEGER:
            raise InvalidEntry(f"{value} is out of range: integers must be within ±{SAFE_INTEGER} (RFC 7493)")
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidEntry("a number in the body is too large for a 64-bit floating-point value")


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


def query_format(*allowed: str) -> str:
    """The ``format`` query parameter, one of ``allowed`` (the first when it is absent), else 422:
    a misspelt ``format=cvs`` is told so instead of quietly answered in JSON."""
    value = request.args.get("format", allowed[0])
    if value not in allowed:
        raise InvalidEntry(f"format must be {' or '.join(allowed)}")
    return value


def query_int(name: str, default: int, high: int) -> int:
    """A whole-number query parameter from 1 to ``high`` (paging), else 422."""
    value = request.args.get(name, str(default))
    if not value.isdigit() or not 1 <= int(value) <= high:
        raise InvalidEntry(f"{name} must be a whole number from 1 to {high}")
    return int(value)
