"""The inspector's hazard pages (隐患闭环): ``/desk/hazards`` lists the hazards in one's grids with
filters, sorting, paging and a stamped CSV export; ``/desk/hazards/<hazard_seq>`` shows one
hazard with every step's ledger seq and the forms for the moves the inspector may make now
(issue the notice with its deadline and addressee, send back, verify and close on a
satisfying entry), and, until it is closed, list it for supervised rectification (挂牌督办) or
lift that, and give it to a person of the bureau to follow up.

Server-rendered forms without JavaScript.  Each form carries a fresh ``client_event_id``, so a
form sent twice (a double tap, a resend after a lost answer) moves the hazard once; a refused
move comes back as the page with the reason and everything typed kept.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from api import context
from api.auth import current_principal
from api.requests import csv_response
from ledger.db.tables import Equipment, Grid, Hazard, LedgerEntry, Organisation, User
from ledger.domain.access import Forbidden, Principal
from ledger.domain.clock import local_date, parse_date
from ledger.domain.equipment import COLOURS, HAZARD_STATES, subject
from ledger.errors import InvalidEntry, LedgerError, NotFound
from ledger.services import hazards
from ledger.services.grids import grid_codes_under, in_scope

blueprint = Blueprint("desk_hazards", __name__)
PER_PAGE = 50
VIEWERS = ("inspector", "admin")
JUST_MOVED = "desk_hazards.moved"  # session key: the move just made, confirmed once on the page

STATE_NAMES = {
    "found": _l("Found"),
    "issued": _l("Notice issued"),
    "rectifying": _l("Being rectified"),
    "to_verify": _l("Awaiting verification"),
    "closed": _l("Closed"),
}
LEVEL_NAMES = {"general": _l("General"), "major": _l("Major")}
SOURCE_NAMES = {
    "inspection": _l("Periodic inspection"),
    "maintenance": _l("Maintenance visit"),
    "public_report": _l("Public report"),
    "inspector_visit": _l("Inspector's visit"),
    "entrapment": _l("Entrapment"),
}
# "open" (every state but closed) is what an inspector works down; "all" includes the closed.
STATE_CHOICES = ("open", *HAZARD_STATES, "all")
STATE_CHOICE_NAMES = {"open": _l("Not closed"), **STATE_NAMES, "all": _l("All")}
SORT_NAMES = {"deadline": _l("Deadline, soonest first"), "opened": _l("Newest first"), "severity": _l("Gravest first")}
# Major before general, then red → blue, then the nearer deadline.
SORTS: dict[str, tuple[Any, ...]] = {
    "deadline": (Hazard.deadline, Hazard.opened_seq),
    "opened": (Hazard.opened_seq.desc(),),
    "severity": (
        case((Hazard.level == "major", 0), else_=1),
        case({colour: rank for rank, colour in enumerate(COLOURS)}, value=Hazard.colour, else_=0).desc(),
        Hazard.deadline,
        Hazard.opened_seq,
    ),
}
CSV_COLUMNS = [
    "hazard_seq", "equipment_code", "address", "grid_code", "level", "colour", "status", "status_zh",
    "supervised", "description", "source", "source_seq", "responsible_org_id", "responsible_org",
    "deadline", "days_overdue", "escalations", "updated_seq", "closed_by_seq", "assignee_user_id", "assignee",
]  # fmt: skip
# The moves an inspector makes from each state, in the order the forms appear.
INSPECTOR_MOVES = {"found": ("issued",), "to_verify": ("closed", "rectifying")}
MOVE_NAMES = {
    "issued": _l("Issue the rectification notice"),
    "closed": _l("Verify and close"),
    "rectifying": _l("Send back for more rectification"),
}
# The forms beside the moves between states, by the endpoint they are sent to.
SIDE_FORMS = {"desk_hazards.supervision": "supervision", "desk_hazards.assignment": "assignment"}
HAZARD_KINDS = ("hazard.opened", "hazard.transitioned", "hazard.escalated", "hazard.supervision_changed",
                "hazard.assigned")  # fmt: skip


def _today() -> date:
    return local_date(datetime.now(UTC), context.settings().time_zone)


def desk_principal() -> Principal | ResponseReturnValue:
    """The logged-in inspector or admin; anyone else is sent to log in or turned away."""
    principal = current_principal()
    if principal is None or principal.user_id is None:
        return redirect(url_for("account.login_form", next=request.full_path.rstrip("?")))
    if not principal.has_any(VIEWERS):
        return render_template("not_found.html", message=gettext("This page is for inspectors")), 403
    return principal


def form_event_id() -> str | None:
    """The form's ``client_event_id``: the page puts a UUID there; anything else is refused
    before it reaches the ledger's idempotency lookup."""
    value = request.form.get("client_event_id", "")
    if not value:
        return None
    if len(value) > 200 or not value.isascii() or not value.isprintable():
        raise InvalidEntry("client_event_id must be up to 200 printable ASCII characters")
    return value


def grids_in_view(db: Session, principal: Principal) -> set[str] | None:
    """The grid codes the caller oversees; None for an admin, who sees every grid."""
    if "admin" in principal.roles:
        return None
    return grid_codes_under(db, principal.scopes)


# --- the list -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HazardFilter:
    state: str = "open"
    grid: str | None = None
    supervised: bool = False
    overdue: bool = False
    mine: bool = False  # only the hazards the logged-in person follows up
    unit: str | None = None
    sort: str = "deadline"

    def describe(self) -> str:
        """The filters in words, for the stamp on an export."""
        parts = [f"{name}={value}" for name, value in self.__dict__.items() if value not in (None, False, "")]
        return "; ".join(parts)


def filter_from_query() -> HazardFilter:
    args = request.args
    state = args.get("state") or "open"
    if state not in STATE_CHOICES:
        raise InvalidEntry(f"state must be one of {', '.join(STATE_CHOICES)}")
    sort = args.get("sort") or "deadline"
    if sort not in SORTS:
        raise InvalidEntry(f"sort must be one of {', '.join(SORTS)}")
    unit = args.get("unit", "").strip().upper() or None
    if unit is not None and (len(unit) > 32 or not (unit.isascii() and unit.isalnum())):
        raise InvalidEntry("unit must be (the start of) an equipment code: digits and capital letters")
    flags = {}
    for name in ("supervised", "overdue", "mine"):
        if args.get(name, "") not in ("", "1"):
            raise InvalidEntry(f"{name} is 1 or left out")
        flags[name] = args.get(name) == "1"
    return HazardFilter(state, args.get("grid", "").strip() or None, unit=unit, sort=sort, **flags)


def _query(
    db: Session, principal: Principal, wanted: HazardFilter, today: date
) -> Select[Hazard, str, str, str, str | None]:
    query = (
        select(Hazard, Equipment.code, Equipment.address, Organisation.name, User.email)
        .join(Equipment, Equipment.id == Hazard.equipment_id)
        .join(Organisation, Organisation.id == Hazard.responsible_org_id)
        .outerjoin(User, User.id == Hazard.assignee_user_id)
    )
    grids = grids_in_view(db, principal)
    if wanted.grid is not None:
        if grids is not None and wanted.grid not in grids:
            raise Forbidden(f"grid {wanted.grid} is outside the grids you oversee")
        grids = grid_codes_under(db, [wanted.grid])
    if grids is not None:
        query = query.where(Hazard.grid_code.in_(sorted(grids)))
    if wanted.state == "open":
        query = query.where(Hazard.status != "closed")
    elif wanted.state != "all":
        query = query.where(Hazard.status == wanted.state)
    if wanted.supervised:
        query = query.where(Hazard.supervised.is_(True))
    if wanted.overdue:
        query = query.where(Hazard.status != "closed", Hazard.deadline < today)
    if wanted.mine:
        query = query.where(Hazard.assignee_user_id == principal.user_id)
    if wanted.unit is not None:
        query = query.where(Equipment.code.startswith(wanted.unit, autoescape=True))
    return query.order_by(*SORTS[wanted.sort])


def days_overdue(hazard: Hazard, today: date) -> int:
    return max(0, (today - hazard.deadline).days) if hazard.status != "closed" else 0


def hazard_row(
    hazard: Hazard, code: str, address: str, responsible: str, today: date, assignee: str | None = None
) -> dict[str, Any]:
    return {
        "hazard_seq": hazard.opened_seq,
        "equipment_code": code,
        "address": address,
        "grid_code": hazard.grid_code,
        "level": hazard.level,
        "colour": hazard.colour,
        "status": hazard.status,
        "status_zh": HAZARD_STATES[hazard.status],
        "supervised": hazard.supervised,
        "description": hazard.description,
        "source": hazard.source,
        "source_seq": hazard.source_seq,
        "responsible_org_id": hazard.responsible_org_id,
        "responsible_org": responsible,
        "deadline": hazard.deadline.isoformat(),
        "days_overdue": days_overdue(hazard, today),
        "escalations": hazard.escalations,
        "updated_seq": hazard.updated_seq,
        "closed_by_seq": hazard.closed_by_seq,
        "assignee_user_id": hazard.assignee_user_id,
        "assignee": assignee,
    }


def _list_page(status: int = 200, error: str | None = None, **found: Any) -> tuple[str, int]:
    query = {k: v for k, v in request.args.items() if k not in ("page", "format")}
    page = render_template(
        "desk_hazards.html",
        query=query,
        error=error,
        hazards=found.get("hazards", []),
        total=found.get("total", 0),
        page=found.get("page", 1),
        pages=found.get("pages", 1),
        page_url=lambda number: f"{url_for('.hazards')}?{urlencode({**query, 'page': number})}",
        export_url=f"{url_for('.hazards')}?{urlencode({**query, 'format': 'csv'})}",
        states=STATE_CHOICE_NAMES,
        state_names=STATE_NAMES,
        level_names=LEVEL_NAMES,
        sorts=SORT_NAMES,
    )
    return page, status


@blueprint.get("/desk/hazards", endpoint="hazards")
def hazards_list() -> ResponseReturnValue:
    principal = desk_principal()
    if not isinstance(principal, Principal):
        return principal
    page_arg = request.args.get("page", "1")
    page = int(page_arg) if page_arg.isascii() and page_arg.isdigit() and 0 < int(page_arg) <= 10**6 else 1
    today = _today()
    try:
        wanted = filter_from_query()
        export = request.args.get("format")
        if export not in (None, "csv"):
            raise InvalidEntry("format must be csv or left out")
        with context.reading() as db:
            query = _query(db, principal, wanted, today)
            if export == "csv":
                rows = [
                    hazard_row(h, code, address, name, today, person)
                    for h, code, address, name, person in db.execute(query)
                ]
                now = datetime.now(UTC)
                stamp = f"安链 Anlian hazards, {now.isoformat(timespec='seconds')}; filters: {wanted.describe()}"
                return csv_response(rows, CSV_COLUMNS, f"hazards-{now.strftime('%Y%m%d-%H%M')}.csv", stamp)
            total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
            paged = db.execute(query.limit(PER_PAGE).offset((page - 1) * PER_PAGE))
            shown = [hazard_row(h, code, address, name, today, person) for h, code, address, name, person in paged]
    except LedgerError as exc:
        return _list_page(exc.status, str(exc))
    return _list_page(hazards=shown, total=total, page=page, pages=max(1, -(-total // PER_PAGE)))


# --- one hazard -----------------------------------------------------------------------------


def _visible_hazard(db: Session, principal: Principal, hazard_seq: int) -> Hazard:
    """The hazard, if it lies in the caller's grids: one outside them does not exist for them."""
    if hazard_seq >= 2**63:  # beyond any seq; PostgreSQL would refuse to compare it
        raise NotFound(f"there is no hazard opened at seq {hazard_seq}")
    hazard = hazards.get_hazard(db, hazard_seq)
    grids = grids_in_view(db, principal)
    if grids is not None and hazard.grid_code not in grids:
        raise NotFound(f"there is no hazard opened at seq {hazard_seq} in the grids you oversee")
    return hazard


def _names(db: Session, org_ids: set[str | None]) -> dict[str, str]:
    wanted = sorted(org_id for org_id in org_ids if org_id)
    return dict(db.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(wanted))).all())


def _people(db: Session, user_ids: set[int | None]) -> dict[int, str]:
    """The email addresses of the people a hazard was given to: shown to the bureau's staff,
    never written into the public ledger."""
    wanted = sorted(user_id for user_id in user_ids if isinstance(user_id, int))
    return {user_id: email for user_id, email in db.execute(select(User.id, User.email).where(User.id.in_(wanted)))}


def _steps(db: Session, hazard: Hazard, unit: Equipment, zone: str) -> list[dict[str, Any]]:
    """The hazard's life from the ledger: its opening, each move, each escalation, each change
    of supervision and each assignment."""
    rows = db.scalars(
        select(LedgerEntry)
        .where(
            LedgerEntry.subject == subject(unit.code),
            LedgerEntry.seq >= hazard.opened_seq,
            LedgerEntry.kind.in_(HAZARD_KINDS),
        )
        .order_by(LedgerEntry.seq)
    )
    steps = []
    for row in rows:
        entry = json.loads(row.entry)
        payload = entry["payload"]
        if row.seq != hazard.opened_seq and payload.get("hazard_seq") != hazard.opened_seq:
            continue
        steps.append(
            {
                "seq": row.seq,
                "kind": row.kind,
                "actor": row.actor_org,
                "at": row.recorded_at.astimezone(ZoneInfo(zone)),
                "payload": payload,
            }
        )
    return steps


def _detail(hazard_seq: int, status: int = 200, error: tuple[str, str] | None = None) -> ResponseReturnValue:
    """The hazard page; ``error`` is (the move refused, why), shown by that move's form with
    what was typed (``request.form``) kept."""
    principal = desk_principal()
    if not isinstance(principal, Principal):
        return principal
    settings = context.settings()
    today = _today()
    try:
        with context.reading() as db:
            hazard = _visible_hazard(db, principal, hazard_seq)
            unit = db.get(Equipment, hazard.equipment_id)
            if unit is None:
                raise NotFound("the hazard's unit is gone")
            grid_name = db.scalar(select(Grid.name).where(Grid.code == hazard.grid_code))
            steps = _steps(db, hazard, unit, settings.time_zone)
            # Forms only where the service would accept them: an inspector of the hazard's grid.
            may_act = "inspector" in principal.roles and in_scope(db, principal, hazard.grid_code)
            moves = INSPECTOR_MOVES.get(hazard.status, ()) if may_act else ()
            side_forms = ("supervision", "assignment") if may_act and hazard.status != "closed" else ()
            colleagues = [(u.id, u.email) for u in hazards.assignable(db, principal.org_id)] if side_forms else []
            candidates = [
                {"seq": row.seq, "kind": row.kind, "actor": row.actor_org,
                 "at": row.recorded_at.astimezone(ZoneInfo(settings.time_zone))}
                for row in (hazards.satisfying_entries(db, hazard) if "closed" in moves else [])
            ]  # fmt: skip
            names = _names(
                db,
                {unit.user_org_id, unit.maintenance_org_id, hazard.responsible_org_id}
                | {step["actor"] for step in steps}
                | {step["payload"].get("responsible_org_id") for step in steps}
                | {str(entry["actor"]) for entry in candidates},
            )
            people = _people(
                db, {hazard.assignee_user_id} | {step["payload"].get("assignee_user_id") for step in steps}
            )
            row = hazard_row(
                hazard, unit.code, unit.address, names.get(hazard.responsible_org_id, ""), today,
                people.get(hazard.assignee_user_id or 0),
            )  # fmt: skip
    except LedgerError as exc:
        return render_template("desk_hazard.html", hazard=None, error=("page", str(exc))), exc.status
    moved = session.get(JUST_MOVED)
    if moved and moved.get("hazard") == hazard_seq:
        session.pop(JUST_MOVED)
    else:
        moved = None
    addressees = [(unit.user_org_id, names.get(unit.user_org_id, unit.user_org_id), _l("User unit"))]
    if unit.maintenance_org_id:
        addressees.append((unit.maintenance_org_id, names.get(unit.maintenance_org_id, ""), _l("Maintenance company")))
    page = render_template(
        "desk_hazard.html",
        hazard=row,
        unit=unit,
        grid_name=grid_name,
        names=names,
        steps=steps,
        moves=moves,
        move_names=MOVE_NAMES,
        forms=(*moves, *side_forms),
        side_forms=side_forms,
        colleagues=colleagues,
        me=principal.user_id,
        people=people,
        candidates=candidates,
        addressees=addressees,
        today=today,
        error=error,
        form=request.form if error else {},
        client_event_id=str(uuid.uuid4()),
        moved=moved,
        state_names=STATE_NAMES,
        level_names=LEVEL_NAMES,
        source_names=SOURCE_NAMES,
    )
    return page, status


@blueprint.get("/desk/hazards/<int:hazard_seq>")
def hazard(hazard_seq: int) -> ResponseReturnValue:
    return _detail(hazard_seq)


def _seq_typed(form: Any) -> int | None:
    """The satisfying entry: a seq typed in the box wins over a choice from the list."""
    value = (form.get("satisfied_by_other") or form.get("satisfied_by_seq") or "").strip().lstrip("#")
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise InvalidEntry(gettext("Name the entry that shows the hazard was fixed by its seq, a whole number"))
    return int(value)


@blueprint.post("/desk/hazards/<int:hazard_seq>")
def move(hazard_seq: int) -> ResponseReturnValue:
    """One move of the hazard through :func:`ledger.services.hazards.transition`."""
    principal = desk_principal()
    if not isinstance(principal, Principal):
        return principal
    form = request.form
    target = form.get("to", "")
    try:
        if target not in MOVE_NAMES:
            raise InvalidEntry(f"to must be one of {', '.join(MOVE_NAMES)}")
        notice = None
        if target == "issued":
            deadline = form.get("deadline", "").strip()
            notice = hazards.Notice(
                deadline=parse_date(deadline, "deadline") if deadline else None,
                responsible_org_id=form.get("responsible_org_id") or None,
            )
        cid = form_event_id()
        with context.writing() as db:
            found = _visible_hazard(db, principal, hazard_seq)
            moved = hazards.transition(
                db, found, target, principal, form.get("note", "").strip() or None,
                satisfied_by_seq=_seq_typed(form) if target == "closed" else None,
                notice=notice, today=_today(), client_event_id=cid,
            )  # fmt: skip
            done = {"hazard": hazard_seq, "to": moved.status, "seq": moved.updated_seq}
    except LedgerError as exc:
        return _detail(hazard_seq, exc.status, (target, str(exc)))
    session[JUST_MOVED] = done  # only once the move is committed
    return redirect(url_for(".hazard", hazard_seq=hazard_seq), code=303)


def _form_flag(form: Any, name: str) -> bool:
    value = form.get(name, "")
    if value not in ("0", "1"):
        raise InvalidEntry(f"{name} is 1 or 0")
    return bool(value == "1")


@blueprint.post("/desk/hazards/<int:hazard_seq>/supervision")
def supervision(hazard_seq: int) -> ResponseReturnValue:
    """List the hazard for supervised rectification (挂牌督办) or lift it, through
    :func:`ledger.services.hazards.set_supervised`."""
    principal = desk_principal()
    if not isinstance(principal, Principal):
        return principal
    form = request.form
    try:
        wanted = _form_flag(form, "supervised")
        cid = form_event_id()
        with context.writing() as db:
            found = _visible_hazard(db, principal, hazard_seq)
            changed = hazards.set_supervised(db, found, principal, wanted, form.get("reason", ""), cid)
            done = {"hazard": hazard_seq, "to": changed.status, "seq": changed.updated_seq,
                    "what": "supervision", "supervised": changed.supervised}  # fmt: skip
    except LedgerError as exc:
        return _detail(hazard_seq, exc.status, ("supervision", str(exc)))
    session[JUST_MOVED] = done
    return redirect(url_for(".hazard", hazard_seq=hazard_seq), code=303)


@blueprint.post("/desk/hazards/<int:hazard_seq>/assignment")
def assignment(hazard_seq: int) -> ResponseReturnValue:
    """Give the hazard to a person of the bureau to follow up, through
    :func:`ledger.services.hazards.assign`."""
    principal = desk_principal()
    if not isinstance(principal, Principal):
        return principal
    form = request.form
    try:
        chosen = form.get("assignee_user_id", "")
        if not (chosen.isascii() and chosen.isdigit()) or len(chosen) > 18:
            raise InvalidEntry(gettext("Choose the person who follows the hazard up"))
        cid = form_event_id()
        with context.writing() as db:
            found = _visible_hazard(db, principal, hazard_seq)
            assigned = hazards.assign(db, found, principal, int(chosen), form.get("note", "").strip() or None, cid)
            person = db.get(User, assigned.assignee_user_id) if assigned.assignee_user_id else None
            done = {"hazard": hazard_seq, "to": assigned.status, "seq": assigned.updated_seq,
                    "what": "assignment", "assignee": person.email if person else ""}  # fmt: skip
    except LedgerError as exc:
        return _detail(hazard_seq, exc.status, ("assignment", str(exc)))
    session[JUST_MOVED] = done
    return redirect(url_for(".hazard", hazard_seq=hazard_seq), code=303)


@blueprint.errorhandler(CSRFError)
def _expired(exc: CSRFError) -> ResponseReturnValue:
    """A form from a page left open too long (or sent from another site): say so, keep the text."""
    hazard_seq = (request.view_args or {}).get("hazard_seq")
    if hazard_seq is None:
        return render_template("not_found.html", message=gettext("This page had expired: reload it.")), 400
    message = gettext("This page had expired, so nothing was changed: check the form and send it again.")
    which = SIDE_FORMS.get(request.endpoint or "") or request.form.get("to", "")
    return _detail(hazard_seq, 400, (which, message))
