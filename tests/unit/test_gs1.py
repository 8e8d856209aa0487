"""GS1 identifiers: check digits, lot characters, dates, Digital Link URIs and scanned input."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ledger.domain.gs1 import (
    ScannedCode,
    digital_link,
    gtin_check_digit,
    normalize_gtin,
    parse_scan,
    parse_yymmdd,
    validate_lot,
)
from ledger.errors import InvalidEntry

TODAY = date(2026, 11, 26)
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"


@pytest.mark.parametrize(
    "gtin, gtin14",
    [
        ("9506000134352", "09506000134352"),  # GS1's own example GTIN-13
        ("4006381333931", "04006381333931"),
        ("96385074", "00000096385074"),  # GTIN-8
        ("036000291452", "00036000291452"),  # GTIN-12 (UPC-A)
        ("10614141000415", "10614141000415"),  # GTIN-14
    ],
)
def test_valid_gtins_become_14_digits(gtin: str, gtin14: str) -> None:
    assert normalize_gtin(gtin) == gtin14


@pytest.mark.parametrize(
    "gtin, reason",
    [("9506000134353", "check digit should be 2"), ("950600013435", "check digit"), ("95060001343", "8, 12, 13 or 14"),
     ("95060001343a2", "digits only"), ("", "digits only")],
)  # fmt: skip
def test_wrong_gtins_say_what_is_wrong(gtin: str, reason: str) -> None:
    with pytest.raises(InvalidEntry, match=reason):
        normalize_gtin(gtin)


def test_lots_use_character_set_82_only() -> None:
    assert validate_lot("NZ-2026/11-A") == "NZ-2026/11-A"
    for bad, reason in [
        ("批次1", "not '批次'"),
        ("A B", "not ' '"),
        ("X" * 21, "1 to 20"),
        ("", "1 to 20"),
        ("AB\n", r"not '\\n'"),
    ]:
        with pytest.raises(InvalidEntry, match=reason):
            validate_lot(bad)


def test_gs1_dates_use_the_sliding_century_and_day_zero() -> None:
    assert parse_yymmdd("271001", TODAY) == date(2027, 10, 1)
    assert parse_yymmdd("270200", TODAY) == date(2027, 2, 28)  # 00: last day of the month
    assert parse_yymmdd("760101", TODAY) == date(2076, 1, 1)  # 50 years ahead is still this century
    assert parse_yymmdd("770101", TODAY) == date(1977, 1, 1)  # 51 ahead is the last century
    for bad in ("271301", "270230", "27100"):
        with pytest.raises(InvalidEntry):
            parse_yymmdd(bad, TODAY)


def test_digital_link_percent_encodes_the_lot() -> None:
    uri = digital_link("https://anlian.example/", "09506000134352", "A/B%C", date(2027, 10, 1), serial="S+1")
    assert uri == "https://anlian.example/01/09506000134352/10/A%2FB%25C/21/S%2B1?17=271001"
    every = digital_link("https://x.example", "09506000134352", "!\"%&'()*+,-./:;<=>?_")
    assert every.endswith("/10/%21%22%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F_")


@pytest.mark.parametrize(
    "gtin, lot, serial, reason",
    [("9506000134352", "A", None, "14 digits"), ("09506000134353", "A", None, "check digit"),
     ("09506000134352", "A B", None, "lot may use only"), ("09506000134352", "A", "批", "serial may use only")],
)  # fmt: skip
def test_digital_link_refuses_what_it_cannot_encode(gtin: str, lot: str, serial: str | None, reason: str) -> None:
    with pytest.raises(InvalidEntry, match=reason):
        digital_link("https://x.example", gtin, lot, serial=serial)


@pytest.mark.parametrize(
    "scanned",
    [
        "https://id.gs1.org/01/09506000134352/10/NZ-2026%2F11-A?17=271001",
        "https://shop.example.cn/01/09506000134352/10/NZ-2026%2F11-A?17=271001",
        "(01)09506000134352(10)NZ-2026/11-A(17)271001",
        "]C1010950600013435217271001" + "10NZ-2026/11-A",
        "010950600013435210NZ-2026/11-A\x1d17271001",
        "]Q3010950600013435210NZ-2026/11-A\x1d17271001",  # GS1 QR Code
        "]d2010950600013435210NZ-2026/11-A\x1d17271001",  # GS1 DataMatrix
        "]Q1https://shop.example.cn/01/09506000134352/10/NZ-2026%2F11-A?17=271001",  # scanner sends AIM id
        "HTTPS://SHOP.EXAMPLE.CN/01/09506000134352/10/NZ-2026%2F11-A?17=271001",  # capitals, QR alphanumeric
        "https://shop.example.cn/trace/v1/01/09506000134352/10/NZ-2026%2F11-A?17=271001&linkType=all",
        "https://shop.example.cn/01/09506000134352/10/NZ-2026/11-A?17=271001".replace("26/11", "26%2f11"),
        " (01) 09506000134352 (10) NZ-2026/11-A (17) 271001 ",
    ],
)
def test_every_scanned_form_lands_on_the_same_batch(scanned: str) -> None:
    assert parse_scan(scanned, TODAY) == ScannedCode("09506000134352", "NZ-2026/11-A", date(2027, 10, 1), None)


def test_serial_and_day_zero_in_each_form() -> None:
    expected = ScannedCode("09506000134352", "L(1)", date(2027, 10, 31), "S/1")
    assert parse_scan("https://a.example/01/09506000134352/10/L%281%29/21/S%2F1?17=271000", TODAY) == expected
    assert parse_scan("]C10109506000134352172710002" + "1S/1\x1d10L(1)", TODAY) == expected


def test_bracketed_values_keep_their_parentheses() -> None:
    # biip's own parse_hri would drop "(B" and everything up to the next "(".
    scanned = parse_scan("(01)09506000134352(10)A(B(21)C)D(17)271001", TODAY)
    assert (scanned.lot, scanned.serial) == ("A(B", "C)D")


@pytest.mark.parametrize(
    "scanned, reason",
    [("(01)09506000134352(10)" + "A" * 21, "lot must be 1 to 20 characters, not 21"),
     ("(01)09506000134352(10)A(21)S T", "serial may use only"),
     ("https://x.example/01/09506000134352/10/A?17=271301", "AI \\(17\\)"),
     ("(02)09506000134352(37)5", "no GTIN"),
     ("(x)", "starts with an AI")],
)  # fmt: skip
def test_bad_scans_say_what_is_wrong(scanned: str, reason: str) -> None:
    with pytest.raises(InvalidEntry, match=reason):
        parse_scan(scanned, TODAY)


def test_bare_gtin_and_unreadable_input() -> None:
    assert parse_scan("9506000134352", TODAY) == ScannedCode("09506000134352", None, None, None)
    assert parse_scan("]E09506000134352", TODAY) == ScannedCode("09506000134352", None, None, None)
    assert parse_scan("96385074", TODAY) == ScannedCode("00000096385074", None, None, None)
    with pytest.raises(InvalidEntry, match="check digit"):
        parse_scan("https://x.example/01/09506000134353/10/A", TODAY)
    with pytest.raises(InvalidEntry, match="GS1 Digital Link"):
        parse_scan("hello", TODAY)


gtin_bodies = st.text(alphabet="0123456789", min_size=12, max_size=12)


lots = st.text(alphabet=CSET82, min_size=1, max_size=20)


@given(body=gtin_bodies, lot=lots, days=st.integers(-3000, 3000), serial=st.none() | lots)
def test_digital_link_and_element_strings_round_trip(body: str, lot: str, days: int, serial: str | None) -> None:
    gtin = normalize_gtin(body + str(gtin_check_digit(body)))
    expiry = date.fromordinal(TODAY.toordinal() + days)
    expected = ScannedCode(gtin, lot, expiry, serial)
    assert parse_scan(digital_link("https://anlian.example", gtin, lot, expiry, serial), TODAY) == expected
    with_serial = "" if serial is None else f"21{serial}\x1d"
    assert parse_scan(f"]d201{gtin}17{expiry:%y%m%d}{with_serial}10{lot}", TODAY) == expected
    # A bracketed value that itself holds "(digits)" cannot be told from the next AI, by design.
    assume(not any(re.search(r"\(\d{2,4}\)", value) for value in (lot, serial or "")))
    bracketed = f"(01){gtin}(10){lot}" + ("" if serial is None else f"(21){serial}") + f"(17){expiry:%y%m%d}"
    assert parse_scan(bracketed, TODAY) == expected
