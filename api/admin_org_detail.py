"""``/admin/orgs/<id>``: one organisation — its facts and people, its API keys (issue, revoke)
and its signing keys (register, revoke, require signatures).

Each change calls the same service as ``/api/v1/orgs`` (``ledger.services.orgs``), so it is the
same ledger entry with the admin as its actor.  An API key's secret is in exactly one response:
the page answering the form that made it.  Anlian keeps only its hash, so no page can show it
again, and sending that form again leads to the organisation's page without a second key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import redirect, url_for
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
    refilled_by,
    remember,
    render,
    repeated,
    submitted_form_id,
    typed,
)
from ledger.db.tables import ApiKey, Grid, OrgScope, OrgSigningKey, User
from ledger.errors import InvalidEntry, NotFound
from ledger.services import orgs

EXPIRY_ERROR = _l("The expiry date must be a date after today, or left empty.")
SIGNING_ERRORS = {
    "invalid": _l("Paste the public key as base64 of the raw 32-byte Ed25519 key (44 characters ending in '=')."),
    "revoked": _l("This key was revoked and cannot be registered again: the organisation needs a new key pair."),
}


@dataclass(frozen=True)
class NewKey:
    """A key just issued, shown on this one page and never again."""

    prefix: str
    secret: str
    first: bool  # issued with the organisation


def org_page(org_id: str, error: FormError | None = None, new_key: NewKey | None = None, **_view_args: Any) -> str:
    with context.reading() as session:
        org = orgs.get_org(session, org_id)
        scopes = session.execute(
            select(Grid.code, Grid.name)
            .join(OrgScope, OrgScope.grid_code == Grid.code)
            .where(OrgScope.org_id == org_id)
            .order_by(Grid.code)
        ).all()
        keys = session.scalars(select(ApiKey).where(ApiKey.org_id == org_id).order_by(ApiKey.created_at.desc()))
        signing = session.scalars(
            select(OrgSigningKey).where(OrgSigningKey.org_id == org_id).order_by(OrgSigningKey.created_at.desc())
        )
        people = session.scalars(select(User).where(User.org_id == org_id).order_by(User.email))
        return render(
            "admin_org.html",
            section="orgs",
            org=org,
            scopes=scopes,
            api_keys=list(keys),
            signing_keys=list(signing),
            people=list(people),
            now=datetime.now(UTC),
            new_key=new_key,
            error=error,
            typed=typed() if error else {},
            form_id=new_form_id(),
        )


@blueprint.get("/orgs/<org_id>")
@admin_page
def org_detail(org_id: str) -> str:
    return org_page(org_id)


def _back(org_id: str, anchor: str) -> BaseResponse:
    return redirect(url_for(".org_detail", org_id=org_id, _anchor=anchor), code=303)


def _expiry(raw: str) -> datetime | None:
    """A key with an expiry date works through the end of that day, in the ledger's time zone."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidEntry(f"not a date: {raw!r}") from exc
    return datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(context.settings().time_zone))


@blueprint.post("/orgs/<org_id>/api-keys")
@admin_page
@refilled_by(org_page, "issue")
def issue_key(org_id: str) -> BaseResponse | tuple[str, int]:
    form_id = submitted_form_id()
    earlier = repeated(form_id)
    if earlier is not None:
        return earlier
    try:
        expires_at = _expiry(typed().get("expires_on", ""))
        with context.writing() as session:
            issued = orgs.issue_key(session, org_id, admin().actor, expires_at)
    except InvalidEntry as exc:
        return org_page(org_id, FormError(str(EXPIRY_ERROR), "expires_on", str(exc), "issue")), 422
    remember(form_id, url_for(".org_detail", org_id=org_id, _anchor="api-keys"))
    return org_page(org_id, new_key=NewKey(issued.prefix, issued.api_key, first=False)), 201


@blueprint.post("/orgs/<org_id>/api-keys/<prefix>/revoke")
@admin_page
@refilled_by(org_page)
def revoke_key(org_id: str, prefix: str) -> BaseResponse:
    with context.writing() as session:
        if orgs.get_key(session, prefix).org_id != org_id:
            raise NotFound(f"organisation {org_id} has no API key {prefix}")
        seq = orgs.revoke_key(session, prefix, admin().actor)
    if seq is None:
        notice(gettext("API key %(prefix)s had been revoked already.", prefix=prefix))
    else:
        notice(gettext("API key %(prefix)s is revoked: it no longer works.", prefix=prefix))
    return _back(org_id, "api-keys")


@blueprint.post("/orgs/<org_id>/signing-keys")
@admin_page
@refilled_by(org_page, "signing")
def register_signing_key(org_id: str) -> BaseResponse | tuple[str, int]:
    public_key = "".join(typed().get("public_key", "").split())  # pasted keys often wrap
    try:
        with context.writing() as session:
            key_id, seq = orgs.register_signing_key(session, org_id, public_key, admin().actor)
    except InvalidEntry as exc:
        reason = SIGNING_ERRORS["revoked" if isinstance(exc, orgs.AlreadyExists) else "invalid"]
        return org_page(org_id, FormError(str(reason), "public_key", str(exc), "signing")), exc.status
    if seq is None:
        notice(gettext("Signing key %(key_id)s was registered already.", key_id=key_id))
    else:
        notice(gettext("Signing key %(key_id)s is registered.", key_id=key_id))
    return _back(org_id, "signing-keys")


@blueprint.post("/orgs/<org_id>/signing-keys/<key_id>/revoke")
@admin_page
@refilled_by(org_page)
def revoke_signing_key(org_id: str, key_id: str) -> BaseResponse:
    with context.writing() as session:
        seq = orgs.revoke_signing_key(session, org_id, key_id, admin().actor)
    if seq is None:
        notice(gettext("Signing key %(key_id)s had been revoked already.", key_id=key_id))
    else:
        notice(gettext("Signing key %(key_id)s is revoked.", key_id=key_id))
    return _back(org_id, "signing-keys")


@blueprint.post("/orgs/<org_id>/settings")
@admin_page
@refilled_by(org_page)
def change_settings(org_id: str) -> BaseResponse:
    required = typed().get("require_signature") == "yes"
    with context.writing() as session:
        orgs.set_require_signature(session, org_id, required, admin().actor)
    if required:
        notice(gettext("From now on this organisation's writes must be signed."))
    else:
        notice(gettext("This organisation's writes no longer need a signature."))
    return _back(org_id, "signing-keys")
