"""What every admin page shares: who may see it, once-only forms, and error pages that keep what
was typed.

Admin pages are for a person logged in to an organisation with the ``admin`` role.  Anyone else
logged in gets a 403 page; a visitor who is not logged in (or who holds only an API key) is sent
to the login.  The pages are rendered on the server and work without JavaScript.

Forms that create something carry a one-time ``form_id``.  The session remembers the last few
that succeeded and where their result is, so the same form sent again (a reload of the result,
the back button) leads to the first result instead of appending a second entry.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse

from api import context
from api.account_routes import ROLE_NAMES
from api.auth import current_principal
from api.problems import problem
from ledger.domain.access import Principal
from ledger.errors import NotFound

blueprint = Blueprint("admin", __name__, url_prefix="/admin")
F = TypeVar("F", bound=Callable[..., Any])

DONE = "admin.done"  # session key: [form_id, result URL] of the last forms that succeeded
KEEP_DONE = 20
FLASH = "admin"  # the flash category of notices shown after a redirect
_FORM_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")

EXPIRED = _l("This page had expired, so nothing was saved. Check the form and send it again.")
TOO_LARGE = _l("The upload is larger than this server accepts, so nothing was saved.")
SENT_BEFORE = _l("This form had been sent already; it was not carried out a second time.")


@dataclass(frozen=True)
class FormError:
    """A refused form, shown in the page next to what was typed."""

    message: str  # a sentence in the page's language
    field: str | None = None  # the input it is about (marked aria-invalid)
    detail: str | None = None  # the service's own words, for the specifics
    form: str | None = None  # which form of the page; None: the page as a whole


class StaleForm(Exception):
    """A create form without a usable ``form_id``: an old or altered page."""


# endpoint -> (page renderer taking error= and the view's arguments, the form's name)
REFILLS: dict[str, tuple[Callable[..., str], str | None]] = {}


def refilled_by(page: Callable[..., str], form: str | None = None) -> Callable[[F], F]:
    """Register the page a POST view re-renders when the request is refused before the view
    runs (CSRF, size): the handlers below then show the form again with what was typed."""

    def register(view: F) -> F:
        REFILLS[f"{blueprint.name}.{view.__name__}"] = (page, form)
        return view

    return register


def _refusal() -> ResponseReturnValue | None:
    principal = current_principal()
    if principal is None or principal.user_id is None:
        back = request.full_path.rstrip("?") if request.method == "GET" else request.path
        return redirect(url_for("account.login_form", next=back), code=302 if request.method == "GET" else 303)
    if "admin" not in principal.roles:
        return render_template("admin_forbidden.html"), 403
    return None


def admin_page(view: F) -> F:
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        refusal = _refusal()
        return refusal if refusal is not None else view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def admin() -> Principal:
    """The logged-in admin (only called behind :func:`admin_page`)."""
    return cast(Principal, current_principal())


def local_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(context.settings().time_zone)).strftime("%Y-%m-%d %H:%M")


def typed() -> ImmutableMultiDict[str, str]:
    """The submitted form, or nothing when the body was too large to read."""
    try:
        return request.form
    except RequestEntityTooLarge:
        return ImmutableMultiDict()


def page_number() -> int:
    raw = request.args.get("page", "1")
    return max(1, int(raw)) if raw.isascii() and raw.isdigit() and len(raw) < 7 else 1


def render(template: str, **values: Any) -> str:
    return render_template(
        template,
        notices=get_flashed_messages(category_filter=[FLASH]),
        local_time=local_time,
        role_names=ROLE_NAMES,
        **values,
    )


def notice(message: str) -> None:
    flash(message, FLASH)


# -- Once-only forms -------------------------------------------------------------------------------


def new_form_id() -> str:
    return secrets.token_urlsafe(18)


def submitted_form_id() -> str:
    value = typed().get("form_id", "")
    if not _FORM_ID.fullmatch(value):
        raise StaleForm()
    return value


def repeated(form_id: str) -> BaseResponse | None:
    """A redirect to the result when this form succeeded before, else None."""
    for done_id, url in session.get(DONE, []):
        if done_id == form_id:
            notice(str(SENT_BEFORE))
            return redirect(str(url), code=303)
    return None


def remember(form_id: str, url: str) -> None:
    """Call only after the change is committed."""
    session[DONE] = [*session.get(DONE, []), [form_id, url]][-KEEP_DONE:]


# -- Errors ----------------------------------------------------------------------------------------


def _refill(message: str, status: int) -> ResponseReturnValue:
    refusal = _refusal()
    if refusal is not None:
        return refusal
    found = REFILLS.get(request.endpoint or "")
    if found is None:
        return problem(status, "Bad request", message)
    page, form = found
    return page(error=FormError(message, form=form), **(request.view_args or {})), status


@blueprint.errorhandler(CSRFError)
def _csrf_failed(exc: CSRFError) -> ResponseReturnValue:
    return _refill(str(EXPIRED), 400)


@blueprint.errorhandler(StaleForm)
def _stale(exc: StaleForm) -> ResponseReturnValue:
    return _refill(str(EXPIRED), 400)


@blueprint.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> ResponseReturnValue:
    return _refill(str(TOO_LARGE), 413)


@blueprint.errorhandler(NotFound)
def _missing(exc: NotFound) -> ResponseReturnValue:
    refusal = _refusal()
    if refusal is not None:
        return refusal
    return render("admin_missing.html", message=str(exc)), 404


@blueprint.after_request
def _not_cached(response: Response) -> Response:
    # Admin pages show people's email addresses and, once, API keys: no cache may keep them,
    # and the back button must not bring a shown key back from the browser's memory.
    response.headers["Cache-Control"] = "no-store"
    return response
