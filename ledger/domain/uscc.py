"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

Eighteen characters from a 31-character alphabet (digits and capitals without I, O, Z, S, V):
registration authority, organisation type, six-digit administrative division, nine-character
organisation code, and a check character computed over the first seventeen.
"""

from __future__ import annotations

from ledger.errors import InvalidEntry

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # 3**i mod 31


def check_character(first17: str) -> str:
    total = sum(ALPHABET.index(ch) * weight for ch, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def validate_uscc(code: str) -> str:
    """Return the code upper-cased, or raise saying what is wrong with it."""
    code = code.strip().upper()
    if len(code) != 18:
        raise InvalidEntry(f"unified social credit code must be 18 characters, got {len(code)}")
    bad = sorted({ch for ch in code if ch not in ALPHABET})
    if bad:
        raise InvalidEntry(f"unified social credit code contains characters not allowed: {''.join(bad)}")
    if not code[2:8].isdigit():
        raise InvalidEntry("characters 3 to 8 of a unified social credit code are the division code (digits)")
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidEntry(f"unified social credit code check character should be {expected}, not {code[17]}")
    return code
