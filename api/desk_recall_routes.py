"""The inspector's recall view (``/desk/recall?batch=<code>``): one batch traced back to its
sources and forward to every holder (name, city, contact, quantities, dates), whether it or a
source is under recall, a form to open the recall, and the FSMA 204 exports of the API.

The batch is named as the desk names it elsewhere: its QR link or barcode text (a GS1 code
with GTIN and lot), or the number the database gives it (``batch=17``) for links from lists.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import context
from api.desk_hazard_routes import desk_principal, form_event_id
from ledger.db.tables import Batch, Grid, Organisation, Site
from ledger.domain.access import Principal
from ledger.domain.clock import local_date
from ledger.domain.gs1 import parse_scan
from ledger.errors import InvalidEntry, LedgerError, NotFound
from ledger.services import food, lineage, recalls

blueprint = Blueprint("desk_recall", __name__)
JUST_OPENED = "desk_recall.opened"  # session key: the recall just opened, confirmed once
MAX_CODE = 500  # a Digital Link with GTIN, lot and expiry is well under this


def batch_named(db: Session, text: str) -> Batch:
    """The batch a typed or scanned code names.  Digits alone can only be the database number:
    a bare GTIN (the barcode on a pack) names a product, never a batch."""
    text = text.strip()
    if not text:
        raise InvalidEntry(gettext("Scan or type the batch's code"))
    if len(text) > MAX_CODE:
        raise InvalidEntry(f"a batch code is at most {MAX_CODE} characters")
    if text.isascii() and text.isdigit():
        found = db.get(Batch, int(text)) if len(text) <= 18 else None
        if found is not None:
            return found
        if len(text) in (8, 12, 13, 14):
            raise InvalidEntry(gettext("This code names a product but no lot: scan the QR code on the batch's label"))
        raise NotFound(f"there is no batch numbered {text}")
    scanned = parse_scan(text, local_date(datetime.now(UTC), context.settings().time_zone))
    if scanned.lot is None:
        raise InvalidEntry(gettext("This code names a product but no lot: scan the QR code on the batch's label"))
    return food.get_batch(db, scanned.gtin14, scanned.lot)


def _cities(db: Session) -> tuple[dict[str, str], dict[str, str]]:
    """Each grid's city (the city-level node above it, by name) and the name of every node."""
    nodes = {code: (name, level, parent) for code, name, level, parent in db.execute(
        select(Grid.code, Grid.name, Grid.level, Grid.parent_code)
    )}  # fmt: skip
    city: dict[str, str] = {}
    for code in nodes:
        here: str | None = code
        seen = 0
        while here is not None and here in nodes and nodes[here][1] != "city" and seen < 8:
            here, seen = nodes[here][2], seen + 1  # the tree has four levels: never more steps
        if here is not None and here in nodes and nodes[here][1] == "city":
            city[code] = nodes[here][0]
    return city, {code: node[0] for code, node in nodes.items()}


def _holders(db: Session, view: recalls.RecallView, zone: str) -> list[dict[str, Any]]:
    """The recall's holders with where they held the batches: their sites and those sites' city."""
    city_of, _ = _cities(db)
    site_ids = {b.site_id for b in view.trace.batches}
    sites = {s.id: s for s in db.scalars(select(Site).where(Site.id.in_(site_ids)))} if site_ids else {}
    places: dict[str, dict[str, str | None]] = {}  # org → site "name, address" → grid
    for batch in view.trace.batches:
        site = sites.get(batch.site_id)
        if site is not None:
            places.setdefault(batch.producer_org_id, {})[f"{site.name}, {site.address}"] = site.grid_code
    for event in view.trace.events:
        if event.site_name:
            places.setdefault(event.org_id, {})[f"{event.site_name}, {event.site_address}"] = event.site_grid
    local = ZoneInfo(zone)
    rows = []
    for holder in view.holders:
        held_at = places.get(holder.org_id, {})
        cities = sorted({city_of[grid] for grid in held_at.values() if grid in city_of})
        rows.append(
            {
                **holder.as_dict(),
                "sites": sorted(held_at),
                "cities": cities,
                "first": holder.first_seen.astimezone(local) if holder.first_seen else None,
                "last": holder.last_seen.astimezone(local) if holder.last_seen else None,
            }
        )
    return rows


def _went_into(back: lineage.Trace) -> dict[int, list[dict[str, Any]]]:
    """For each source batch, the batches it went into with the quantity used and its entry."""
    lots = {b.batch_id: b.lot for b in back.batches}
    uses: dict[int, list[dict[str, Any]]] = {}
    for edge in back.edges:
        uses.setdefault(edge.input_batch_id, []).append(
            {"lot": lots.get(edge.output_batch_id, ""), "quantity": edge.quantity, "unit": edge.unit, "seq": edge.seq}
        )
    return uses


def _recall_rows(db: Session, found: Iterable[Any], zone: str) -> list[dict[str, Any]]:
    found = list(found)
    openers = sorted({r.opened_by for r in found})
    names = dict(db.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(openers))).all())
    batches = {b.id: b for b in db.scalars(select(Batch).where(Batch.id.in_({r.batch_id for r in found})))}
    return [
        {
            "seq": r.opened_seq,
            "reason": r.reason,
            "by": names.get(r.opened_by, r.opened_by),
            "at": r.opened_at.astimezone(ZoneInfo(zone)),
            "lot": batches[r.batch_id].lot if r.batch_id in batches else "",
        }
        for r in found
    ]


def _page(text: str, status: int = 200, error: str | None = None) -> ResponseReturnValue:
    """The recall view of the batch ``text`` names; ``error`` is why opening the recall was
    refused, shown by its form with the reason typed kept."""
    principal = desk_principal()
    if not isinstance(principal, Principal):
        return principal
    if not text.strip():
        return render_template("desk_recall.html", batch=None, code="", error=error, form={}), status
    zone = context.settings().time_zone
    try:
        with context.reading() as db:
            batch = batch_named(db, text)
            view = recalls.recall_view(db, batch)
            back = lineage.trace(db, batch.id, "back")
            sources = [b for b in back.batches if b.depth > 0]
            facts = next(b for b in view.trace.batches if b.batch_id == batch.id)
            own = _recall_rows(db, view.recalls, zone)
            upstream = _recall_rows(db, recalls.recalls_of(db, [b.batch_id for b in sources]), zone) if sources else []
            holders = _holders(db, view, zone)
            went_into = _went_into(back)
    except LedgerError as exc:
        page = render_template("desk_recall.html", batch=None, code=text, error=str(exc), form={})
        return page, exc.status
    opened = session.get(JUST_OPENED)
    if opened and opened.get("batch") == batch.id:
        session.pop(JUST_OPENED)
    else:
        opened = None
    lot_path = f"{batch.gtin}/{quote(batch.lot, safe='')}"
    page = render_template(
        "desk_recall.html",
        code=text,
        batch=facts,
        element_string=f"(01){batch.gtin}(10){batch.lot}",
        sources=sources,
        went_into=went_into,
        downstream=[b for b in view.trace.batches if b.depth > 0],
        holders=holders,
        own_recalls=own,
        upstream_recalls=upstream,
        exports={kind: f"/api/v1/batches/{lot_path}/recall.{kind}" for kind in ("csv", "xlsx")},
        opened=opened,
        client_event_id=str(uuid.uuid4()),
        error=error,
        form=request.form if error else {},
    )
    return page, status


@blueprint.get("/desk/recall")
def recall() -> ResponseReturnValue:
    return _page(request.args.get("batch", ""))


@blueprint.post("/desk/recall")
def open_recall() -> ResponseReturnValue:
    """Open the recall through :func:`ledger.services.recalls.open_recall`; the form's
    ``client_event_id`` makes a second send of the same form return the recall already open."""
    principal = desk_principal()
    if not isinstance(principal, Principal):
        return principal
    text = request.form.get("batch", "")
    try:
        cid = form_event_id()
        reason = request.form.get("reason", "")
        if "\x00" in reason:  # PostgreSQL cannot store it in the recall's row: refuse, never a 500
            raise InvalidEntry("reason must not contain NUL characters")
        with context.writing() as db:
            batch = batch_named(db, text)
            made = recalls.open_recall(db, batch, reason, principal.actor, cid)
            done = {"batch": batch.id, "seq": made.opened_seq}
    except LedgerError as exc:
        return _page(text, exc.status, str(exc))
    session[JUST_OPENED] = done  # only once the recall is committed
    return redirect(url_for(".recall", batch=text.strip()), code=303)


@blueprint.errorhandler(CSRFError)
def _expired(exc: CSRFError) -> ResponseReturnValue:
    """A form from a page left open too long (or sent from another site): nothing was opened."""
    message = gettext("This page had expired, so nothing was changed: check the form and send it again.")
    return _page(request.form.get("batch", ""), 400, message)
