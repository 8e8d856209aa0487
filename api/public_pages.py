"""``/e/<code>``: the page the QR code in an elevator car opens (by equipment code or 96333 code).

Who is responsible for the unit, whether it is maintained and inspected on time, how to call
for help, the integrity badge over the unit's ledger entries, and a form to report a problem
without logging in.  The form posts back to the same address and needs no JavaScript; after a
report the browser is redirected (303) to the page, so reloading it never reports twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from markupsafe import Markup, escape

from api import context
from api.problems import problem
from ledger.domain.alerts import half_monthly_colour
from ledger.domain.clock import local_date
from ledger.errors import InvalidEntry, NotFound
from ledger.services import equipment as registry

blueprint = Blueprint("public_pages", __name__)
# Entries the badge checks: the unit's latest ones and the facts the page shows.  Each costs the
# visitor's browser two requests against the per-address rate limit, so not a decade of visits.
CHECKED_ENTRIES = 24
JUST_REPORTED = "public_pages.reported"  # session key: the report just made, shown once

STATUS_TEXT = {
    "ok": _l("On time"),
    "due_soon": _l("Due soon"),
    "overdue": _l("Overdue"),
    "never": _l("No record"),
    "unknown": _l("Not recorded"),
}
TIERS = {
    "half_monthly": _l("half-monthly"),
    "quarterly": _l("quarterly"),
    "half_yearly": _l("half-yearly"),
    "yearly": _l("yearly"),
}
UNIT_STATUS = {
    "stopped": _l("This unit is out of service: do not use it."),
    "scrapped": _l("This unit has been scrapped: do not use it."),
}
REPORT_ERRORS = {
    "description": _l("Describe the problem in 1 to 1,000 characters."),
    "contact": _l("Contact details take at most 200 characters."),
}
EXPIRED = _l("This page had expired: please send the report again.")


@dataclass(frozen=True)
class Status:
    colour: str  # green, blue, yellow, orange, red or grey: the swatch
    text: str  # the same in words: colour is never the only signal


def _today() -> date:
    return local_date(datetime.now(UTC), context.settings().time_zone)


def maintenance_status(clock: dict[str, Any], today: date) -> Status:
    """The half-monthly clock in the supervision plan's colours (blue due soon, then yellow,
    orange and red by days overdue), green when on time."""
    status = clock["status"]
    if status == "overdue":
        return Status(half_monthly_colour((today - date.fromisoformat(clock["due"])).days), STATUS_TEXT[status])
    return Status({"ok": "green", "due_soon": "blue"}.get(status, "grey"), STATUS_TEXT[status])


def inspection_status(status: str) -> Status:
    """Periodic inspection: blue in the month before it is due, red once it is past."""
    return Status({"ok": "green", "due_soon": "blue", "overdue": "red"}.get(status, "grey"), STATUS_TEXT[status])


def badge_seqs(facts: dict[str, Any], history: list[dict[str, Any]]) -> list[int]:
    """The seqs the integrity badge checks: the unit's latest entries and every fact shown."""
    shown = (facts["registered_seq"], facts["updated_seq"], (facts["last_maintenance"] or {}).get("seq"))
    latest = [event["seq"] for event in history][-CHECKED_ENTRIES:]
    return sorted({*latest, *(seq for seq in shown if seq is not None)})


def _not_found(code: str) -> tuple[str, int]:
    # Someone may be reading this inside a stuck car: the hotline comes first, and tappable.
    # The text and its link come from our own catalogue; the only variable part is escaped.
    message = Markup(  # noqa: S704
        gettext(
            'There is no unit with code %(code)s. If someone is trapped, call <a href="tel:96333">96333</a> now; '
            "otherwise check the equipment code or 96333 rescue code on the sign in the car.",
            code=escape(code),
        )
    )
    return render_template("not_found.html", message=message), 404


def _page(code: str, status: int = 200, error: tuple[str, str] | None = None) -> tuple[str, int]:
    """The unit's page; ``error`` is (field, message) of a refused report, the typed text kept."""
    today = _today()
    try:
        with context.reading() as db:
            unit = registry.get_equipment(db, code)
            facts = registry.public_equipment(db, unit, today)
            history = registry.history(db, unit)
    except NotFound:
        return _not_found(code)
    reported = session.get(JUST_REPORTED)
    if reported and reported.get("code") == facts["code"]:
        session.pop(JUST_REPORTED)
    else:
        reported = None
    page = render_template(
        "equipment.html",
        unit=facts,
        maintenance=maintenance_status(facts["maintenance"]["half_monthly"], today),
        due=facts["maintenance"]["half_monthly"]["due"],
        inspection=inspection_status(facts["inspection_status"]),
        tiers=TIERS,
        warning=UNIT_STATUS.get(facts["status"]),
        seqs=badge_seqs(facts, history),
        reported=reported,
        error=error,
        form={"description": request.form.get("description", ""), "contact": request.form.get("contact", "")},
    )
    return page, status


@blueprint.get("/e/<code>")
def equipment_page(code: str) -> ResponseReturnValue:
    return _page(code)


@blueprint.post("/e/<code>")
def report_problem(code: str) -> ResponseReturnValue:
    """The same service as ``POST /api/v1/public/equipment/{code}/reports``, from a plain form."""
    contact = request.form.get("contact", "").strip()
    try:
        with context.writing() as db:
            unit = registry.get_equipment(db, code)
            report, _ = registry.public_report(
                db, unit, request.form.get("description", ""), contact or None, datetime.now(UTC)
            )
            made = {"code": unit.code, "reference": report.reference, "seq": report.seq}
    except NotFound:
        return _not_found(code)
    except InvalidEntry as exc:
        field = "contact" if str(exc).startswith("contact") else "description"
        return _page(code, 422, (field, REPORT_ERRORS[field]))
    session[JUST_REPORTED] = made  # only once the report is committed
    return redirect(url_for(".equipment_page", code=made["code"], _anchor="report"), code=303)


@blueprint.errorhandler(CSRFError)
def _expired(exc: CSRFError) -> ResponseReturnValue:
    """A form from a page left open too long (or from another site): say so, keep the text."""
    code = (request.view_args or {}).get("code", "")
    return _page(code, 400, ("description", EXPIRED))


@blueprint.errorhandler(RateLimitExceeded)
def _too_many(exc: RateLimitExceeded) -> ResponseReturnValue:
    """A person sending the form too often gets the page back with a sentence, not JSON."""
    current = current_app.extensions["ledger.limiter"].current_limit
    wait = max(1, int(current.reset_at - time.time())) if current else 60
    if request.endpoint == "public_pages.report_problem":
        code = (request.view_args or {}).get("code", "")
        message = gettext(
            "Too many reports from your address: try again in %(wait)d seconds. If someone is trapped, call 96333 now.",
            wait=wait,
        )
        page, _ = _page(code, error=("description", message))
        response = current_app.make_response((page, 429))
    else:
        detail = f"too many requests from your address ({exc.description}); try again in {wait} seconds"
        response = problem(429, "Too Many Requests", detail, "rate-limited")
    response.headers["Retry-After"] = str(wait)
    return response
