"""Turning credentials into a :class:`Principal`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db.tables import ApiKey, Organisation, OrgScope, User
from ledger.domain.access import Principal
from ledger.domain.orgs import key_matches, parse_key_prefix


def _principal(session: Session, org: Organisation, **extra: object) -> Principal:
    scopes = frozenset(session.scalars(select(OrgScope.grid_code).where(OrgScope.org_id == org.id)))
    return Principal(org_id=org.id, roles=frozenset(org.roles), scopes=scopes, **extra)  # type: ignore[arg-type]


def principal_for_api_key(session: Session, plaintext: str, now: datetime | None = None) -> Principal | None:
    """The organisation behind a live API key; None for unknown, revoked or expired keys.

    The hash comparison runs in constant time even when the prefix is unknown, so response
    times do not tell which prefixes exist.
    """
    now = now or datetime.now(UTC)
    prefix = parse_key_prefix(plaintext)
    row = session.get(ApiKey, prefix) if prefix else None
    matches = key_matches(plaintext, row.secret_hash if row else b"\0" * 32)
    if row is None or not matches or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    org = session.get(Organisation, row.org_id)
    return _principal(session, org, key_prefix=row.prefix) if org else None


def principal_for_user(session: Session, user_id: int) -> Principal | None:
    user = session.get(User, user_id)
    if user is None or user.disabled:
        return None
    org = session.get(Organisation, user.org_id)
    return _principal(session, org, user_id=user.id) if org else None
