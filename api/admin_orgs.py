"""``/admin/orgs``: the list of organisations with its filters, and registering one.

Registering calls ``ledger.services.orgs.create_organisation``, as ``POST /api/v1/orgs`` does,
with the same validation, and answers with the new organisation's page showing its first API key
once (see ``admin_org_detail``).
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.wrappers import Response as BaseResponse

from api import context
from api.admin_common import (
    FormError,
    admin,
    admin_page,
    blueprint,
    new_form_id,
    page_number,
    refilled_by,
    remember,
    render,
    repeated,
    submitted_form_id,
    typed,
)
from api.admin_org_detail import NewKey, org_page
from ledger.db.tables import Grid, Organisation, OrgScope, Site, User
from ledger.domain.grids import ancestors
from ledger.domain.orgs import CONTACT_FIELDS, ROLES, parse_key_prefix
from ledger.errors import InvalidEntry, LedgerError
from ledger.services import orgs
from ledger.services.grids import grid_codes_under

PER_PAGE = 50
CREATE_ERRORS = {
    "name": _l("Enter the organisation's name, 1 to 200 characters."),
    "roles": _l("Choose at least one role."),
    "uscc": _l("This is not a valid unified social credit code."),
    "uscc_taken": _l("Another organisation is already registered with this unified social credit code."),
    "contact": _l("Contact details take at most 200 characters."),
    "scopes": _l("Some of these grid codes are not in the grid tree; import the grid tree first."),
    None: _l("The organisation could not be registered."),
}


def _orgs_page(error: FormError | None = None, form_id: str | None = None) -> str:
    role = request.args.get("role", "")
    grid = request.args.get("grid", "").strip()
    q = request.args.get("q", "").strip()
    page = page_number()
    with context.reading() as session:
        query = select(Organisation).order_by(Organisation.name, Organisation.id)
        if grid:
            # Businesses with a site in the node or below it, and the bureaus answering for it:
            # their scope is the node, a node below it, or one above it (a district covers its grids).
            below = grid_codes_under(session, [grid])
            parent_of: dict[str, str | None] = dict(session.execute(select(Grid.code, Grid.parent_code)).all())
            overseers = sorted(below | set(ancestors(grid, parent_of)))
            in_grid = select(OrgScope.org_id).where(OrgScope.grid_code.in_(overseers))
            with_site = select(Site.org_id).where(Site.grid_code.in_(sorted(below)))
            query = query.where(Organisation.id.in_(in_grid.union(with_site)))
        needle = q.casefold()
        found = [
            org
            for org in session.scalars(query)
            if (not role or role in org.roles) and (not q or needle in org.name.casefold() or q == org.id)
        ]
        shown = found[(page - 1) * PER_PAGE : page * PER_PAGE]
        people = dict(
            session.execute(
                select(User.org_id, func.count())
                .where(User.org_id.in_([org.id for org in shown]))
                .group_by(User.org_id)
            ).all()
        )
    query_args: dict[str, Any] = {key: value for key, value in {"role": role, "grid": grid, "q": q}.items() if value}
    return render(
        "admin_orgs.html",
        section="orgs",
        orgs=shown,
        total=len(found),
        people=people,
        page=page,
        pages=max(1, -(-len(found) // PER_PAGE)),
        page_url=lambda number: url_for(".orgs_list", **query_args, page=number),
        filters={"role": role, "grid": grid, "q": q},
        roles=sorted(ROLES),
        contact_fields=CONTACT_FIELDS,
        error=error,
        typed=typed() if error else {},
        chosen_roles=typed().getlist("roles") if error else [],
        form_id=form_id or new_form_id(),
    )


@blueprint.get("/orgs")
@admin_page
def orgs_list() -> str:
    return _orgs_page()


def _spec() -> orgs.OrgSpec:
    form = typed()
    contact = {name: form.get(f"contact_{name}", "") for name in CONTACT_FIELDS}
    return orgs.OrgSpec(
        name=form.get("name", ""),
        roles=form.getlist("roles"),
        uscc=form.get("uscc", "").strip() or None,
        contact={name: value for name, value in contact.items() if value.strip()} or None,
        scopes=form.get("scopes", "").replace(",", " ").split(),
        require_signature=form.get("require_signature") == "yes",
    )


def _create_error(exc: LedgerError) -> FormError:
    """Which input the service's refusal is about, from its (stable, English) wording."""
    text = str(exc)
    field: str | None = None
    if isinstance(exc, orgs.AlreadyExists):
        field, key = "uscc", "uscc_taken"
    elif text.startswith("organisation name"):
        field = key = "name"
    elif text.startswith("roles"):
        field = key = "roles"
    elif "social credit code" in text:
        field = key = "uscc"
    elif text.startswith("contact"):
        field, key = "contact_person", "contact"
    elif text.startswith("unknown grid code"):
        field = key = "scopes"
    else:
        key = None
    return FormError(str(CREATE_ERRORS[key]), field, text, "create")


@blueprint.post("/orgs")
@admin_page
@refilled_by(_orgs_page, "create")
def create_org() -> BaseResponse | tuple[str, int]:
    form_id = submitted_form_id()
    earlier = repeated(form_id)
    if earlier is not None:
        return earlier
    try:
        with context.writing() as session:
            created = orgs.create_organisation(session, _spec(), actor=admin().actor)
    except InvalidEntry as exc:
        return _orgs_page(_create_error(exc), form_id), exc.status
    remember(form_id, url_for(".org_detail", org_id=created.org_id))
    new_key = NewKey(parse_key_prefix(created.api_key) or "", created.api_key, first=True)
    return org_page(created.org_id, new_key=new_key), 201
