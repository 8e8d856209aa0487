"""Password hashing, policy and lockout rules: pure functions, so plain unit tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from ledger.domain import passwords
from ledger.domain.passwords import (
    CURRENT,
    ScryptParams,
    hash_password,
    is_locked,
    lock_after_failure,
    needs_rehash,
    password_problems,
    verify_password,
)

FAST = ScryptParams(log2_n=10, r=8, p=1)  # where the cost does not matter, keep the suite quick
NOW = datetime(2026, 3, 15, 9, 30, tzinfo=UTC)


def test_a_hash_carries_its_parameters_and_verifies() -> None:
    encoded = hash_password("冷链追溯 2026 春")
    assert encoded.startswith("$scrypt$ln=15,r=8,p=1$")
    assert len(encoded) <= 300  # fits users.password_hash
    assert verify_password("冷链追溯 2026 春", encoded)
    assert not verify_password("冷链追溯 2026 夏", encoded)
    assert not needs_rehash(encoded)


def test_the_default_cost_is_scrypt_n_2_15_r_8_p_1_with_a_16_byte_salt() -> None:
    encoded = hash_password("correct horse battery")
    _, _, params, salt, key = encoded.split("$")
    raw_salt = passwords._unb64(salt)
    assert params == "ln=15,r=8,p=1" and len(raw_salt) == 16
    expected = hashlib.scrypt(
        b"correct horse battery", salt=raw_salt, n=2**15, r=8, p=1, maxmem=64 * 1024 * 1024, dklen=32
    )
    assert passwords._unb64(key) == expected


def test_the_same_password_gets_a_new_salt_every_time() -> None:
    first, second = hash_password("same password", FAST), hash_password("same password", FAST)
    assert first != second
    assert verify_password("same password", first) and verify_password("same password", second)


def test_raising_the_cost_later_is_noticed_and_old_hashes_still_verify() -> None:
    old = hash_password("correct horse battery", FAST)
    assert needs_rehash(old)  # FAST differs from CURRENT
    assert not needs_rehash(old, FAST)
    assert verify_password("correct horse battery", old)
    assert not needs_rehash(hash_password("x" * 12, CURRENT))


def test_full_width_input_from_a_chinese_ime_is_the_same_password() -> None:
    encoded = hash_password("abc123XYZ!", FAST)
    assert verify_password("ａｂｃ１２３ＸＹＺ！", encoded)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plain text password",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "$scrypt$ln=15,r=8$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,
        "$scrypt$ln=31,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,  # would take hours
        "$scrypt$ln=15,r=8,p=1$short$" + "A" * 43,
        "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$not base64!",
        "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAA",
    ],
)
def test_a_malformed_or_foreign_hash_never_matches_and_asks_for_a_rehash(encoded: str) -> None:
    assert not verify_password("anything at all", encoded)
    assert needs_rehash(encoded)


def test_verification_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = passwords.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(passwords.hmac, "compare_digest", spy)
    encoded = hash_password("correct horse battery", FAST)
    assert not verify_password("wrong horse battery", encoded)
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short1!", "at least 10 characters"),
        ("", "at least 10 characters"),
        ("aaaaaaaaaaaa", "one character repeated"),
        ("ａａａａａａａａａａａ", "one character repeated"),  # full width folds to the same
        ("wang.fang@example.cn", "cannot be the email"),
        ("WANG.FANG@EXAMPLE.CN", "cannot be the email"),
        ("wang.fang", "at least 10 characters"),
        ("x" * 1025, "at most 1024"),
    ],
)
def test_the_policy_explains_what_is_wrong_in_chinese_and_english(password: str, problem: str) -> None:
    problems = password_problems(password, "wang.fang@example.cn")
    assert any(problem in text for text in problems), problems
    chinese, english = zip(*(text.split(" / ") for text in problems), strict=True)
    assert not any(part.isascii() for part in chinese) and all(part.isascii() for part in english)


def test_the_local_part_of_the_email_is_refused_as_a_password() -> None:
    assert password_problems("zhangsan2026", "zhangsan2026@example.cn")


@pytest.mark.parametrize("password", ["correct horse battery", "冷链追溯系统安全口令", "Tr0ub4dor&3x", "xy" * 512])
def test_long_enough_passwords_are_accepted_without_composition_rules(password: str) -> None:
    assert password_problems(password, "wang.fang@example.cn") == []


def test_an_account_is_unlocked_until_its_fifth_failure_then_locks_for_fifteen_minutes() -> None:
    assert [lock_after_failure(n, NOW) for n in range(1, 5)] == [None] * 4
    assert lock_after_failure(5, NOW) == NOW + timedelta(minutes=15)


def test_each_further_five_failures_double_the_lock_up_to_a_day() -> None:
    assert [lock_after_failure(n, NOW) for n in range(6, 10)] == [None] * 4
    assert lock_after_failure(10, NOW) == NOW + timedelta(minutes=30)
    assert lock_after_failure(15, NOW) == NOW + timedelta(minutes=60)
    assert lock_after_failure(35, NOW) == NOW + timedelta(minutes=15 * 64)
    assert lock_after_failure(40, NOW) == NOW + timedelta(days=1)
    assert lock_after_failure(5 * 10**6, NOW) == NOW + timedelta(days=1)


def test_a_lock_holds_until_its_end() -> None:
    until = NOW + timedelta(minutes=15)
    assert not is_locked(None, NOW)
    assert is_locked(until, NOW)
    assert is_locked(until, until - timedelta(seconds=1))
    assert not is_locked(until, until)
