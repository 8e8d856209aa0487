"""Organisations and their API keys: the pure rules."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass

from ledger.errors import InvalidEntry

ROLES = frozenset(
    {
        "admin",
        "inspector",
        "producer",
        "processor",
        "cold_store",
        "carrier",
        "retailer",
        "canteen",
        "maintenance",
        "equipment_user",
        "inspection_agency",
    }
)
BUSINESS_ROLES = ROLES - {"admin", "inspector"}
KEY_PREFIX = "anl"


def validate_roles(roles: list[str]) -> list[str]:
    if not all(isinstance(role, str) for role in roles):
        raise InvalidEntry(f"roles must be names chosen from {', '.join(sorted(ROLES))}")
    unknown = sorted(set(roles) - ROLES)
    if not roles or unknown:
        raise InvalidEntry(f"roles must be chosen from {', '.join(sorted(ROLES))}; unknown: {', '.join(unknown)}")
    return sorted(set(roles))


def validate_name(name: str) -> str:
    return validate_text(name, "organisation name")


CONTACT_FIELDS = ("person", "phone", "email", "address")


def validate_contact(contact: dict[str, str] | None) -> dict[str, str] | None:
    if contact is None:
        return None
    if not isinstance(contact, dict) or set(contact) - set(CONTACT_FIELDS):
        raise InvalidEntry(f"contact may hold only {', '.join(CONTACT_FIELDS)}")
    cleaned = {k: " ".join(str(v).split()) for k, v in contact.items() if v}
    if any(len(v) > 200 for v in cleaned.values()):
        raise InvalidEntry("contact fields must be at most 200 characters")
    return cleaned or None


def validate_text(value: object, what: str, limit: int = 200) -> str:
    cleaned = " ".join(value.split()) if isinstance(value, str) else ""
    if not 0 < len(cleaned) <= limit:
        raise InvalidEntry(f"{what} must be 1 to {limit} characters")
    # Whitespace is folded above; other control characters (NUL above all, which PostgreSQL
    # cannot store in text) have no place in a name or a description.
    if any(unicodedata.category(char) == "Cc" for char in cleaned):
        raise InvalidEntry(f"{what} must not contain control characters")
    return cleaned


def new_org_id() -> str:
    return "org_" + secrets.token_hex(8)


@dataclass(frozen=True)
class IssuedKey:
    """A freshly made API key.  ``plaintext`` is shown once and never stored."""

    prefix: str
    plaintext: str
    secret_hash: bytes


def issue_api_key() -> IssuedKey:
    """``anl_{prefix}_{secret}``: the prefix finds the row, the hash of the whole key proves it."""
    prefix = secrets.token_hex(6)
    plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return IssuedKey(prefix, plaintext, hash_api_key(plaintext))


def hash_api_key(plaintext: str) -> bytes:
    # API keys carry 256 random bits, so a fast hash is safe; passwords use a slow KDF.
    return hashlib.sha256(plaintext.encode()).digest()


def parse_key_prefix(plaintext: str) -> str | None:
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 12:
        return None
    return parts[1]


def key_matches(plaintext: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_api_key(plaintext), stored_hash)
