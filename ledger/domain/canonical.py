"""Entry bytes: the exact serialisation every verifier hashes (DESIGN "The ledger format" §1).

An entry is the JSON object ``{seq, kind, subject, actor, recorded_at, payload, prev}``
serialised with RFC 8785 (JSON Canonicalization Scheme) as UTF-8.  The bytes are produced
once, stored, and from then on only ever re-hashed, never re-encoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import rfc8785

from ledger.errors import InvalidEntry

GENESIS_PREV = "0" * 64
MAX_SAFE_INTEGER = 2**53
ENTRY_FIELDS = ("actor", "kind", "payload", "prev", "recorded_at", "seq", "subject")
_FIELD_SET = frozenset(ENTRY_FIELDS)

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


def _canonical_string(value: str) -> bytes:
    # Printable ASCII other than '"' and '\\' is never escaped by RFC 8785, so such a string is
    # just quoted; anything else goes through the library.  Kinds and most subjects qualify.
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return b'"' + value.encode() + b'"'
    return _canonical(value, "string")


def _canonical(value: Any, what: str) -> bytes:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidEntry(f"{what} is not canonicalisable JSON: {exc}") from exc


@dataclass(frozen=True, slots=True)
class EncodedBody:
    """The RFC 8785 forms of the fields an entry's author chooses (actor, kind, payload, subject).

    They do not depend on the entry's place in the log, so the append path makes them before
    it takes the ledger lock and only splices in ``prev``, ``recorded_at`` and ``seq`` under it.
    """

    actor: bytes
    kind: bytes
    payload: bytes
    subject: bytes


def encode_body(kind: str, subject: str, actor: dict[str, Any], payload: dict[str, Any]) -> EncodedBody:
    validate_event_fields(kind, subject, actor)
    if not isinstance(payload, dict):
        raise InvalidEntry("payload must be a JSON object")
    return EncodedBody(
        actor=_canonical(actor, "actor"),
        kind=_canonical_string(kind),
        payload=_canonical(payload, "payload"),
        subject=_canonical_string(subject),
    )


def assemble_entry(body: EncodedBody, seq: int, recorded_at: str, prev: str) -> bytes:
    """Entry bytes from a pre-encoded body.

    RFC 8785 serialises an object as its members sorted by key, each value in canonical form,
    so splicing canonical values under the seven fixed ASCII keys in sorted order gives exactly
    ``rfc8785.dumps`` of the whole entry (a property test checks this).  ``prev`` and
    ``recorded_at`` are plain ASCII that JSON never escapes; ``seq`` is a safe integer.
    """
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < MAX_SAFE_INTEGER:
        raise InvalidEntry("seq must be a non-negative integer below 2**53")
    if not _HEX64.match(prev):
        raise InvalidEntry("prev must be 64 lowercase hex digits")
    if not _RECORDED_AT.match(recorded_at):
        raise InvalidEntry(f"recorded_at {recorded_at!r} is not RFC 3339 UTC with microseconds")
    return b"".join(
        (
            b'{"actor":', body.actor,
            b',"kind":', body.kind,
            b',"payload":', body.payload,
            b',"prev":"', prev.encode(),
            b'","recorded_at":"', recorded_at.encode(),
            b'","seq":', str(seq).encode(),
            b',"subject":', body.subject,
            b"}",
        )
    )  # fmt: skip


def encode_entry(entry: Entry) -> bytes:
    """Canonical RFC 8785 bytes of an entry, after checking every field's shape."""
    body = encode_body(entry.kind, entry.subject, entry.actor, entry.payload)
    return assemble_entry(body, entry.seq, entry.recorded_at, entry.prev)


def _parse(data: bytes) -> dict[str, Any]:
    # orjson parses strict UTF-8 JSON about five times faster than the standard library, and
    # parsing is most of what verifying a large ledger costs.
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidEntry(f"entry bytes are not UTF-8 JSON: {exc}") from exc
    if type(obj) is not dict or obj.keys() != _FIELD_SET:
        raise InvalidEntry(f"entry must have exactly the fields {', '.join(ENTRY_FIELDS)}")
    seq, prev = obj["seq"], obj["prev"]
    if type(seq) is not int or seq < 0:
        raise InvalidEntry("seq must be a non-negative integer")
    if type(prev) is not str or not _HEX64.match(prev):
        raise InvalidEntry("prev must be 64 lowercase hex digits")
    if type(obj["recorded_at"]) is not str or type(obj["payload"]) is not dict:
        raise InvalidEntry("recorded_at must be a string and payload an object")
    return obj


def chain_fields(data: bytes) -> tuple[int, str]:
    """``seq`` and ``prev`` of stored entry bytes, after checking the entry's shape.

    Verifiers use this: it never re-encodes, so it cannot hide a difference in bytes.
    """
    obj = _parse(data)
    return obj["seq"], obj["prev"]


def decode_entry(data: bytes) -> Entry:
    """Parse stored entry bytes back into an :class:`Entry`, checking its shape."""
    obj = _parse(data)
    return Entry(obj["seq"], obj["kind"], obj["subject"], obj["actor"], obj["recorded_at"], obj["payload"], obj["prev"])
