"""Entry bytes: the exact serialisation every verifier hashes (DESIGN "The ledger format" §1).

An entry is the JSON object ``{seq, kind, subject, actor, recorded_at, payload, prev}``
serialised with RFC 8785 (JSON Canonicalization Scheme) as UTF-8.  The bytes are produced
once, stored, and from then on only ever re-hashed, never re-encoded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785

from ledger.errors import InvalidEntry

GENESIS_PREV = "0" * 64
ENTRY_FIELDS = ("actor", "kind", "payload", "prev", "recorded_at", "seq", "subject")

_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_RECORDED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def format_recorded_at(moment: datetime) -> str:
    """RFC 3339 UTC with exactly six fractional digits and ``Z``, e.g. ``2026-11-26T08:00:00.000000Z``."""
    if moment.tzinfo is None:
        raise InvalidEntry("recorded_at must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_recorded_at(text: str) -> datetime:
    if not _RECORDED_AT.match(text):
        raise InvalidEntry(f"recorded_at {text!r} is not RFC 3339 UTC with microseconds")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Entry:
    """One decoded ledger entry."""

    seq: int
    kind: str
    subject: str
    actor: dict[str, Any]
    recorded_at: str
    payload: dict[str, Any]
    prev: str

    def as_object(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "subject": self.subject,
            "actor": self.actor,
            "recorded_at": self.recorded_at,
            "payload": self.payload,
            "prev": self.prev,
        }


def validate_event_fields(kind: str, subject: str, actor: dict[str, Any]) -> None:
    """Checks shared by encoding and by the append path, before any work is done."""
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise InvalidEntry(f"kind {kind!r} must be a dotted lowercase name such as 'batch.registered'")
    if not isinstance(subject, str) or not subject or len(subject) > 2048:
        raise InvalidEntry("subject must be a non-empty string of at most 2048 characters")
    if not isinstance(actor, dict) or not isinstance(actor.get("org"), str) or not actor["org"]:
        raise InvalidEntry("actor must be an object naming the organisation in 'org'")


def encode_entry(entry: Entry) -> bytes:
    """Canonical RFC 8785 bytes of an entry, after checking every field's shape."""
    validate_event_fields(entry.kind, entry.subject, entry.actor)
    if not isinstance(entry.seq, int) or isinstance(entry.seq, bool) or entry.seq < 0:
        raise InvalidEntry("seq must be a non-negative integer")
    if not isinstance(entry.payload, dict):
        raise InvalidEntry("payload must be a JSON object")
    if not _HEX64.match(entry.prev):
        raise InvalidEntry("prev must be 64 lowercase hex digits")
    parse_recorded_at(entry.recorded_at)
    try:
        return rfc8785.dumps(entry.as_object())
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidEntry(f"payload is not canonicalisable JSON: {exc}") from exc


def decode_entry(data: bytes) -> Entry:
    """Parse stored entry bytes back into an :class:`Entry`, checking its shape.

    Used by verifiers: it never re-encodes, so it cannot hide a difference in bytes.
    """
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEntry(f"entry bytes are not UTF-8 JSON: {exc}") from exc
    if not isinstance(obj, dict) or sorted(obj) != list(ENTRY_FIELDS):
        raise InvalidEntry(f"entry must have exactly the fields {', '.join(ENTRY_FIELDS)}")
    seq, prev = obj["seq"], obj["prev"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise InvalidEntry("seq must be a non-negative integer")
    if not isinstance(prev, str) or not _HEX64.match(prev):
        raise InvalidEntry("prev must be 64 lowercase hex digits")
    if not isinstance(obj["recorded_at"], str) or not isinstance(obj["payload"], dict):
        raise InvalidEntry("recorded_at must be a string and payload an object")
    return Entry(
        seq=seq,
        kind=obj["kind"],
        subject=obj["subject"],
        actor=obj["actor"],
        recorded_at=obj["recorded_at"],
        payload=obj["payload"],
        prev=prev,
    )
