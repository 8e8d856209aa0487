"""The label sheet in a real browser (Debian's Chromium, driven by Playwright), under the real
Content-Security-Policy: printed to PDF it takes one A4 page per 24 labels, no label crosses a
page edge, every label is 70 mm x 37 mm, and its QR code, photographed, reads back as the
batch's Digital Link.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

from ledger.domain.gs1 import digital_link
from tests.api.test_labels import GTIN, code_batches
from tests.e2e.live import serving, sqlite_app
from tests.e2e.test_login_browser import CHROMIUM, CHROMIUM_ARGS, CSP_LISTENER

PUBLIC_URL = "https://trace.anlian.example"
# Thirty batches; the 25th, the first on the second page, has a lot full of URL and HTML characters.
LOTS = {f"NZ-2026/11-{n:02d}": date(2027, 10, 1) + timedelta(days=n) for n in range(1, 31)}
LOTS = {**dict(list(LOTS.items())[:24]), "L/1<2>&\"3'%2F": date(2027, 12, 31), **dict(list(LOTS.items())[25:])}
A4_MM = (210.0, 297.0)
LABEL_MM = (70.0, 37.0)
MM_PER_PT = 25.4 / 72
GEOMETRY = """
() => {
  const mm = (px) => (px * 25.4) / 96;
  return [...document.querySelectorAll(".sheet")].map((sheet) => {
    const page = sheet.getBoundingClientRect();
    return {
      breakBefore: getComputedStyle(sheet).breakBefore,
      labels: [...sheet.querySelectorAll(".label")].map((label) => {
        const box = label.getBoundingClientRect();
        const qr = label.querySelector("svg.qr").getBoundingClientRect();
        const text = label.querySelector(".text").getBoundingClientRect();
        return {
          left: mm(box.left - page.left), top: mm(box.top - page.top),
          right: mm(box.right - page.left), bottom: mm(box.bottom - page.top),
          width: mm(box.width), height: mm(box.height),
          breakInside: getComputedStyle(label).breakInside,
          inside: [qr, text].every((part) => part.left >= box.left && part.right <= box.right
                                          && part.top >= box.top && part.bottom <= box.bottom),
        };
      }),
    };
  });
}
"""


@pytest.fixture
def sheet_url(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """The app on a free loopback port with thirty coded batches; the URL of their label sheet."""
    app = sqlite_app(sqlite_template, tmp_path, LEDGER_PUBLIC_URL=PUBLIC_URL)
    code_batches(app.extensions["ledger.engine"], LOTS)
    with serving(app) as url:
        yield f"{url}/labels/batches"
    app.extensions["ledger.engine"].dispose()


def query(lots: list[str], copies: int = 1) -> str:
    return "?" + urlencode([("batch", f"{GTIN}/{lot}") for lot in lots] + [("copies", copies)])


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """Each page's size in mm.  Chromium writes the page dictionaries uncompressed."""
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
    (count,) = re.findall(rb"/Count\s+(\d+)", pdf)
    assert int(count) == pages
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert len(boxes) == pages
    return [(float(width) * MM_PER_PT, float(height) * MM_PER_PT) for width, height in boxes]


def assert_a4(pages: list[tuple[float, float]], count: int) -> None:
    assert len(pages) == count
    for width, height in pages:
        assert width == pytest.approx(A4_MM[0], abs=0.5) and height == pytest.approx(A4_MM[1], abs=0.5)


def printed_pages(page: Page) -> int:
    """Pages as Playwright's A4 and as the stylesheet's own ``@page`` size, which must agree."""
    as_asked = pdf_pages(page.pdf(format="A4"))
    as_styled = pdf_pages(page.pdf(prefer_css_page_size=True))
    assert_a4(as_asked, len(as_styled))
    assert_a4(as_styled, len(as_asked))
    return len(as_asked)


def assert_no_label_crosses_a_page(sheets: list[dict[str, Any]]) -> None:
    """Each sheet starts a page and fits in one, so a label inside its sheet is inside a page."""
    for index, sheet in enumerate(sheets):
        assert sheet["breakBefore"] == ("auto" if index == 0 else "page")
        for label in sheet["labels"]:
            assert label["breakInside"] == "avoid"
            assert 0 <= label["left"] and label["right"] <= A4_MM[0] + 0.01
            assert 0 <= label["top"] and label["bottom"] <= A4_MM[1]
            assert (label["width"], label["height"]) == (
                pytest.approx(LABEL_MM[0], abs=0.05),
                pytest.approx(LABEL_MM[1], abs=0.05),
            )
            assert label["inside"]  # the QR code and the text are not clipped


def read_qr(png: bytes) -> zxingcpp.Barcode:
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return decoded


def test_a_sheet_of_thirty_labels_prints_on_two_a4_pages_and_every_code_scans(sheet_url: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's browser with 'apt-get install -y chromium'")
    errors: list[str] = []
    violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} ({message.location.get('url')})")

    lots = list(LOTS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(device_scale_factor=2, locale="zh-CN")
            context.expose_function("reportCspViolation", lambda violation: violations.append(violation))
            context.add_init_script(CSP_LISTENER)
            page = context.new_page()
            page.on("console", on_console)
            page.on("pageerror", lambda error: errors.append(str(error)))

            page.goto(sheet_url + query(lots))
            labels = page.locator("article.label")
            assert labels.count() == 30
            assert page.locator(".screen-only").is_visible()
            page.emulate_media(media="print")
            assert not page.locator(".screen-only").is_visible()
            sheets = page.evaluate(GEOMETRY)
            assert [len(sheet["labels"]) for sheet in sheets] == [24, 6]
            assert_no_label_crosses_a_page(sheets)
            assert printed_pages(page) == 2

            for index in (0, 23, 24, 29):  # the first and last of each page
                decoded = read_qr(labels.nth(index).screenshot())
                lot = lots[index]
                assert decoded.text == digital_link(PUBLIC_URL, GTIN, lot, LOTS[lot]) and decoded.ec_level == "M"
                assert f"(10){lot}" in labels.nth(index).inner_text()

            page.goto(sheet_url + query(lots[:8], copies=3))  # exactly one full sheet
            page.emulate_media(media="print")
            assert labels.count() == 24
            assert_no_label_crosses_a_page(page.evaluate(GEOMETRY))
            assert printed_pages(page) == 1
        finally:
            browser.close()

    assert errors == []
    assert violations == []
