"""The home page (``/``): what Anlian is, a box for any code a visitor has in hand (a batch's
Digital Link or element string, an elevator's equipment code or its 96333 number), and staff
login.  ``/lookup`` sends the visitor to the page the code names; it needs no JavaScript."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote

from flask import Blueprint, redirect, render_template, request
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from api.camera import CAMERA_TEXTS
from ledger.domain.gs1 import parse_scan
from ledger.errors import InvalidEntry

blueprint = Blueprint("home", __name__)
EQUIPMENT_CODE = re.compile(r"^(?:\d{5,6}|[0-9A-Z]{10,32})$")
EQUIPMENT_LINK = re.compile(r"/e/([0-9A-Z]{5,32})/?$")


@blueprint.get("/")
def home() -> str:
    return render_template("home.html", code="", error=None, camera_texts=CAMERA_TEXTS)


def _target(code: str) -> str:
    """The page a code names: an elevator's (its QR link, equipment code or 96333 number)
    or a batch's (anything a scanner reads from a GS1 label)."""
    link = EQUIPMENT_LINK.search(code)
    if link:
        return f"/e/{link[1]}"
    if EQUIPMENT_CODE.match(code) and not (code.isdigit() and len(code) in (8, 12, 13, 14)):
        return f"/e/{code}"
    scanned = parse_scan(code, datetime.now(UTC).date())
    if scanned.lot is None:
        raise InvalidEntry(gettext("This code names a product but no lot: scan the QR code on the batch's label"))
    return f"/01/{scanned.gtin14}/10/{quote(scanned.lot, safe='')}"


@blueprint.get("/lookup")
def lookup() -> BaseResponse | tuple[str, int]:
    code = request.args.get("code", "").strip()
    if not code:
        return render_template("home.html", code="", error=gettext("Enter a code"), camera_texts=CAMERA_TEXTS), 400
    try:
        return redirect(_target(code[:1000]), code=303)
    except InvalidEntry as exc:
        return render_template("home.html", code=code, error=str(exc), camera_texts=CAMERA_TEXTS), 422
