"""Staff accounts: creating them, checking a login, changing and unlocking.

Accounts are not ledger entries: the ledger is public, and a person's email address is personal
information that has no place in it.
"""

from __future__ import annotations

import enum
import functools
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db.tables import Organisation, User
from ledger.domain.passwords import (
    hash_password,
    is_locked,
    lock_after_failure,
    needs_rehash,
    password_problems,
    verify_password,
)
from ledger.errors import LedgerError, NotFound


class InvalidEmail(LedgerError):
    title = "Invalid email address"
    type = "invalid-email"
    status = 422


class WeakPassword(LedgerError):
    title = "Password not accepted"
    type = "weak-password"
    status = 422


class UserExists(LedgerError):
    title = "Account exists"
    type = "user-exists"
    status = 409


class Refusal(enum.Enum):
    """Why a login was refused.  For logs only: the person is told the same thing every time."""

    UNKNOWN_EMAIL = enum.auto()
    WRONG_PASSWORD = enum.auto()
    LOCKED = enum.auto()
    DISABLED = enum.auto()


@dataclass(frozen=True)
class AccountView:
    """Who a logged-in person is, for the account page."""

    user_id: int
    email: str
    org_id: str
    org_name: str
    roles: tuple[str, ...]


_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")


def normalise_email(raw: str) -> str:
    """NFKC folds the full-width ``＠`` and letters a Chinese input method may type; lower case
    because people do not expect ``Wang@…`` and ``wang@…`` to be two accounts."""
    return unicodedata.normalize("NFKC", raw).strip().lower()


def validated_email(raw: str) -> str:
    email = normalise_email(raw)
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise InvalidEmail(f"not an email address: {raw!r}")
    return email


def _check_password(password: str, email: str) -> None:
    problems = password_problems(password, email)
    if problems:
        raise WeakPassword("; ".join(problems))


def find_user(session: Session, email: str, for_update: bool = False) -> User | None:
    query = select(User).where(User.email == normalise_email(email))
    return session.scalars(query.with_for_update() if for_update else query).one_or_none()


def create_user(session: Session, email: str, org_id: str, password: str, now: datetime | None = None) -> User:
    email = validated_email(email)
    if session.get(Organisation, org_id) is None:
        raise NotFound(f"there is no organisation {org_id}")
    _check_password(password, email)
    if find_user(session, email) is not None:
        raise UserExists(f"an account for {email} exists already")
    user = User(
        email=email,
        org_id=org_id,
        password_hash=hash_password(password),
        created_at=now or datetime.now(UTC),
        failed_logins=0,
        locked_until=None,
        disabled=False,
    )
    session.add(user)
    session.flush()
    return user


@functools.cache
def _decoy_hash() -> str:
    """A hash of a random password with the current parameters, for unknown emails."""
    return hash_password(secrets.token_urlsafe(16))


def authenticate(session: Session, email: str, password: str, now: datetime) -> User | Refusal:
    """The user when the password is right and the account usable, else why not.

    Exactly one scrypt runs whatever the outcome (against a decoy hash for unknown emails, and
    for locked accounts too), so the response time does not tell which emails have accounts.
    A locked account is refused even with the right password, and failures made while it is
    locked do not count.  The row is locked (on PostgreSQL) so concurrent tries count exactly.
    """
    user = find_user(session, email, for_update=True)
    matches = verify_password(password, user.password_hash if user else _decoy_hash())
    if user is None:
        return Refusal.UNKNOWN_EMAIL
    if user.disabled:
        return Refusal.DISABLED
    if is_locked(user.locked_until, now):
        return Refusal.LOCKED
    if not matches:
        user.failed_logins += 1
        user.locked_until = lock_after_failure(user.failed_logins, now)
        session.flush()
        return Refusal.WRONG_PASSWORD
    user.failed_logins, user.locked_until = 0, None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """A new password, checked against the policy; it also lifts any lock."""
    _check_password(password, user.email)
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    session.flush()


def unlock(session: Session, email: str) -> User:
    """Clear the failure count and any lock, for a person who proved who they are another way."""
    user = find_user(session, email, for_update=True)
    if user is None:
        raise NotFound(f"there is no account for {normalise_email(email)}")
    user.failed_logins, user.locked_until = 0, None
    session.flush()
    return user


def set_disabled(session: Session, user_id: int, disabled: bool) -> User:
    """Disable or re-enable an account.  A disabled account cannot log in, and a session it
    already has stops working on its next request (``principal_for_user`` refuses it)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"there is no account {user_id}")
    user.disabled = disabled
    session.flush()
    return user


def describe(session: Session, user_id: int) -> AccountView | None:
    user = session.get(User, user_id)
    org = session.get(Organisation, user.org_id) if user else None
    if user is None or org is None:
        return None
    return AccountView(user.id, user.email, org.id, org.name, tuple(org.roles))
