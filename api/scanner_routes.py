"""The business scanner page (``/scan``): a phone reads a batch's QR code (or the code is typed),
and the scan is kept on the device until ``/api/v1/scans`` has recorded it.  Staff of an
elevator maintenance company use the same page to check in at a unit by its QR code and to
record the visit (TSG T5002 checklist) at check-out.

The page is a shell; ``static/js/scanner.js`` queues each scan in IndexedDB under a
``client_event_id`` made when it is taken and posts the queue whenever the network allows, so a
scan taken in a cold store without signal is sent later and, the API being idempotent by that
id, never recorded twice.  ``static/js/maintenance-form.js`` puts check-ins and maintenance
records on the same queue.  Every sentence the scripts show is rendered into the page here, so
the wording goes through the same message catalogue as the other pages; so is the whole
checklist, so a technician in a machine room without signal still has it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as BaseResponse

from api import context
from api.auth import current_principal
from api.camera import CAMERA_TEXTS
from api.home_routes import EQUIPMENT_CODE, EQUIPMENT_LINK
from ledger.domain import maintenance
from ledger.domain.scans import ACTIONS, FOOD_ROLES
from ledger.services import users

blueprint = Blueprint("scanner", __name__)

MAINTENANCE_ROLES = ("maintenance",)
ACTION_NAMES = {
    "ship": _l("Ship"),
    "receive": _l("Receive"),
    "store": _l("Store"),
    "sell": _l("Sell"),
    "dispose": _l("Dispose"),
}
# Built from the domain's list so that a new action fails here at import, not silently on the page.
ACTION_CHOICES = tuple((action, ACTION_NAMES[action]) for action in ACTIONS)
DEFAULT_ACTION = "receive"
UNITS = ("箱", "件", "袋", "kg", "吨")

# The maintenance words, keyed by the domain's own values: a new tier, result or fault level
# fails here at import instead of leaving a choice without a name on the page.
TIER_NAMES = {
    "half_monthly": _l("Half-monthly"),
    "quarterly": _l("Quarterly"),
    "half_yearly": _l("Half-yearly"),
    "yearly": _l("Yearly"),
}
RESULT_NAMES = {
    "ok": _l("OK"),
    "adjusted": _l("Adjusted"),
    "replaced": _l("Replaced"),
    "fault": _l("Fault"),
    "not_applicable": _l("Not applicable"),
}
FAULT_LEVEL_NAMES = {"general": _l("General"), "major": _l("Major")}
TIER_CHOICES = tuple((tier, TIER_NAMES[tier]) for tier in maintenance.TIERS)
RESULT_CHOICES = tuple((result, RESULT_NAMES[result]) for result in maintenance.RESULTS)
FAULT_LEVEL_CHOICES = tuple((level, FAULT_LEVEL_NAMES[level]) for level in maintenance.FAULT_LEVELS)
DEFAULT_TIER = "half_monthly"  # by far the most frequent visit
# The certificate rule and the visit's longest span, as the domain checks them, so the form
# stops a typo on the phone instead of the record coming back refused hours later.
CERTIFICATE_PATTERN = maintenance._CERTIFICATE.pattern
MAX_VISIT_HOURS = maintenance.MAX_VISIT.total_seconds() / 3600

# What the script says, keyed by the name it asks for; ``{n}`` and ``{seq}`` are filled in there.
SCRIPT_TEXTS = {
    "state-queued": _l("Queued"),
    "state-sending": _l("Sending"),
    "state-sent": _l("Recorded"),
    "state-refused": _l("Refused"),
    "seq": _l("Ledger seq {seq}"),
    "replayed": _l("Recorded earlier; not recorded twice"),
    "retry-network": _l("The last try failed (no network); it will be retried."),
    "retry-answer": _l("The last try failed (the answer did not come from this system); it will be retried."),
    "retry-status": _l("The last try failed (the server answered {status}); it will be retried."),
    "send-again": _l("Send again"),
    "remove": _l("Remove"),
    "saved": _l("Saved on this device, waiting to be sent."),
    "sent-announce": _l("{n} sent to the ledger."),
    "refused-announce": _l("A scan was refused; the reason is in the list."),
    "summary": _l("{queued} queued, {refused} refused."),
    **CAMERA_TEXTS,
    "quantity-positive": _l("The quantity must be more than 0."),
    "storage-failed": _l(
        "This browser cannot keep scans on the device (private mode?): offline scans are lost if the page reloads."
    ),
    **{f"action-{action}": name for action, name in ACTION_CHOICES},
}

MAINTENANCE_TEXTS = {
    "kind-check-in": _l("Check-in"),
    "kind-maintenance": _l("{tier} maintenance record"),
    **{f"tier-{tier}": name for tier, name in TIER_CHOICES},
    "answered": _l("{n} items answered"),
    "faults": _l("Faults: {n}"),
    "hazards-opened": _l("Hazards opened: {n}"),
    "waits-check-in": _l("Sent once its check-in is recorded."),
    "visit-check-in": _l("Check in"),
    "visit-record": _l("Record the visit"),
    "visit-checked-in": _l("Checked in at this unit on this device at {time}."),
    "visit-not-checked-in": _l("No check-in at this unit on this device: enter the time you checked in."),
    "visit-saved-check-in": _l("Checked in at {time}. Saved on this device, waiting to be sent."),
    "visit-saved-record": _l("Maintenance record saved on this device, waiting to be sent."),
    "visit-code-invalid": _l(
        "This is not an elevator's code: scan the QR code in the car, or type the unit's code or its 96333 number."
    ),
    "visit-unanswered": _l("{n} items are not answered yet."),
    "visit-technicians-min": _l("A visit needs at least two certified technicians."),
    "visit-technician-same": _l("The technicians must be different people: this certificate number is listed twice."),
    "visit-certificate": _l("The certificate number is 6 to 30 letters or digits, without spaces or dashes."),
    "visit-value-below": _l("Below the standard's {min} {unit}: answer Fault, or enter the reading after the repair."),
    "visit-check-in-future": _l("The check-in time cannot be in the future."),
    "visit-check-in-old": _l(
        "The check-in was more than {hours} hours ago: a visit is recorded by itself, within {hours} hours."
    ),
    "visit-technician": _l("Technician {n}"),
}


@dataclass(frozen=True)
class ChecklistGroup:
    """One table of TSG T5002 annex A: a tier's own items (a visit also answers the lower tiers')."""

    tier: str
    rank: int
    table: str
    name: str
    items: tuple[maintenance.Item, ...]


def checklist_groups() -> tuple[ChecklistGroup, ...]:
    """Every tier's table, in the standard's order; the page shows those a chosen tier covers."""
    tables = maintenance.source()["tables"]
    return tuple(
        ChecklistGroup(
            tier=tier,
            rank=rank,
            table=str(tables[tier]),
            name=str(TIER_NAMES[tier]),
            items=tuple(item for item in maintenance.all_items() if item.tier == tier),
        )
        for rank, tier in enumerate(maintenance.TIERS)
    )


@dataclass(frozen=True)
class Visitor:
    account: users.AccountView
    food: bool  # works for a business that scans goods
    maintenance: bool  # works for an elevator maintenance company


def _visitor() -> Visitor | None:
    """The logged-in person, if they work for a business that scans goods or maintains elevators."""
    principal = current_principal()
    if principal is None or principal.user_id is None:
        return None
    food, upkeep = principal.has_any(FOOD_ROLES), principal.has_any(MAINTENANCE_ROLES)
    if not (food or upkeep):
        return None
    with context.reading() as db:
        account = users.describe(db, principal.user_id)
    return None if account is None else Visitor(account, food, upkeep)


@blueprint.get("/scan")
def scanner() -> BaseResponse:
    visitor = _visitor()
    if visitor is None:
        return redirect(url_for("account.login_form", next=request.path))
    texts = {**SCRIPT_TEXTS, **(MAINTENANCE_TEXTS if visitor.maintenance else {})}
    page = render_template(
        "scanner.html",
        account=visitor.account,
        food=visitor.food,
        maintenance=visitor.maintenance,
        actions=ACTION_CHOICES,
        default_action=DEFAULT_ACTION,
        units=UNITS,
        texts=texts,
        tiers=TIER_CHOICES,
        default_tier=DEFAULT_TIER,
        results=RESULT_CHOICES,
        fault_levels=FAULT_LEVEL_CHOICES,
        checklist=checklist_groups() if visitor.maintenance else (),
        equipment_code=EQUIPMENT_CODE.pattern,
        equipment_link=EQUIPMENT_LINK.pattern,
        certificate=CERTIFICATE_PATTERN,
        min_technicians=maintenance.MIN_TECHNICIANS,
        max_visit_hours=f"{MAX_VISIT_HOURS:g}",
    )
    response = make_response(page)
    # The page carries the session's CSRF token: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response
