"""Staff login and logout for the browser pages.

Sentences are gettext message ids in English (see :mod:`api.i18n` for the languages).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as BaseResponse

from api import context
from api.auth import SESSION_USER, current_principal
from ledger.services import users

log = logging.getLogger(__name__)
blueprint = Blueprint("account", __name__)


LOGIN_REFUSED = _l(
    "The email or password is wrong, or the account is locked for a while after repeated wrong tries. "
    "Try again later, or ask your organisation's administrator."
)
LOGGED_OUT = _l("You have logged out.")
NOTICES = {"logged_out": LOGGED_OUT}
ROLE_NAMES = {
    "admin": _l("Administrator"),
    "inspector": _l("Inspector"),
    "producer": _l("Producer"),
    "processor": _l("Processor"),
    "cold_store": _l("Cold store"),
    "carrier": _l("Carrier"),
    "retailer": _l("Retailer"),
    "canteen": _l("Canteen"),
    "maintenance": _l("Maintenance company"),
    "equipment_user": _l("Equipment user"),
    "inspection_agency": _l("Inspection agency"),
}


# Where a person may go from the account page, by the roles that may use each place.
PLACES = (
    (("inspector", "admin"), "/desk", _l("Inspector desk: overdue and untraced")),
    (("inspector", "admin"), "/desk/hazards", _l("Hazards: notices, rectification, closing")),
    (("inspector", "admin"), "/desk/recall", _l("Recall view of a batch")),
    (
        ("producer", "processor", "cold_store", "carrier", "retailer", "canteen", "maintenance"),
        "/scan",
        _l("Scanner: record goods and maintenance visits"),
    ),
    (("producer", "processor"), "/labels", _l("Print batch labels")),
    (("admin",), "/admin", _l("Administration")),
    ((), "/results", _l("Inspection results (public)")),
)
AFTER_LOGIN = "/account"


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site, never another site (no open redirect).

    Browsers treat ``//host``, ``/\\host`` and paths with tabs or newlines in them as other
    hosts, so anything but a plain absolute path becomes the account page.
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return AFTER_LOGIN
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return AFTER_LOGIN
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else AFTER_LOGIN


def _login_page(status: int = 200, email: str = "", error: str | None = None) -> tuple[str, int]:
    notices = [NOTICES[key] for key in get_flashed_messages() if key in NOTICES]
    next_path = safe_next(request.values.get("next"))
    page = render_template("login.html", email=email, error=error, notices=notices, next=next_path)
    return page, status


@blueprint.get("/login")
def login_form() -> tuple[str, int]:
    return _login_page()


@blueprint.post("/login")
def login_submit() -> BaseResponse | tuple[str, int]:
    email = request.form.get("email", "")
    with context.writing() as db:
        result = users.authenticate(db, email, request.form.get("password", ""), datetime.now(UTC))
    if isinstance(result, users.Refusal):
        # Never the typed email of an unknown account: people type passwords into that box.
        log.info("login refused (%s) from %s", result.name.lower(), request.remote_addr)
        return _login_page(401, email=email, error=LOGIN_REFUSED)
    log.info("user %s logged in from %s", result.id, request.remote_addr)
    session.clear()  # a new session (and CSRF token): nothing set before login survives it
    session[SESSION_USER] = result.id
    return redirect(safe_next(request.form.get("next")), code=303)


@blueprint.post("/logout")
def logout() -> BaseResponse:
    session.clear()
    flash("logged_out")
    return redirect(url_for("account.login_form"), code=303)


@blueprint.get("/account")
def account() -> BaseResponse | str:
    principal = current_principal()
    view = None
    if principal is not None and principal.user_id is not None:
        with context.reading() as db:
            view = users.describe(db, principal.user_id)
    if view is None:
        return redirect(url_for("account.login_form", next=request.path))
    roles = [ROLE_NAMES.get(role, role) for role in view.roles]
    places = [(path, name) for allowed, path, name in PLACES if not allowed or set(allowed) & set(view.roles)]
    return render_template("account.html", account=view, roles=roles, places=places)
