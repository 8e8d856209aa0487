"""The inspector's desk (``/desk``): the alerts in one's grids, worst first, with the filters,
sorting, paging and exports of the API, and the grid summary with its 30-day "清零" chart.
Server-rendered: it works on a phone without JavaScript."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from api import context
from api.auth import current_principal
from api.inspect_routes import alert_json, filter_from_query
from ledger.db import store
from ledger.db.tables import Hazard, Organisation
from ledger.domain.alerts import COLOURS
from ledger.domain.clock import local_date
from ledger.domain.equipment import subject
from ledger.domain.gs1 import parse_scan
from ledger.errors import InvalidEntry, LedgerError, NotFound
from ledger.rules import RULES
from ledger.services import equipment as registry
from ledger.services import food, inspect, recalls
from ledger.services import maintenance as upkeep

blueprint = Blueprint("desk", __name__)
# Colours are also named in words: colour is never the only signal.
COLOUR_NAMES = {"blue": _l("blue"), "yellow": _l("yellow"), "orange": _l("orange"), "red": _l("red")}
SORT_NAMES = {
    "days_overdue": _l("Most days overdue first"),
    "due_date": _l("Earliest due date first"),
    "opened_at": _l("Newest first"),
}
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
        return render_template("forbidden.html", message=gettext("This page is for inspectors")), 403
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
        colour_names=COLOUR_NAMES,
        sorts={key: SORT_NAMES[key] for key in inspect.SORTS},
    )


def _subject_of(session: Any, code: str) -> tuple[str, Any, Any]:
    """The ledger subject a typed code names, with the unit or batch row behind it."""
    try:
        unit = registry.get_equipment(session, code)
        return subject(unit.code), unit, None
    except NotFound:
        pass
    scanned = parse_scan(code, datetime.now(UTC).date())
    if scanned.lot is None:
        raise InvalidEntry(gettext("This code names a product but no lot: scan the QR code on the batch's label"))
    batch = food.get_batch(session, scanned.gtin14, scanned.lot)
    return food.batch_subject(batch.gtin, batch.lot), None, batch


@blueprint.get("/desk/history")
def history() -> BaseResponse | str | tuple[str, int]:
    """A unit's or a batch's whole history with entry seqs; for a batch, everyone who held it
    (the recall view) with the FSMA 204 exports; for a unit, its clocks and hazards."""
    principal = current_principal()
    if principal is None or principal.user_id is None:
        return redirect(url_for("account.login_form", next=request.full_path.rstrip("?")))
    if not principal.has_any(("inspector", "admin")):
        return render_template("forbidden.html", message=gettext("This page is for inspectors")), 403
    code = request.args.get("code", "").strip()
    settings = context.settings()
    today = local_date(datetime.now(UTC), settings.time_zone)
    with context.reading() as session:
        try:
            subject_name, unit, batch = _subject_of(session, code)
        except LedgerError as exc:
            return render_template("not_found.html", message=str(exc)), exc.status
        names = dict(session.execute(select(Organisation.id, Organisation.name)).all())
        entries = [
            {
                "seq": seq,
                "kind": kind,
                "org": names.get(actor, actor),
                "at": recorded.astimezone(ZoneInfo(settings.time_zone)),
            }
            for seq, kind, actor, recorded in reversed(store.entries_about(session, subject_name))
        ]
        extra: dict[str, Any] = {}
        if batch is not None:
            view = recalls.recall_view(session, batch)
            extra["holders"] = [h.as_dict() for h in view.holders]
            extra["exports"] = {
                kind: f"/api/v1/batches/{batch.gtin}/{quote(batch.lot, safe='')}/recall.{kind}"
                for kind in ("csv", "xlsx")
            }
        if unit is not None:
            extra["clocks"] = upkeep.clocks(session, unit, today, settings.time_zone)
            extra["hazards"] = session.scalars(
                select(Hazard).where(Hazard.equipment_id == unit.id).order_by(Hazard.opened_seq.desc())
            ).all()
        return render_template("desk_history.html", code=code, subject=subject_name, entries=entries, **extra)
