"""The GS1 Digital Link resolver on our own host: ``/01/{gtin}/10/{lot}`` is what a batch's QR
code opens.  One URL, three answers by ``Accept``: a phone's browser gets the public page,
``application/json`` the public batch data, ``application/linkset+json`` the GS1 linkset.

Unknown or malformed codes get a helpful page (browsers) or problem+json (clients), never an
error trace: a code that resolves to nothing may be goods that were never registered.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, render_template, request

from api import context
from api.charts import batch_temperature_chart
from api.trace_routes import public_batch_data
from ledger.domain.linkset import batch_linkset, link_header
from ledger.errors import LedgerError

blueprint = Blueprint("resolver", __name__)
JSON, LINKSET, HTML = "application/json", "application/linkset+json", "text/html"
ACTIONS = {
    "ship": ("发货", "Shipped"),
    "receive": ("收货", "Received"),
    "store": ("入库", "Stored"),
    "sell": ("销售", "Sold"),
    "dispose": ("销毁", "Disposed"),
}
STORAGE = {
    "frozen": ("冷冻", "Frozen"),
    "chilled": ("冷藏", "Chilled"),
    "fresh": ("鲜品", "Fresh"),
    "ambient": ("常温", "Ambient"),
}
DOCUMENTS = {
    "inspection_quarantine": "检验检疫证明",
    "customs_declaration": "报关单",
    "disinfection": "消毒证明",
    "test_report": "检测报告",
}
EXCURSIONS = {
    "too_warm": ("温度过高", "too warm"),
    "too_cold": ("温度过低", "too cold"),
    "gap": ("记录中断", "no readings"),
}


def _wanted() -> str:
    """The representation asked for; a browser's ``*/*`` after ``text/html`` gets the page."""
    if request.args.get("linkType") in ("linkset", "all"):  # "all" is the older spelling
        return LINKSET
    best = request.accept_mimetypes.best_match([HTML, JSON, LINKSET], default=HTML)
    return best or HTML


def _band(product: dict[str, Any]) -> str:
    zh, en = STORAGE[product["storage_class"]]
    low, high = product["temp_min_c"], product["temp_max_c"]
    if low is None and high is None:
        return f"{zh} {en}"
    if low is None:
        return f"{zh} {en} ≤ {high:g} °C"
    if high is None:
        return f"{zh} {en} ≥ {low:g} °C"
    return f"{zh} {en} {low:g}–{high:g} °C"


def _excursion_text(excursion: dict[str, Any]) -> str:
    zh, en = EXCURSIONS[excursion["kind"]]
    when = excursion["from"][:16].replace("T", " ")
    peak = f" {excursion['extreme_c']:g} °C" if excursion["extreme_c"] is not None else ""
    return f"{when} {zh} / {en}{peak}, {excursion['minutes']} min"


def _page(data: dict[str, Any]) -> str:
    public_url = context.settings().public_url.rstrip("/")
    for source in data["made_from"]:
        source["href"] = f"{public_url}/01/{source['gtin']}/10/{quote(source['lot'], safe='')}"
    origin = data["origin"]
    return render_template(
        "batch.html",
        batch=data,
        origin=" · ".join(
            v for v in (origin.get("place"), origin.get("city"), origin.get("province"), origin.get("country")) if v
        ),
        storage=_band(data["product"]),
        documents="、".join(DOCUMENTS.get(d, d) for d in data["documents"]),
        actions={key: f"{zh} {en}" for key, (zh, en) in ACTIONS.items()},
        excursion_text=_excursion_text,
        chart=batch_temperature_chart(data),
        json_url=f"/api/v1/public/batches/{data['gtin']}/{quote(data['lot'], safe='')}",
    )


def _not_found(wanted: str, error: LedgerError) -> Response:
    if wanted != HTML:
        raise error
    page = render_template("not_found.html", message=str(error))
    return Response(page, status=error.status, mimetype="text/html")


@blueprint.get("/01/<gtin>/10/<path:lot>")
def resolve_batch(gtin: str, lot: str) -> Response:
    wanted = _wanted()
    try:
        data = public_batch_data(gtin, lot)
    except LedgerError as error:
        return _not_found(wanted, error)
    linkset = _linkset(data)
    if wanted == JSON:
        response = jsonify(data)
    elif wanted == LINKSET:
        response = jsonify(linkset)
        response.mimetype = LINKSET
    else:
        response = Response(_page(data), mimetype="text/html")
    response.headers["Link"] = link_header(linkset)
    response.vary.add("Accept")
    return response


def _linkset(data: dict[str, Any]) -> dict[str, Any]:
    return batch_linkset(
        data["subject"],
        context.settings().public_url,
        data["gtin"],
        data["lot"],
        data["product"]["name_zh"],
        data["product"]["name_en"],
    )
