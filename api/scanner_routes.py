"""The business scanner page (``/scan``): a phone reads a batch's QR code (or the code is typed),
and the scan is kept on the device until ``/api/v1/scans`` has recorded it.

The page is a shell; ``static/js/scanner.js`` queues each scan in IndexedDB under a
``client_event_id`` made when it is taken and posts the queue whenever the network allows, so a
scan taken in a cold store without signal is sent later and, the API being idempotent by that
id, never recorded twice.  Every sentence the script shows is rendered into the page here, so
the wording goes through the same message catalogue as the other pages.
"""

from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as BaseResponse

from api import context
from api.auth import current_principal
from api.camera import CAMERA_TEXTS
from ledger.domain.scans import ACTIONS, FOOD_ROLES
from ledger.services import users

blueprint = Blueprint("scanner", __name__)

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


def _account() -> users.AccountView | None:
    """The logged-in person, if they work for a business that scans goods."""
    principal = current_principal()
    if principal is None or principal.user_id is None or not principal.has_any(FOOD_ROLES):
        return None
    with context.reading() as db:
        return users.describe(db, principal.user_id)


@blueprint.get("/scan")
def scanner() -> BaseResponse:
    account = _account()
    if account is None:
        return redirect(url_for("account.login_form", next=request.path))
    page = render_template(
        "scanner.html",
        account=account,
        actions=ACTION_CHOICES,
        default_action=DEFAULT_ACTION,
        units=UNITS,
        texts=SCRIPT_TEXTS,
    )
    response = make_response(page)
    # The page carries the session's CSRF token: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response
