"""Staff passwords: hashing, the password policy and the lockout rule.  Pure: no I/O, no clock.

Hashes are scrypt, a memory-hard KDF: every guess costs 32 MiB of memory, so graphics cards and
custom chips gain little over our own server.  The stored string carries its parameters in the
PHC style, ``$scrypt$ln=15,r=8,p=1$<salt>$<key>``, so they can be raised later: old hashes keep
verifying, and :func:`needs_rehash` tells the login to store a stronger one.

Passwords are NFKC-normalised before hashing, because Chinese input methods switch between
full-width and half-width forms (``ａｂｃ１２３`` and ``abc123``): the same keys must give the same
password on a phone and on a desktop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

SCHEME = "scrypt"
SALT_BYTES = 16
KEY_BYTES = 32


@dataclass(frozen=True)
class ScryptParams:
    """Cost parameters: ``n = 2**log2_n`` (memory and time), ``r`` (block size), ``p`` (parallelism)."""

    log2_n: int = 15
    r: int = 8
    p: int = 1

    def encode(self) -> str:
        return f"ln={self.log2_n},r={self.r},p={self.p}"

    def in_bounds(self) -> bool:
        # A stored hash is data: refuse parameters that would make one login take minutes.
        return 10 <= self.log2_n <= 20 and 1 <= self.r <= 32 and 1 <= self.p <= 16


CURRENT = ScryptParams()


def normalise_password(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _derive(password: str, salt: bytes, params: ScryptParams) -> bytes:
    n = 1 << params.log2_n
    # OpenSSL's default limit (32 MiB) is just below what n=2**15, r=8 needs: give it exactly that.
    maxmem = 128 * params.r * (n + params.p + 2)
    return hashlib.scrypt(
        normalise_password(password).encode("utf-8"),
        salt=salt,
        n=n,
        r=params.r,
        p=params.p,
        maxmem=maxmem,
        dklen=KEY_BYTES,
    )


def hash_password(password: str, params: ScryptParams = CURRENT) -> str:
    """A fresh salted hash, as the string to store."""
    salt = secrets.token_bytes(SALT_BYTES)
    return f"${SCHEME}${params.encode()}${_b64(salt)}${_b64(_derive(password, salt, params))}"


_PARAMS = re.compile(r"ln=([0-9]{1,2}),r=([0-9]{1,2}),p=([0-9]{1,2})")


def _parse(encoded: str) -> tuple[ScryptParams, bytes, bytes]:
    """``(params, salt, key)``; ValueError for anything that is not a hash this module wrote."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != SCHEME:
        raise ValueError("not an scrypt password hash")
    fields = _PARAMS.fullmatch(parts[2])
    if fields is None:
        raise ValueError("malformed scrypt parameters")
    params = ScryptParams(*(int(value) for value in fields.groups()))
    try:
        salt, key = _unb64(parts[3]), _unb64(parts[4])
    except ValueError as exc:  # binascii.Error is a ValueError
        raise ValueError("malformed scrypt password hash") from exc
    if not params.in_bounds() or len(salt) < SALT_BYTES or len(key) != KEY_BYTES:
        raise ValueError("scrypt password hash with unusable parameters")
    return params, salt, key


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches; a malformed hash never matches.  Compares in constant time."""
    try:
        params, salt, key = _parse(encoded)
    except ValueError:
        return False
    return hmac.compare_digest(_derive(password, salt, params), key)


def needs_rehash(encoded: str, params: ScryptParams = CURRENT) -> bool:
    """True when the hash was made with other parameters (or is unreadable): store a new one."""
    try:
        stored, _, _ = _parse(encoded)
    except ValueError:
        return True
    return stored != params


# -- Policy ----------------------------------------------------------------------------------------

MIN_LENGTH = 10
MAX_LENGTH = 1024  # long passphrases are welcome; a megabyte "password" is not


def password_problems(password: str, email: str) -> list[str]:
    """What is wrong with a new password, in Chinese and English; empty when it is acceptable.

    Length beats composition rules (NIST SP 800-63B): no "one capital, one digit" rules, just
    enough characters and none of the obvious choices.
    """
    text = normalise_password(password)
    folded, email = text.casefold(), email.casefold()
    problems = []
    if len(text) < MIN_LENGTH:
        problems.append(f"密码至少要 {MIN_LENGTH} 个字符 / The password needs at least {MIN_LENGTH} characters")
    if len(text) > MAX_LENGTH:
        problems.append(f"密码最多 {MAX_LENGTH} 个字符 / The password can have at most {MAX_LENGTH} characters")
    if text and len(set(text)) == 1:
        problems.append("密码不能是同一个字符重复 / The password cannot be one character repeated")
    if folded and folded in {email, email.partition("@")[0]}:
        problems.append("密码不能是邮箱地址 / The password cannot be the email address")
    return problems


# -- Lockout ---------------------------------------------------------------------------------------

LOCK_AFTER = 5
FIRST_LOCK = timedelta(minutes=15)
LONGEST_LOCK = timedelta(days=1)


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and now < locked_until


def lock_after_failure(failures: int, now: datetime) -> datetime | None:
    """When an account locks after its ``failures``-th wrong password in a row, or None.

    Every 5th consecutive failure locks: 15 minutes the first time, then twice as long each
    time (30, 60, ... minutes, at most a day).  A person who forgot the password gets five
    tries per lock; a guesser gets a few dozen a day.  Only a successful login (or an unlock by
    an operator) resets the count.
    """
    if failures < LOCK_AFTER or failures % LOCK_AFTER:
        return None
    doublings = min(failures // LOCK_AFTER - 1, 10)  # capped before the timedelta could overflow
    return now + min(FIRST_LOCK * (1 << doublings), LONGEST_LOCK)
