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
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from api import context
from api.charts import batch_temperature_chart
from api.trace_routes import public_batch_data
from ledger.domain.linkset import batch_linkset, link_header
from ledger.errors import LedgerError

blueprint = Blueprint("resolver", __name__)
JSON, LINKSET, HTML = "application/json", "application/linkset+json", "text/html"
ACTIONS = {
    "ship": _l("Shipped"),
    "receive": _l("Received"),
    "store": _l("Stored"),
    "sell": _l("Sold"),
    "dispose": _l("Disposed"),
}
STORAGE = {
    "frozen": _l("Frozen"),
    "chilled": _l("Chilled"),
    "fresh": _l("Fresh"),
    "ambient": _l("Ambient"),
}
DOCUMENTS = {
    "inspection_quarantine": _l("Inspection and quarantine certificate"),
    "customs_declaration": _l("Customs declaration"),
    "disinfection": _l("Disinfection certificate"),
    "test_report": _l("Test report"),
}
EXCURSIONS = {
    "too_warm": _l("too warm"),
    "too_cold": _l("too cold"),
    "gap": _l("no readings"),
}


def _wanted() -> str:
    """The representation asked for; a browser's ``*/*`` after ``text/html`` gets the page."""
    if request.args.get("linkType") in ("linkset", "all"):  # "all" is the older spelling
        return LINKSET
    best = request.accept_mimetypes.best_match([HTML, JSON, LINKSET], default=HTML)
    return best or HTML


def _band(product: dict[str, Any]) -> str:
    name = STORAGE[product["storage_class"]]
    low, high = product["temp_min_c"], product["temp_max_c"]
    if low is None and high is None:
        return str(name)
    if low is None:
        return f"{name} ≤ {high:g} °C"
    if high is None:
        return f"{name} ≥ {low:g} °C"
    return f"{name} {low:g}–{high:g} °C"


def _excursion_text(excursion: dict[str, Any]) -> str:
    what = EXCURSIONS[excursion["kind"]]
    when = excursion["from"][:16].replace("T", " ")
    peak = f" {excursion['extreme_c']:g} °C" if excursion["extreme_c"] is not None else ""
    text: str = gettext(
        "%(when)s %(what)s%(peak)s, %(minutes)d min", when=when, what=what, peak=peak, minutes=excursion["minutes"]
    )
    return text


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
        documents=gettext(", ").join(str(DOCUMENTS.get(d, d)) for d in data["documents"]),
        actions=ACTIONS,
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
