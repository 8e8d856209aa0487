"""``/admin/people``: staff accounts — who they are, their organisation and its roles; creating,
disabling, enabling and unlocking them through ``ledger.services.users``.

Accounts are not ledger entries (an email address has no place in a public ledger), so these
forms append nothing; a person's roles are their organisation's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import redirect, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from api import context
from api.admin_common import (
    FormError,
    admin,
    admin_page,
    blueprint,
    new_form_id,
    notice,
    page_number,
    refilled_by,
    remember,
    render,
    repeated,
    submitted_form_id,
    typed,
)
from ledger.db.tables import Organisation, User
from ledger.domain.passwords import is_locked
from ledger.errors import LedgerError, NotFound
from ledger.services import users

PER_PAGE = 50
CREATE_ERRORS = {
    "email": _l("Enter the person's email address, such as name@example.cn."),
    "taken": _l("There is an account with this email address already."),
    "org_id": _l("Choose the person's organisation."),
    "password": _l("Choose another initial password."),
    "password_repeat": _l("The two passwords are not the same."),
}
OWN_ACCOUNT = _l("You cannot disable your own account: ask another administrator.")


def _people_page(error: FormError | None = None, form_id: str | None = None, **_view_args: object) -> str:
    q = request.args.get("q", "").strip()
    needle = q.casefold()
    org_filter = request.args.get("org", "").strip()
    page = page_number()
    now = datetime.now(UTC)
    with context.reading() as session:
        query = select(User, Organisation).join(Organisation, Organisation.id == User.org_id).order_by(User.email)
        if org_filter:
            query = query.where(User.org_id == org_filter)
        rows = [(user, org) for user, org in session.execute(query) if not needle or needle in user.email]
        shown = rows[(page - 1) * PER_PAGE : page * PER_PAGE]
        people = [
            {
                "id": user.id,
                "email": user.email,
                "org": org,
                "created_at": user.created_at,
                "disabled": user.disabled,
                "locked_until": user.locked_until if is_locked(user.locked_until, now) else None,
            }
            for user, org in shown
        ]
        choices = session.execute(select(Organisation.id, Organisation.name).order_by(Organisation.name)).all()
    query_args: dict[str, Any] = {key: value for key, value in {"q": q, "org": org_filter}.items() if value}
    form = typed() if error else {}
    return render(
        "admin_people.html",
        section="people",
        people=people,
        total=len(rows),
        page=page,
        pages=max(1, -(-len(rows) // PER_PAGE)),
        page_url=lambda number: url_for(".people_list", **query_args, page=number),
        filters={"q": q, "org": org_filter},
        orgs=choices,
        chosen_org=form.get("org_id", org_filter),
        me=admin().user_id,
        error=error,
        typed=form,
        form_id=form_id or new_form_id(),
    )


@blueprint.get("/people")
@admin_page
def people_list() -> str:
    return _people_page()


def _create_error(exc: LedgerError) -> FormError:
    field = {
        users.InvalidEmail: "email",
        users.UserExists: "email",
        users.WeakPassword: "password",
        NotFound: "org_id",
    }.get(type(exc))
    key = "taken" if isinstance(exc, users.UserExists) else field
    # A weak password's reasons are already bilingual sentences for people; the others are not.
    detail = str(exc) if isinstance(exc, users.WeakPassword | users.InvalidEmail) else None
    return FormError(str(CREATE_ERRORS[key or "email"]), field, detail, "create")


@blueprint.post("/people")
@admin_page
@refilled_by(_people_page, "create")
def create_person() -> BaseResponse | tuple[str, int]:
    form_id = submitted_form_id()
    earlier = repeated(form_id)
    if earlier is not None:
        return earlier
    form = typed()
    password = form.get("password", "")
    if password != form.get("password_repeat", ""):
        error = FormError(str(CREATE_ERRORS["password_repeat"]), "password_repeat", None, "create")
        return _people_page(error, form_id), 422
    try:
        with context.writing() as session:
            created = users.create_user(session, form.get("email", ""), form.get("org_id", ""), password)
            email, user_id = created.email, created.id
    except (users.InvalidEmail, users.UserExists, users.WeakPassword, NotFound) as exc:
        return _people_page(_create_error(exc), form_id), exc.status
    where = url_for(".people_list", _anchor=f"person-{user_id}")
    remember(form_id, where)
    notice(
        gettext(
            "Account created for %(email)s. Give the person the initial password yourself, not by email.",
            email=email,
        )
    )
    return redirect(where, code=303)


def _changed(user_id: int, message: str) -> BaseResponse:
    notice(message)
    return redirect(url_for(".people_list", _anchor=f"person-{user_id}"), code=303)


@blueprint.post("/people/<int:user_id>/disable")
@admin_page
@refilled_by(_people_page)
def disable_person(user_id: int) -> BaseResponse | tuple[str, int]:
    if user_id == admin().user_id:
        return _people_page(FormError(str(OWN_ACCOUNT))), 409
    with context.writing() as session:
        email = users.set_disabled(session, user_id, True).email
    return _changed(user_id, gettext("%(email)s can no longer log in.", email=email))


@blueprint.post("/people/<int:user_id>/enable")
@admin_page
@refilled_by(_people_page)
def enable_person(user_id: int) -> BaseResponse:
    with context.writing() as session:
        email = users.set_disabled(session, user_id, False).email
    return _changed(user_id, gettext("%(email)s can log in again.", email=email))


@blueprint.post("/people/<int:user_id>/unlock")
@admin_page
@refilled_by(_people_page)
def unlock_person(user_id: int) -> BaseResponse:
    with context.writing() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"there is no account {user_id}")
        email = users.unlock(session, user.email).email
    return _changed(user_id, gettext("%(email)s is unlocked and can try to log in again.", email=email))
