"""QR codes as a phone or a warehouse scanner reads them."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import date

import pytest
import zxingcpp
from PIL import Image

from ledger.domain.gs1 import ScannedCode, digital_link, parse_scan
from ledger.labels import qr_png, qr_svg

BATCH = ScannedCode("09506000134352", "NZ-2026/11-A", date(2027, 10, 1), None)
LINK = digital_link("https://anlian.example", BATCH.gtin14, "NZ-2026/11-A", BATCH.expiry)
TODAY = date(2026, 11, 26)


def decode(png: bytes) -> zxingcpp.Barcode:
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return decoded


def test_png_decodes_to_the_link_with_error_correction_m_and_a_quiet_zone() -> None:
    image = Image.open(io.BytesIO(qr_png(LINK, box_size=8))).convert("L")
    (decoded,) = zxingcpp.read_barcodes(image)
    assert decoded.text == LINK and decoded.format == zxingcpp.BarcodeFormat.QRCode
    assert decoded.ec_level == "M"
    assert parse_scan(decoded.text, TODAY) == BATCH
    quiet = 4 * 8  # four modules of eight pixels on every side
    width, height = image.size
    border = [image.getpixel((x, y)) for x in range(width) for y in range(quiet)]
    border += [image.getpixel((x, y)) for x in range(quiet) for y in range(height)]
    assert min(border) == 255  # all white
    assert image.getpixel((quiet, quiet)) == 0  # the finder pattern starts right after it


def test_svg_is_well_formed_and_deterministic() -> None:
    root = ET.fromstring(qr_svg(LINK))  # noqa: S314 - our own output
    assert root.tag.endswith("svg")
    assert qr_svg(LINK) == qr_svg(LINK) and qr_png(LINK) == qr_png(LINK)


@pytest.mark.parametrize("box_size", [2, 8, 12])
def test_links_with_serials_and_encoded_characters_read_back_exactly(box_size: int) -> None:
    batch = ScannedCode("00000096385074", "L(1)/%+", date(2030, 2, 28), "S_1")
    link = digital_link("https://anlian.example", batch.gtin14, str(batch.lot), batch.expiry, batch.serial)
    decoded = decode(qr_png(link, box_size=box_size))
    assert decoded.text == link and decoded.ec_level == "M"
    assert parse_scan(decoded.text, TODAY) == batch
    upper = "HTTPS://ANLIAN.EXAMPLE/01/00000096385074/10/L%281%29"  # fits QR alphanumeric mode
    assert parse_scan(decode(qr_png(upper, box_size=box_size)).text, TODAY).lot == "L(1)"
