"""Free-text fields (names, descriptions, reasons): folded whitespace, bounded length, and no
control characters — PostgreSQL cannot store a NUL in text, so one must be a 422, not a 500."""

from __future__ import annotations

import pytest

from ledger.domain.orgs import validate_text
from ledger.errors import InvalidEntry


def test_whitespace_is_folded_and_chinese_text_is_kept() -> None:
    assert validate_text("  冷链\t温度\n超标  ", "reason") == "冷链 温度 超标"


@pytest.mark.parametrize("text", ["批次\x00召回", "\x07bell", "escape \x1b[31m", "delete\x7f"])
def test_control_characters_are_refused(text: str) -> None:
    with pytest.raises(InvalidEntry, match="reason must not contain control characters"):
        validate_text(text, "reason")


@pytest.mark.parametrize("text", ["", "   ", None, 17, "x" * 201])
def test_empty_too_long_or_not_text_is_refused(text: object) -> None:
    with pytest.raises(InvalidEntry, match="reason must be 1 to 200 characters"):
        validate_text(text, "reason")
