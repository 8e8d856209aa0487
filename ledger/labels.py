"""QR codes for labels: GS1 Digital Link URIs as PNG and SVG, error correction M, quiet zone 4."""

from __future__ import annotations

import io

import qrcode
import qrcode.constants
from qrcode.image.svg import SvgPathImage


def _code(data: str, box_size: int) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(data)
    code.make(fit=True)
    return code


def qr_png(data: str, box_size: int = 8) -> bytes:
    buffer = io.BytesIO()
    _code(data, box_size).make_image().save(buffer)
    return buffer.getvalue()


def qr_svg(data: str, box_size: int = 10) -> bytes:
    buffer = io.BytesIO()
    _code(data, box_size).make_image(image_factory=SvgPathImage).save(buffer)
    return buffer.getvalue()
