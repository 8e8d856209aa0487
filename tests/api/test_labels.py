"""The A4 sheet of batch QR labels: one label per batch and copy, the QR code on each reading
back to the batch's Digital Link, its human-readable text, and refusals as problem+json."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from typing import Any

import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image, ImageDraw
from sqlalchemy import Engine
from werkzeug.test import TestResponse

from api.problems import PROBLEM_JSON
from ledger.db.engine import transaction
from ledger.db.tables import Grid
from ledger.domain.food import batch_spec, product_spec
from ledger.domain.gs1 import digital_link
from ledger.services import food as food_service
from ledger.services import orgs
from tests.coldchain import GRIDS
from tests.coldchain import LAMB as PRODUCT

PUBLIC_URL = "http://127.0.0.1:8000"  # the default LEDGER_PUBLIC_URL the app fixture runs with
GTIN = "09506000134352"
LOTS: dict[str, date | None] = {
    "NZ-2026/11-A": date(2027, 10, 1),
    "L/1<2>&\"3'%2F": date(2027, 12, 31),  # character set 82 has HTML's and URLs' special characters
    "NZ-2026-NOEXP": None,
}
# qrcode's SVG path: one "M x,y H x2 V y2 H x z" square per dark module.
MODULE = re.compile(r"M(\d+),(\d+)H(\d+)V(\d+)H\d+z")


def code_batches(engine: Engine, lots: Mapping[str, date | None]) -> None:
    """A producer with a site and PRODUCT, and one batch of it per lot (with that expiry), made
    through the same services the API calls."""
    with transaction(engine) as session:
        session.add_all(Grid(code=c, name=n, level=lvl, parent_code=p, updated_seq=0) for c, n, lvl, p in GRIDS)
    with transaction(engine) as session:
        producer = orgs.create_organisation(session, orgs.OrgSpec("宁波进口肉类有限公司", ["producer"]))
        actor = {"org": producer.org_id}
        site = {"org_id": producer.org_id, "name": "冷库", "address": "杭州市西湖区", "grid_code": GRIDS[-1][0]}
        site_id = orgs.register_site(session, site, actor).id
        food_service.register_product(session, product_spec(dict(PRODUCT)), producer.org_id, actor)
        for lot, expiry in lots.items():
            spec = batch_spec(
                {
                    "gtin": PRODUCT["gtin"],
                    "lot": lot,
                    "site_id": site_id,
                    "origin": {"country": "NZ", "place": "Canterbury plant 27"},
                    "production_date": "2026-10-01",
                    "expiry_date": expiry.isoformat() if expiry else None,
                    "quantity": 400,
                    "unit": "箱",
                }
            )
            food_service.register_batch(
                session, spec, food_service.batch_payload(session, spec, producer.org_id), actor
            )


def link(lot: str) -> str:
    return digital_link(PUBLIC_URL, GTIN, lot, LOTS[lot])


@dataclass
class PrintedLabel:
    svg: dict[str, str | None] = field(default_factory=dict)
    path: str = ""
    text: dict[str, list[str]] = field(default_factory=dict)


class LabelSheet(HTMLParser):
    """What a browser would see in the page: sheets, labels, and anything the CSP would block."""

    def __init__(self) -> None:
        super().__init__()
        self.sheets: list[list[PrintedLabel]] = []
        self.blocked: list[str] = []  # style attributes, <style> and <script> elements
        self.ids: list[str] = []
        self._label: PrintedLabel | None = None
        self._part = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("style", "script") or "style" in attributes:
            self.blocked.append(tag)
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        css = (attributes.get("class") or "").split()
        if tag == "section" and "sheet" in css:
            self.sheets.append([])
        elif tag == "article" and "label" in css:
            self._label = PrintedLabel()
            self.sheets[-1].append(self._label)
        elif self._label is not None:
            self._inside_label(tag, attributes, css)

    def _inside_label(self, tag: str, attributes: dict[str, str | None], css: list[str]) -> None:
        assert self._label is not None
        if tag == "svg":
            self._label.svg = attributes
        elif tag == "path":
            self._label.path = attributes.get("d") or ""
        elif tag == "p":
            self._part = css[0]
            self._label.text[self._part] = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self._label = None
        elif tag == "p":
            self._part = ""

    def handle_data(self, data: str) -> None:
        if self._label is not None and self._part and data.strip():
            self._label.text[self._part].append(data.strip())

    @property
    def labels(self) -> list[PrintedLabel]:
        return [label for sheet in self.sheets for label in sheet]


def read_sheet(response: TestResponse) -> LabelSheet:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    sheet = LabelSheet()
    sheet.feed(response.get_data(as_text=True))
    sheet.close()
    return sheet


def rasterise(label: PrintedLabel, scale: int = 8) -> tuple[Image.Image, int]:
    """The inline SVG drawn module by module, and its size in modules (viewBox)."""
    x0, y0, width, height = (int(value) for value in str(label.svg["viewbox"]).split())
    assert (x0, y0) == (0, 0) and width == height
    image = Image.new("L", (width * scale, height * scale), 255)
    draw = ImageDraw.Draw(image)
    for match in MODULE.finditer(label.path):
        x, y, x2, y2 = (int(value) for value in match.groups())
        draw.rectangle((x * scale, y * scale, x2 * scale - 1, y2 * scale - 1), fill=0)
    return image, width


def get_labels(client: FlaskClient, *batches: str, copies: int | str | None = None) -> TestResponse:
    query: list[tuple[str, Any]] = [("batch", batch) for batch in batches]
    if copies is not None:
        query.append(("copies", copies))
    return client.get("/labels/batches", query_string=query)


@pytest.fixture
def coded(app: Flask) -> None:
    code_batches(app.extensions["ledger.engine"], LOTS)


@pytest.mark.usefixtures("coded")
def test_one_label_per_batch_and_copy_in_the_order_asked(client: FlaskClient) -> None:
    lots = list(LOTS)
    sheet = read_sheet(get_labels(client, *(f"{GTIN}/{lot}" for lot in lots), copies=2))
    assert len(sheet.sheets) == 1 and len(sheet.labels) == 6
    printed = [label.text["hri"][1] for label in sheet.labels]
    assert printed == [f"(10){lot}" for lot in lots for _ in range(2)]


@pytest.mark.usefixtures("coded")
def test_every_label_carries_its_digital_link_and_human_readable_text(client: FlaskClient) -> None:
    sheet = read_sheet(get_labels(client, *(f"{GTIN}/{lot}" for lot in LOTS)))
    for lot, label in zip(LOTS, sheet.labels, strict=True):
        expiry = LOTS[lot]
        hri = [f"(01){GTIN}", f"(10){lot}"] + ([f"(17){expiry:%y%m%d}"] if expiry else [])
        assert label.text["hri"] == hri
        assert label.text["name"] == [PRODUCT["name_zh"]]
        assert ("expiry" in label.text) == (expiry is not None)
        if expiry:
            assert label.text["expiry"][-1] == expiry.isoformat()
        image, modules = rasterise(label)
        (decoded,) = zxingcpp.read_barcodes(image)
        assert decoded.text == link(lot) and decoded.ec_level == "M"
        assert label.svg["aria-label"] == f"二维码 QR code: {link(lot)}"
        dark = [tuple(map(int, match.groups())) for match in MODULE.finditer(label.path)]
        assert min(x for x, *_ in dark) == min(y for _, y, *_ in dark) == 4  # a quiet zone of 4 modules
        assert max(x2 for *_, x2, _ in dark) == max(y2 for *_, y2 in dark) == modules - 4


@pytest.mark.usefixtures("coded")
def test_the_page_needs_nothing_the_content_security_policy_blocks(client: FlaskClient) -> None:
    response = get_labels(client, *(f"{GTIN}/{lot}" for lot in LOTS), copies=8)
    policy = response.headers["Content-Security-Policy"]
    assert "style-src 'self';" in policy and "unsafe-inline" not in policy
    sheet = read_sheet(response)
    assert sheet.blocked == []  # no style attributes, no <style>, no <script>
    assert sheet.ids == []  # qr_svg's path id, repeated 24 times, is gone
    html = response.get_data(as_text=True)
    assert "<?xml" not in html and 'href="/static/css/labels.css?v=' in html
    assert "L/1<2>" not in html  # the lot's markup characters are escaped...
    assert "(10)L/1&lt;2&gt;&amp;&#34;3&#39;%2F" in html  # ...and shown as they are
    css = client.get("/static/css/labels.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert "size: A4" in css.get_data(as_text=True) and "break-inside: avoid" in css.get_data(as_text=True)


@pytest.mark.usefixtures("coded")
def test_twenty_four_labels_to_a_sheet_and_at_most_ten_sheets(client: FlaskClient) -> None:
    one_batch = f"{GTIN}/NZ-2026/11-A"
    assert [len(s) for s in read_sheet(get_labels(client, one_batch, copies=24)).sheets] == [24]
    assert [len(s) for s in read_sheet(get_labels(client, one_batch, copies=25)).sheets] == [24, 1]
    full = read_sheet(get_labels(client, *(f"{GTIN}/{lot}" for lot in LOTS), copies=80))
    assert [len(s) for s in full.sheets] == [24] * 10


@pytest.mark.usefixtures("coded")
def test_a_gtin_13_names_the_same_batch(client: FlaskClient) -> None:
    sheet = read_sheet(get_labels(client, "9506000134352/NZ-2026/11-A"))
    assert sheet.labels[0].text["hri"][:2] == [f"(01){GTIN}", "(10)NZ-2026/11-A"]


def assert_problem(response: TestResponse, status: int, slug: str, words: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert body["type"] == f"urn:anlian:problem:{slug}" and body["status"] == status
    assert words in body["detail"], body["detail"]


@pytest.mark.usefixtures("coded")
@pytest.mark.parametrize(
    "batches, status, slug, words",
    [
        ([f"{GTIN}/NZ-2026/11-B"], 404, "not-found", "no batch NZ-2026/11-B"),
        ([f"{GTIN}/NZ-2026/11-A", "4006381333931/NZ-2026/11-A"], 404, "not-found", "04006381333931"),
        (["9506000134353/NZ-2026/11-A"], 422, "invalid-entry", "check digit"),
        (["95060001343/NZ-2026/11-A"], 422, "invalid-entry", "8, 12, 13 or 14 digits"),
        ([f"{GTIN}/批次1"], 422, "invalid-entry", "character set 82"),
        ([f"{GTIN}/{'X' * 21}"], 422, "invalid-entry", "1 to 20 characters"),
        ([f"{GTIN}/"], 422, "invalid-entry", "1 to 20 characters"),
        ([GTIN], 400, "bad-request", "must be GTIN/lot"),
        ([], 400, "bad-request", "name the batches"),
    ],
)
def test_unknown_and_malformed_batches_are_refused(
    client: FlaskClient, batches: list[str], status: int, slug: str, words: str
) -> None:
    assert_problem(get_labels(client, *batches), status, slug, words)


@pytest.mark.usefixtures("coded")
@pytest.mark.parametrize("copies", ["0", "101", "-1", "two", "1.5", "", "٣"])
def test_copies_must_be_1_to_100(client: FlaskClient, copies: str) -> None:
    assert_problem(get_labels(client, f"{GTIN}/NZ-2026/11-A", copies=copies), 400, "bad-request", "1 to 100")


def test_more_than_240_labels_are_refused_before_any_batch_is_read(client: FlaskClient) -> None:
    # No batches exist: the count alone refuses the request.
    response = get_labels(client, *(f"{GTIN}/LOT{n}" for n in range(3)), copies=81)
    assert_problem(response, 400, "bad-request", "243 labels")
    assert "at most 240" in response.get_json()["detail"]
    assert_problem(get_labels(client, *(f"{GTIN}/LOT{n}" for n in range(241))), 400, "bad-request", "at most 240")
