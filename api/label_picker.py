"""``/labels``: a producer or processor picks which of its batches to print labels for.

The page lists the organisation's own batches, newest first, filtered by lot or product; the
form is a plain GET to ``/labels/batches`` with one ``batch=GTIN/lot`` per ticked box, so the
sheet itself stays the public, bookmarkable page it was.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from api import context
from api.auth import current_principal
from api.label_routes import MAX_COPIES, MAX_LABELS
from ledger.db.tables import Batch, Product

blueprint = Blueprint("label_picker", __name__)
MAKERS = ("producer", "processor")  # the organisations that code batches
SHOWN = 200


@blueprint.get("/labels")
def pick() -> BaseResponse | str | tuple[str, int]:
    principal = current_principal()
    if principal is None or principal.user_id is None:
        return redirect(url_for("account.login_form", next=request.full_path.rstrip("?")))
    if not principal.has_any(MAKERS):
        message = gettext("Labels are printed by the producers and processors that code batches.")
        return render_template("forbidden.html", message=message), 403
    wanted = request.args.get("q", "").strip()[:100]
    query = (
        select(Batch, Product.name_zh, Product.name_en)
        .join(Product, Product.gtin == Batch.gtin)
        .where(Batch.producer_org_id == principal.org_id)
    )
    if wanted:
        pattern = "%" + wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            Batch.lot.ilike(pattern, escape="\\")
            | Product.name_zh.ilike(pattern, escape="\\")
            | Batch.gtin.like(pattern, escape="\\")
        )
    with context.reading() as session:
        rows = session.execute(query.order_by(Batch.created_seq.desc()).limit(SHOWN)).all()
    return render_template(
        "labels_pick.html", rows=rows, wanted=wanted, shown=SHOWN, max_labels=MAX_LABELS, max_copies=MAX_COPIES
    )
