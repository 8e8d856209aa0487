"""Unified social credit codes (GB 32100-2015)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.uscc import ALPHABET, check_character, validate_uscc
from ledger.errors import InvalidEntry


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000802100433B", "91330106mA27XF6R1d"])
def test_valid_codes_pass(code: str) -> None:
    # the first is the example used in GB 32100-2015 guidance; lower case is accepted and upper-cased
    assert validate_uscc(code) == code.upper()


@pytest.mark.parametrize(
    "code, reason",
    [
        ("91350100M000100Y44", "check character should be 3"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100M0001O0Y43", "not allowed: O"),
        ("913501A0M000100Y43", "division code"),
    ],
)
def test_wrong_codes_say_what_is_wrong(code: str, reason: str) -> None:
    with pytest.raises(InvalidEntry, match=reason):
        validate_uscc(code)


@given(
    st.text(alphabet=ALPHABET, min_size=2, max_size=2),
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.text(alphabet=ALPHABET, min_size=9, max_size=9),
    st.integers(0, 16),
    st.sampled_from(ALPHABET),
)
def test_any_single_character_change_is_caught(head: str, division: str, body: str, position: int, other: str) -> None:
    first17 = head + division + body
    code = first17 + check_character(first17)
    assert validate_uscc(code) == code
    changed = code[:position] + other + code[position + 1 :]
    if changed != code and changed[2:8].isdigit():
        with pytest.raises(InvalidEntry):
            validate_uscc(changed)
