"""Event signatures (责任可究): an organisation signs the RFC 8785 bytes of an event's payload
with its own Ed25519 key, so anyone can check later that the organisation, not our server,
said it.  The public keys are registered through the ledger itself (``org.signing_key.registered``),
so a verifier needs nothing but the ledger."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.errors import InvalidEntry


class BadSignature(InvalidEntry):
    """The event's signature is missing where required, malformed, or does not verify."""

    title = "Bad signature"
    type = "bad-signature"


@dataclass(frozen=True)
class EventSignature:
    key_id: str
    signature: bytes

    @classmethod
    def from_json(cls, value: Any) -> EventSignature:
        if not isinstance(value, dict) or not isinstance(value.get("key_id"), str) or "sig" not in value:
            raise BadSignature("signature must be an object with 'key_id' and base64 'sig'")
        try:
            raw = base64.b64decode(value["sig"], validate=True)
        except (binascii.Error, TypeError, ValueError) as exc:
            raise BadSignature("signature 'sig' is not base64") from exc
        if len(raw) != 64:
            raise BadSignature("an Ed25519 signature is 64 bytes")
        return cls(value["key_id"], raw)

    def as_actor_fields(self) -> dict[str, str]:
        return {"key_id": self.key_id, "sig": base64.b64encode(self.signature).decode()}


def parse_public_key(encoded: str) -> bytes:
    """A raw 32-byte Ed25519 public key from base64, checked to be a valid point encoding."""
    try:
        raw = base64.b64decode(encoded, validate=True)
        Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise InvalidEntry("public_key must be a base64 raw 32-byte Ed25519 public key") from exc
    return raw


def signing_key_id(public_key: bytes) -> str:
    """Key ids are derived from the key, so the same key always has the same id."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def signed_bytes(payload: dict[str, Any]) -> bytes:
    """What a signature covers: the payload in RFC 8785 canonical form."""
    try:
        return rfc8785.dumps(payload)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidEntry(f"payload is not canonicalisable JSON: {exc}") from exc


def verify_event_signature(public_key: bytes, payload: dict[str, Any], signature: EventSignature) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature.signature, signed_bytes(payload))
    except InvalidSignature as exc:
        raise BadSignature(f"signature by key {signature.key_id} does not match the payload") from exc
