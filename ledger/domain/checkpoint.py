"""Checkpoints (C2SP tlog-checkpoint) and their Ed25519 signatures (C2SP signed-note).

A checkpoint body is three lines, each ending in ``\\n``: the origin, the decimal tree size,
and the base64 root hash.  A signed note is the body, an empty line, and one line per
signature: ``— {name} {base64(key id ‖ signature)}``.  The key id is the first four bytes of
SHA-256(name ‖ ``\\n`` ‖ 0x01 ‖ public key), where 0x01 names the Ed25519 algorithm.  These
are the same bytes Go's ``golang.org/x/mod/sumdb/note`` reads and writes.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.domain.hashing import HASH_SIZE
from ledger.errors import NoteError

ED25519_ALGORITHM = 0x01
SIGNATURE_PREFIX = "— "  # U+2014 EM DASH, then a space
_DECIMAL = re.compile(r"^(0|[1-9][0-9]*)$")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes

    def body(self) -> str:
        if not self.origin or any(ch in self.origin for ch in "\n\r"):
            raise NoteError("checkpoint origin must be one non-empty line")
        return f"{self.origin}\n{self.tree_size}\n{base64.b64encode(self.root_hash).decode()}\n"


def parse_checkpoint(body: str) -> Checkpoint:
    """Parse a checkpoint body; extension lines after the root hash are allowed and ignored."""
    if not body.endswith("\n"):
        raise NoteError("checkpoint body must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3 or not lines[0] or any(not line for line in lines):
        raise NoteError("checkpoint needs an origin line, a tree size line and a root hash line")
    origin, size_text, root_text = lines[:3]
    if not _DECIMAL.match(size_text):
        raise NoteError(f"tree size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise NoteError("root hash is not base64") from exc
    if len(root) != HASH_SIZE:
        raise NoteError("root hash must be 32 bytes")
    return Checkpoint(origin, int(size_text), root)


def _check_key_name(name: str) -> None:
    if not name or any(ch.isspace() or ch == "+" for ch in name):
        raise NoteError("key name must be non-empty with no spaces and no '+'")


def key_id(name: str, public_key: bytes) -> bytes:
    return sha256(name.encode() + b"\n" + bytes([ED25519_ALGORITHM]) + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """``name+hex key id+base64(0x01 ‖ public key)``: the string a note verifier is given."""
    _check_key_name(name)
    encoded = base64.b64encode(bytes([ED25519_ALGORITHM]) + public_key).decode()
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


@dataclass(frozen=True)
class NoteVerifier:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def from_verifier_key(cls, vkey: str) -> NoteVerifier:
        parts = vkey.strip().split("+", 2)  # base64 may itself hold "+"
        if len(parts) != 3:
            raise NoteError("verifier key must look like name+keyid+base64key")
        name, hex_id, b64 = parts
        _check_key_name(name)
        try:
            raw = base64.b64decode(b64, validate=True)
            claimed = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError) as exc:
            raise NoteError("verifier key is not well formed") from exc
        if len(raw) != 33 or raw[0] != ED25519_ALGORITHM:
            raise NoteError("verifier key is not an Ed25519 key")
        if len(claimed) != 4 or claimed != key_id(name, raw[1:]):
            raise NoteError("verifier key id does not match its name and key")
        return cls(name, claimed, Ed25519PublicKey.from_public_bytes(raw[1:]))


class NoteSigner:
    """Signs checkpoint bodies as C2SP signed notes with one Ed25519 key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_key_name(name)
        self.name = name
        self._private_key = private_key
        self.public_key_bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id(name, self.public_key_bytes)

    @property
    def verifier_key(self) -> str:
        return verifier_key(self.name, self.public_key_bytes)

    def public_key_pem(self) -> str:
        return (
            self._private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.key_id, self._private_key.public_key())

    def sign(self, body: str) -> str:
        if not body.endswith("\n"):
            raise NoteError("note body must end with a newline")
        signature = self._private_key.sign(body.encode())
        encoded = base64.b64encode(self.key_id + signature).decode()
        return f"{body}\n{SIGNATURE_PREFIX}{self.name} {encoded}\n"


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """Split a signed note into its body and its (key name, key id ‖ signature) lines."""
    separator = note.rfind("\n\n")
    if separator < 0 or not note.endswith("\n"):
        raise NoteError("signed note must be body, an empty line, then signature lines")
    body = note[: separator + 1]
    signatures: list[tuple[str, bytes]] = []
    for line in note[separator + 2 : -1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("signature line must start with an em dash and a space")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise NoteError("signature is not base64") from exc
        if len(blob) < 5:
            raise NoteError("signature is too short")
        signatures.append((name, blob))
    return body, signatures


def open_note(note: str, verifiers: Sequence[NoteVerifier]) -> str:
    """Return the body of a note signed by at least one of ``verifiers``; raise otherwise.

    A signature by a key we know that does not verify is an error even if another one does:
    it means the note was altered, which a verifier must report.
    """
    body, signatures = split_note(note)
    verified = False
    for name, blob in signatures:
        for verifier in verifiers:
            if verifier.name == name and verifier.key_id == blob[:4]:
                try:
                    verifier.public_key.verify(blob[4:], body.encode())
                except InvalidSignature as exc:
                    raise NoteError(f"signature by {name} does not verify") from exc
                verified = True
    if not verified:
        raise NoteError("note carries no signature by a known key")
    return body


def sign_checkpoint(signer: NoteSigner, checkpoint: Checkpoint) -> str:
    return signer.sign(checkpoint.body())


def open_checkpoint(note: str, verifier: NoteVerifier, origin: str | None = None) -> Checkpoint:
    checkpoint = parse_checkpoint(open_note(note, [verifier]))
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint
