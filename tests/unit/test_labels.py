"""QR codes as a phone or a warehouse scanner reads them."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import zxingcpp
from PIL import Image

from ledger.labels import qr_png, qr_svg

LINK = "https://anlian.example/01/09506000134352/10/NZ-2026%2F11-A?17=271001"


def test_png_decodes_to_the_link_with_error_correction_m_and_a_quiet_zone() -> None:
    image = Image.open(io.BytesIO(qr_png(LINK, box_size=8))).convert("L")
    (decoded,) = zxingcpp.read_barcodes(image)
    assert decoded.text == LINK and decoded.format == zxingcpp.BarcodeFormat.QRCode
    assert decoded.ec_level == "M"
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
