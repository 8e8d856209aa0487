"""GS1 identifiers: GTIN check digits, lot characters, expiry dates and GS1 Digital Link URIs.

Scanned input comes in several forms (a Digital Link on any host, an element string with or
without brackets and FNC1 separators, a bare GTIN); ``biip`` parses them, and every value is
then checked here by the same rules that apply when a batch is registered.

Two things are done here rather than left to ``biip`` 5.2: a bracketed element string is split
here, because ``GS1Message.parse_hri`` silently drops anything after a ``(`` inside a value
(``(10)A(B`` reads as lot ``A``); and a Digital Link's scheme and host are lower-cased, because
``biip`` only knows ``http``/``https`` in lower case while QR codes often print them in capitals.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

import biip
from biip.gs1_messages import GS1Message

from ledger.errors import InvalidEntry

# GS1 AI encodable character set 82, the characters allowed in a lot (AI 10) or serial (AI 21).
_CSET82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")
_CSET82_CHAR = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]")


def gtin_check_digit(body: str) -> int:
    """Mod-10 check digit over the digits before it (weights 3, 1, 3, ... from the right)."""
    total = sum(int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def normalize_gtin(text: str) -> str:
    """GTIN-8, -12, -13 or -14 as 14 digits, after checking the check digit."""
    value = text.strip()
    if not value.isascii() or not value.isdigit():
        raise InvalidEntry(f"GTIN {value!r} must be digits only")
    if len(value) not in (8, 12, 13, 14):
        raise InvalidEntry(f"GTIN must have 8, 12, 13 or 14 digits, not {len(value)}")
    expected = gtin_check_digit(value[:-1])
    if int(value[-1]) != expected:
        raise InvalidEntry(f"GTIN {value} check digit should be {expected}, not {value[-1]}")
    return value.zfill(14)


def validate_lot(lot: str, what: str = "lot") -> str:
    """A lot (AI 10) or serial (AI 21): 1 to 20 characters of GS1 character set 82."""
    if _CSET82.fullmatch(lot):
        return lot
    if not 1 <= len(lot) <= 20:
        raise InvalidEntry(f"{what} must be 1 to 20 characters, not {len(lot)}")
    bad = "".join(sorted({ch for ch in lot if not _CSET82_CHAR.match(ch)}))
    raise InvalidEntry(
        f"{what} may use only GS1 character set 82 (letters, digits and !\"%&'()*+,-./:;<=>?_); not {bad!r}"
    )


def expiry_yymmdd(day: date) -> str:
    return day.strftime("%y%m%d")


def parse_yymmdd(text: str, today: date) -> date:
    """A GS1 date: the century by the sliding window of the General Specifications (7.12) —
    at most 49 years ahead and 50 behind ``today`` — and day 00 meaning the month's last day."""
    if len(text) != 6 or not text.isdigit():
        raise InvalidEntry(f"date {text!r} must be YYMMDD")
    yy, month, day = int(text[:2]), int(text[2:4]), int(text[4:])
    difference = yy - today.year % 100
    century = today.year // 100 + (1 if difference <= -50 else -1 if difference >= 51 else 0)
    year = century * 100 + yy
    if not 1 <= month <= 12:
        raise InvalidEntry(f"date {text} has no month {month}")
    if day == 0:
        day = calendar.monthrange(year, month)[1]
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise InvalidEntry(f"date {text} does not exist") from exc


def digital_link(base_url: str, gtin14: str, lot: str, expiry: date | None = None, serial: str | None = None) -> str:
    """``{base}/01/{gtin14}/10/{lot}[/21/{serial}][?17=YYMMDD]``, lot and serial percent-encoded
    outside the URI unreserved characters, as the GS1 Digital Link standard asks."""
    if len(gtin14) != 14 or normalize_gtin(gtin14) != gtin14:
        raise InvalidEntry(f"a Digital Link needs the GTIN as 14 digits, not {gtin14!r}")
    validate_lot(lot)
    if serial is not None:
        validate_lot(serial, "serial")
    uri = f"{base_url.rstrip('/')}/01/{gtin14}/10/{quote(lot, safe='')}"
    if serial is not None:
        uri += f"/21/{quote(serial, safe='')}"
    if expiry is not None:
        uri += f"?17={expiry_yymmdd(expiry)}"
    return uri


@dataclass(frozen=True)
class ScannedCode:
    gtin14: str
    lot: str | None
    expiry: date | None
    serial: str | None


ACCEPTED = "a GS1 Digital Link URI, a GS1 element string such as (01)…(10)…(17)…, or a GTIN"


# An AIM symbology identifier a scanner may put first: ]C1 GS1-128, ]Q3 GS1 QR, ]d2 GS1 DataMatrix...
_SYMBOLOGY = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
_URI_START = re.compile(r"^(https?://[^/?#]*)(.*)$", re.IGNORECASE | re.DOTALL)
_HRI_AI = re.compile(r"\s*\((\d{2,4})\)\s*")
_NAMED = {"10": "lot", "21": "serial"}


def _unreadable(text: str, reason: object) -> InvalidEntry:
    return InvalidEntry(f"cannot read {text!r} ({reason}); send {ACCEPTED}")


def _from_hri(text: str) -> GS1Message:
    """``(01)…(10)…``: split at every bracketed AI, then parse with FNC1 separators, so a value
    keeps any parenthesis in it that is not followed by digits and a closing parenthesis."""
    parts = _HRI_AI.split(text)
    if parts[0] or len(parts) < 3:
        raise _unreadable(text, "a bracketed element string starts with an AI in parentheses")
    pairs = list(zip(parts[1::2], parts[2::2], strict=True))
    for ai, value in pairs:
        if ai in _NAMED:
            validate_lot(value, _NAMED[ai])  # the lengths are known here: say which value is wrong
    try:
        return GS1Message.parse("\x1d".join(ai + value for ai, value in pairs))
    except Exception as exc:  # biip raises its own ParseError subclasses
        raise _unreadable(text, exc) from exc


def _message(text: str) -> GS1Message:
    if text.startswith("("):
        return _from_hri(text)
    uri = _URI_START.match(text)
    if uri:
        text = uri[1].lower() + uri[2]  # scheme and host are case-insensitive; the path is not
    result = biip.parse(text)
    if result.gs1_digital_link_uri is not None:
        return result.gs1_digital_link_uri.as_gs1_message()
    if result.gs1_message is not None:
        return result.gs1_message
    raise _unreadable(text, result.gs1_digital_link_uri_error or result.gs1_message_error or result.gtin_error)


def parse_scan(text: str, today: date) -> ScannedCode:
    """What a scanner read, as the batch it names: every value checked like a registration."""
    text = text.strip()
    if _SYMBOLOGY.match(text):
        text = text[3:]  # biip reads element strings without it, and URIs and brackets only so
    if text.isascii() and text.isdigit() and len(text) in (8, 12, 13, 14):
        return ScannedCode(normalize_gtin(text), None, None, None)  # a bare GTIN (EAN/UPC symbol)
    values = {element.ai.ai: element.value for element in _message(text).element_strings}
    if "01" not in values:
        raise InvalidEntry(f"{text!r} carries no GTIN (AI 01); send {ACCEPTED}")
    lot, serial = values.get("10"), values.get("21")
    return ScannedCode(
        gtin14=normalize_gtin(values["01"]),
        lot=validate_lot(lot) if lot is not None else None,
        expiry=parse_yymmdd(values["17"], today) if "17" in values else None,
        serial=validate_lot(serial, "serial") if serial is not None else None,
    )
