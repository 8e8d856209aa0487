"""The inspector's desk (``/desk``): the alerts in one's grids, worst first, with the filters,
sorting, paging and exports of the API, and the grid summary with its 30-day "清零" chart.
Server-rendered: it works on a phone without JavaScript."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from api import context
from api.auth import current_principal
from api.inspect_routes import alert_json, filter_from_query
from ledger.domain.alerts import COLOURS
from ledger.domain.clock import local_date
from ledger.rules import RULES
from ledger.services import inspect

blueprint = Blueprint("desk", __name__)
PER_PAGE = 50
CHART = (600, 160, 24)  # width, height, margin of the trend chart, in SVG units


def trend_points(trend: list[dict[str, Any]]) -> dict[str, Any]:
    """The 30-day trend as SVG coordinates: a polyline and the axis labels."""
    width, height, margin = CHART
    top = max([day["open"] for day in trend] + [1])
    step = (width - 2 * margin) / max(len(trend) - 1, 1)
    points = [
        (margin + i * step, height - margin - (day["open"] / top) * (height - 2 * margin))
        for i, day in enumerate(trend)
    ]
    return {
        "polyline": " ".join(f"{x:.1f},{y:.1f}" for x, y in points),
        "top": top,
        "first": trend[0]["date"] if trend else "",
        "last": trend[-1]["date"] if trend else "",
        "width": width,
        "height": height,
        "margin": margin,
    }


@blueprint.get("/desk")
def desk() -> BaseResponse | str | tuple[str, int]:
    principal = current_principal()
    if principal is None or principal.user_id is None:
        return redirect(url_for("account.login_form", next=request.full_path.rstrip("?")))
    if not principal.has_any(("inspector", "admin")):
        return render_template("not_found.html", message="这一页供监管人员使用 / This page is for inspectors"), 403
    wanted = filter_from_query()
    page = max(1, int(request.args.get("page", "1"))) if request.args.get("page", "1").isdigit() else 1
    settings = context.settings()
    today = local_date(datetime.now(UTC), settings.time_zone)
    with context.reading() as session:
        found, total = inspect.list_alerts(session, principal, wanted, page, PER_PAGE)
        summary = inspect.summary(session, principal, wanted.grid, today, settings.time_zone)
    query = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "desk.html",
        alerts=[alert_json(a) for a in found],
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        query=query,
        page_url=lambda number: f"{url_for('desk.desk')}?{urlencode({**query, 'page': number})}",
        export_url=lambda kind: f"/api/v1/inspect/alerts?{urlencode({**query, 'format': kind})}",
        summary=summary,
        chart=trend_points(summary["trend"]),
        rules=RULES,
        colours=COLOURS,
        sorts=inspect.SORTS,
    )
