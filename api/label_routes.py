"""``/labels/batches``: a print-ready A4 sheet of QR labels for coded batches.

``GET /labels/batches?batch=09506000134352/NZ-2026/11-A&batch=...&copies=2``

Each ``batch`` is ``{gtin}/{lot}``: the GTIN is digits only, so the first ``/`` ends it and
everything after it is the lot, exactly as given.  Lots are GS1 character set 82, which has
``/``, ``%``, ``&`` and ``:`` in it; no further decoding is done beyond the query string's own,
so every lot has exactly one spelling.  A client encodes the value like any query value
(``urlencode``, an HTML form).  The GTIN may be given as GTIN-8, -12, -13 or -14.

``copies`` (1 to 100, default 1) labels are printed for each ``batch`` given, in the order
given, at most 240 labels (ten sheets) per request.  Like the QR code routes, the page is
public: it shows nothing that is not printed on the goods.

Labels are 70 mm x 37 mm, 3 x 8 to an A4 sheet (common stock, edge to edge).  The QR code
sits beside its text, not under it: at 37 mm high, a QR code with four lines of text under
it would be 24 mm across, while beside it the code gets the label's full height (33 mm),
which keeps the modules large enough for phones even for long lots.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date

from flask import Blueprint, render_template, request
from markupsafe import Markup
from sqlalchemy.orm import Session

from api import context
from api.food_routes import batch_link
from api.problems import BadRequest
from ledger.domain.gs1 import expiry_yymmdd, normalize_gtin, validate_lot
from ledger.labels import qr_svg
from ledger.services import food as food_service

blueprint = Blueprint("labels", __name__)
PER_SHEET = 24
MAX_LABELS = 10 * PER_SHEET
MAX_COPIES = 100
SVG_NS = "http://www.w3.org/2000/svg"
EXAMPLE = "batch=09506000134352/NZ-2026/11-A"


@dataclass(frozen=True)
class Label:
    """One batch's label: its QR code and the text printed beside it."""

    qr: Markup
    gtin: str
    lot: str
    expiry: date | None
    name_zh: str

    @property
    def hri(self) -> list[str]:
        """GS1 human-readable interpretation, in the order the Digital Link carries the AIs."""
        lines = [f"(01){self.gtin}", f"(10){self.lot}"]
        if self.expiry is not None:
            lines.append(f"(17){expiry_yymmdd(self.expiry)}")
        return lines


@blueprint.get("/labels/batches")
def batch_labels() -> str:
    copies = _copies()
    keys = _batch_keys(copies)
    with context.reading() as session:
        labels = {key: _label(session, *key) for key in dict.fromkeys(keys)}
    printed = [labels[key] for key in keys for _ in range(copies)]
    sheets = [printed[start : start + PER_SHEET] for start in range(0, len(printed), PER_SHEET)]
    return render_template("labels.html", sheets=sheets, count=len(printed))


def _copies() -> int:
    raw = request.args.get("copies", "1")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_COPIES:
        raise BadRequest(f"query parameter 'copies' must be a whole number from 1 to {MAX_COPIES}, got {raw!r}")
    return int(raw)


def _batch_keys(copies: int) -> list[tuple[str, str]]:
    """(GTIN-14, lot) per ``batch`` parameter.  The count is checked first: a long list is
    refused before any of it is read."""
    values = request.args.getlist("batch")
    if not values:
        raise BadRequest(f"name the batches to print, one query parameter each, such as {EXAMPLE}")
    if len(values) * copies > MAX_LABELS:
        raise BadRequest(
            f"{len(values)} batches x {copies} copies is {len(values) * copies} labels; "
            f"one sheet request prints at most {MAX_LABELS}"
        )
    return [_batch_key(value) for value in values]


def _batch_key(value: str) -> tuple[str, str]:
    gtin, slash, lot = value.partition("/")
    if not slash:
        raise BadRequest(f"batch={value!r} must be GTIN/lot, such as {EXAMPLE}")
    return normalize_gtin(gtin), validate_lot(lot)


def _label(session: Session, gtin: str, lot: str) -> Label:
    batch = food_service.get_batch(session, gtin, lot)
    product = food_service.get_product(session, gtin)
    link = batch_link(batch.gtin, batch.lot, batch)
    return Label(inline_qr(link), batch.gtin, batch.lot, batch.expiry_date, product.name_zh)


def inline_qr(link: str) -> Markup:
    """``qr_svg``'s document as an element of an HTML page, its modules and quiet zone as they
    are.  Gone are the XML declaration, the fixed size (the stylesheet sets it), the path's
    ``id`` (a sheet would repeat it 24 times) and the namespace prefixes ElementTree writes."""
    root = ET.fromstring(qr_svg(link))  # noqa: S314 - our own output, not a request's
    for name in ("width", "height"):
        root.attrib.pop(name, None)
    for element in root.iter():
        element.tag = element.tag.removeprefix(f"{{{SVG_NS}}}")  # HTML puts <svg> in its namespace itself
        element.attrib.pop("id", None)
    root.set("class", "qr")
    root.set("role", "img")
    root.set("aria-label", f"二维码 QR code: {link}")
    return Markup(ET.tostring(root, encoding="unicode"))  # noqa: S704 - ElementTree escaped every value in it
