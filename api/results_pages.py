"""``/results``: inspection results for everyone (双随机、一公开), no login, no JavaScript needed.

Per area of the grid tree, the random draws (when each was announced, the signed checkpoint
whose root hash seeded it, who was drawn, by which inspectors, with what result and when, each
fact with its ledger seq and the command that re-runs the draw), and per business its current
risk grade with the reasons in sentences.  The pages show what ``/api/v1/public/draws/{seq}``
already publishes and nothing more: names, never contacts, addresses of persons or keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l

from api import context
from api.i18n import page_language
from ledger.domain import risk
from ledger.errors import NotFound
from ledger.services import results

blueprint = Blueprint("results_pages", __name__)
DRAWS_PER_PAGE = 10  # a draw is a block of a dozen lines on a phone
BUSINESSES_PER_PAGE = 50
SEARCH_LIMIT = 50
SEARCH_MAX_CHARS = 100
MAX_PAGE = 10**9  # far past any real list; keeps the number a database integer

GRADE_TEXT = {
    "A": _l("Low risk"),
    "B": _l("Moderate risk"),
    "C": _l("Elevated risk"),
    "D": _l("High risk"),
}
RESULT_TEXT = {
    "compliant": _l("No problems found"),
    "non_compliant": _l("Problems found"),
    "not_found": _l("Not found at the place on record"),
}
PENDING = _l("Result not published yet")
LEVEL_TEXT = {
    "city": _l("City bureau"),
    "district": _l("District bureau"),
    "station": _l("Supervision station"),
    "grid": _l("Management grid"),
}
# Punctuation around the pieces a template joins: full-width in Chinese, as a reader expects.
PUNCTUATION = {
    "zh": {"colon": "：", "stop": "。", "open": "（", "close": "）"},
    "en": {"colon": ": ", "stop": ".", "open": "(", "close": ")"},
}
KIND_TEXT = {
    None: _l("businesses and equipment"),
    "org": _l("businesses"),
    "equipment": _l("equipment units"),
}


class BadRequest(Exception):
    """A query parameter the page cannot use; the message says what would work."""


@dataclass(frozen=True)
class Moment:
    """A stored UTC time as the region reads it, with its ISO form for ``<time datetime>``."""

    iso: str
    text: str


def _local(moment: datetime | None) -> Moment | None:
    if moment is None:
        return None
    here = moment.astimezone(ZoneInfo(context.settings().time_zone))
    return Moment(here.isoformat(), here.strftime("%Y-%m-%d %H:%M"))


def _number(value: float) -> str:
    """2 rather than 2.0, 2.5 as it is."""
    return f"{value:g}"


def reason_sentence(reason: dict[str, Any], days: int) -> str:
    """One row of a grade's reasons, said as a person would: what happened, how often, when."""
    count = reason.get("count", 0)
    num = int(count) if float(count).is_integer() else count
    rule = reason.get("rule")
    if rule == "temperature_excursion":
        return str(ngettext(
            "%(num)d batch it held had a temperature reading outside the product's safe range in the last "
            "%(days)d days",
            "%(num)d batches it held had a temperature reading outside the product's safe range in the last "
            "%(days)d days",
            num, days=days,
        ))  # fmt: skip
    if rule == "untraced_receipt":
        return str(ngettext(
            "%(num)d receipt of uncoded goods, or of goods nobody recorded shipping to it, in the last %(days)d days",
            "%(num)d receipts of uncoded goods, or of goods nobody recorded shipping to it, in the last %(days)d days",
            num, days=days,
        ))  # fmt: skip
    if rule == "shipment_unreceived":
        return str(ngettext(
            "%(num)d shipment still not confirmed as received 48 hours after it left, in the last %(days)d days",
            "%(num)d shipments still not confirmed as received 48 hours after they left, in the last %(days)d days",
            num, days=days,
        ))  # fmt: skip
    if rule == "expired_held":
        return str(ngettext(
            "%(num)d batch still in stock past its expiry date on the day of grading",
            "%(num)d batches still in stock past their expiry date on the day of grading",
            num,
        ))  # fmt: skip
    if rule == "maintained_overdue_days":
        return str(ngettext(
            "%(num)d day of overdue maintenance, added up over the elevators it maintains, in the last %(days)d days",
            "%(num)d days of overdue maintenance, added up over the elevators it maintains, in the last %(days)d days",
            num, days=days,
        ))  # fmt: skip
    if rule == "maintained_late_arrivals":
        return str(ngettext(
            "%(num)d late arrival at an entrapment in an elevator it maintains, in the last %(days)d days",
            "%(num)d late arrivals at entrapments in elevators it maintains, in the last %(days)d days",
            num, days=days,
        ))  # fmt: skip
    # A rule added to the table later still reads sensibly: its own description and the count.
    described = {r.name: r for r in risk.DEFAULT_TABLE.rules}.get(str(rule))
    what = str(rule)
    if described is not None:
        what = described.description_en if page_language() == "en" else described.description_zh
    return str(gettext("%(what)s: %(count)s", what=what, count=_number(float(count))))


def points_text(points: float) -> str:
    return str(ngettext("%(points)s point", "%(points)s points", 1 if points == 1 else 2, points=_number(points)))


def _page_arg(name: str) -> int:
    raw = request.args.get(name, "1")
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise BadRequest(gettext("The page number must be a whole number from 1."))
    return min(int(raw), MAX_PAGE)


def _url_with(endpoint: str, values: dict[str, Any], **changes: Any) -> str:
    """This page's address with some query parameters changed (the others kept)."""
    query = {key: value for key, value in request.args.items() if key not in changes}
    query.update({key: value for key, value in changes.items() if value not in (None, 1)})
    base = url_for(endpoint, **values)
    return f"{base}?{urlencode(query)}" if query else base


def _missing(message: str, status: int = 404) -> tuple[str, int]:
    return render_template("results_not_found.html", message=message, q=""), status


def _render(template: str, **values: Any) -> str:
    return render_template(
        template,
        grade_text=GRADE_TEXT,
        result_text=RESULT_TEXT,
        pending=PENDING,
        level_text=LEVEL_TEXT,
        kind_text=KIND_TEXT,
        local=_local,
        points_text=points_text,
        time_zone=context.settings().time_zone,
        punct=PUNCTUATION.get(page_language(), PUNCTUATION["en"]),
        **values,
    )


@blueprint.get("/results")
def index() -> ResponseReturnValue:
    """The areas with draws or graded businesses, and a search for a business by name."""
    q = request.args.get("q", "").strip()
    error = None
    found: list[results.BusinessGrade] | None = None
    more = False
    with context.reading() as session:
        if len(q) > SEARCH_MAX_CHARS:
            error = gettext("Search with at most %(limit)d characters of the name.", limit=SEARCH_MAX_CHARS)
        elif not q.isprintable():
            error = gettext("Search with the name as it is written, without control characters.")
        elif q:
            found, more = results.search_businesses(session, q, SEARCH_LIMIT)
        areas = results.area_summaries(session)
    page = _render("results.html", q=q, error=error, found=found, more=more, areas=areas, grades=risk.GRADES)
    return page, 422 if error else 200


@blueprint.get("/results/grids/<code>")
def area(code: str) -> ResponseReturnValue:
    """One area's draws (newest first, paged) and its businesses with their grades (paged)."""
    try:
        draws_page, businesses_page = _page_arg("page"), _page_arg("business_page")
    except BadRequest as exc:
        return _missing(str(exc), 400)
    with context.reading() as session:
        try:
            found = results.area_page(session, code, draws_page, DRAWS_PER_PAGE, businesses_page, BUSINESSES_PER_PAGE)
        except NotFound:
            return _missing(gettext("There is no area with code %(code)s.", code=code))
    if draws_page > found.draws.pages or businesses_page > found.businesses.pages:
        return _missing(gettext("This area's lists have fewer pages than that."))
    page_url = {
        "draws": lambda n: _url_with(".area", {"code": code}, page=n) + "#draws",
        "businesses": lambda n: _url_with(".area", {"code": code}, business_page=n) + "#businesses",
    }
    return _render("results_grid.html", area=found, page_url=page_url)


@blueprint.get("/results/orgs/<org_id>")
def business(org_id: str) -> ResponseReturnValue:
    """A business's current grade with its reasons, and every draw that picked it."""
    with context.reading() as session:
        try:
            record = results.business_record(session, org_id, DRAWS_PER_PAGE)
        except NotFound:
            return _missing(gettext("There is no business with id %(id)s.", id=org_id))
    # Each past draw links to the page of its area's list on which it is shown.
    draw_urls = {}
    for item in record.history:
        seq, page = item.draw.announced_seq, record.pages[item.draw.announced_seq]
        query: dict[str, Any] = {"page": page} if page > 1 else {}
        address = url_for(".area", code=item.draw.grid_code, **query)
        draw_urls[seq] = f"{address}#draw-{seq}"
    table = risk.DEFAULT_TABLE
    reasons = [
        {"text": reason_sentence(reason, table.window_days), "points": float(reason.get("points", 0))}
        for reason in record.business.reasons
    ]
    thresholds = {grade: _number(bound) for grade, bound in table.thresholds}
    return _render("results_org.html", record=record, reasons=reasons, draw_urls=draw_urls,
                   window_days=table.window_days, thresholds=thresholds)  # fmt: skip
