"""``/api/v1/grids``: browse and import the supervision grid tree.

Reading is public (the tree of bureaus and grids is not secret); importing is an admin action
and, like every change to the roster, a ledger entry.
"""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Response, jsonify, request

from api import context
from api.auth import current_principal, require_roles
from api.problems import BadRequest, problem
from api.requests import UnsupportedMediaType
from ledger.domain.access import Principal
from ledger.domain.grids import LEVELS, GridCsvError, GridNode, to_csv
from ledger.services import grids

blueprint = Blueprint("grids", __name__, url_prefix="/api/v1")
CSV_TYPE = "text/csv"


@blueprint.errorhandler(GridCsvError)
def _invalid_csv(exc: GridCsvError) -> Response:
    """422 with the line errors as data, so a client can show them next to the file."""
    return problem(
        exc.status,
        exc.title,
        f"{str(exc).splitlines()[0]}; nothing was imported",
        exc.type,
        errors=[{"line": p.line, "message": p.message} for p in exc.problems],
    )


def _optional_arg(name: str, allowed: tuple[str, ...] | None = None) -> str | None:
    value = request.args.get(name)
    # A choice given empty is refused like any other value outside the list.
    if value is not None and allowed is not None and value not in allowed:
        raise BadRequest(f"query parameter '{name}' must be one of {', '.join(allowed)}, got {value!r}")
    return value or None


@blueprint.get("/grids")
def list_grids() -> Response:
    output = _optional_arg("format", ("json", "csv")) or "json"
    with context.reading() as session:
        nodes = grids.list_grids(
            session,
            level=_optional_arg("level", LEVELS),
            parent=_optional_arg("parent"),
            under=_optional_arg("under"),
            q=_optional_arg("q"),
        )
    if output == "csv":
        response = Response(to_csv(nodes), mimetype=CSV_TYPE)
        response.headers["Content-Disposition"] = 'attachment; filename="grids.csv"'
        return response
    return jsonify({"grids": _dicts(nodes)})


@blueprint.get("/grids/<code>")
def grid(code: str) -> Response:
    with context.reading() as session:
        detail = grids.grid_detail(session, code)
    return jsonify(
        {**detail.node.as_dict(), "ancestors": _dicts(detail.ancestors), "children": _dicts(detail.children)}
    )


@blueprint.post("/grids/import")
@require_roles("admin")
def import_grids() -> Response:
    if request.mimetype != CSV_TYPE:
        raise UnsupportedMediaType(f"send the grid CSV with Content-Type: {CSV_TYPE}; got {request.mimetype!r}")
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"the grid CSV must be UTF-8, not {charset}")
    data = request.get_data(cache=False)
    principal = cast(Principal, current_principal())  # require_roles let only an admin in
    with context.writing() as session:
        result = grids.import_grids(session, data, principal.actor)
    return jsonify(result.as_dict())


def _dicts(nodes: list[GridNode]) -> list[dict[str, str | None]]:
    return [node.as_dict() for node in nodes]
