"""Witness cosignatures (C2SP tlog-cosignature, ``cosignature/v1`` with Ed25519), and the check a
witness makes before it cosigns (the rules of C2SP tlog-witness ``add-checkpoint``).

A cosignature is one more signature line on the ledger's signed checkpoint::

    — <witness name> base64(key id ‖ 8-byte big-endian timestamp ‖ 64-byte Ed25519 signature)

The key id is the first four bytes of SHA-256(name ‖ ``\\n`` ‖ 0x04 ‖ public key): 0x04 is the
signed-note signature type of timestamped Ed25519 cosignatures, so a witness key can never be
mistaken for a note key (type 0x01) with the same bytes.  The signature covers::

    cosignature/v1
    time <timestamp, decimal seconds since the epoch>
    <the whole checkpoint body, final newline included>

and states: "as of that time, the largest tree of this origin that I have seen, consistent with
everything I saw before, has this root".  A witness's public key is published as a vkey,
``name+hex(key id)+base64(0x04 ‖ public key)``.

The witness's side (``add_checkpoint``) follows tlog-witness: the request is the old size the
witness last cosigned, a consistency proof from it, and the new signed checkpoint; the witness
checks the ledger's signature, that the tree did not shrink, that an equal size has an equal root
and that the proof verifies, and only then cosigns and moves its state.  Each refusal carries the
HTTP status tlog-witness gives it and a sentence saying what was wrong, because a refusal is
evidence that the ledger misbehaved and somebody has to read it.
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

from ledger.domain.checkpoint import (
    SIGNATURE_PREFIX,
    Checkpoint,
    NoteVerifier,
    open_note,
    parse_checkpoint,
    split_note,
)
from ledger.domain.hashing import EMPTY_TREE_HASH, HASH_SIZE
from ledger.domain.merkle import verify_consistency
from ledger.errors import LedgerError, NoteError, ProofError

COSIGNATURE_ALGORITHM = 0x04
HEADER = "cosignature/v1"
KEY_ID_SIZE = 4
TIMESTAMP_SIZE = 8
SIGNATURE_SIZE = 64
BLOB_SIZE = KEY_ID_SIZE + TIMESTAMP_SIZE + SIGNATURE_SIZE
MAX_TIMESTAMP = (1 << 63) - 1
MAX_PROOF_LINES = 63  # tlog-witness: a client sends at most 63 consistency proof lines
_DECIMAL = re.compile(r"^(0|[1-9][0-9]*)$")


def _check_name(name: str) -> None:
    # The same rule as note key names: the name ends at the first space of a signature line.
    if not name or any(ch.isspace() or ch == "+" for ch in name):
        raise NoteError("witness name must be non-empty with no spaces and no '+'")


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name ‖ ``\\n`` ‖ 0x04 ‖ public key)[:4]."""
    return sha256(name.encode() + b"\n" + bytes([COSIGNATURE_ALGORITHM]) + public_key).digest()[:KEY_ID_SIZE]


def cosigner_vkey(name: str, public_key: bytes) -> str:
    _check_name(name)
    encoded = base64.b64encode(bytes([COSIGNATURE_ALGORITHM]) + public_key).decode()
    return f"{name}+{cosigner_key_id(name, public_key).hex()}+{encoded}"


def signed_message(body: str, timestamp: int) -> bytes:
    """The bytes a ``cosignature/v1`` signature covers: header, time line, checkpoint body."""
    if not body.endswith("\n"):
        raise NoteError("a cosigned checkpoint body must end with a newline")
    return f"{HEADER}\ntime {timestamp}\n{body}".encode()


def _check_timestamp(timestamp: int) -> None:
    # tlog-witness: a cosignature never omits its time (zero); the format caps it at 2^63 - 1.
    if not 0 < timestamp <= MAX_TIMESTAMP:
        raise NoteError(f"cosignature timestamp {timestamp} is not between 1 and 2^63 - 1")


@dataclass(frozen=True, slots=True)
class Cosignature:
    name: str
    key_id: bytes
    timestamp: int
    signature: bytes

    @property
    def blob(self) -> bytes:
        return self.key_id + self.timestamp.to_bytes(TIMESTAMP_SIZE, "big") + self.signature

    @property
    def line(self) -> str:
        """The signature line, without its final newline."""
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(self.blob).decode()}"


def parse_cosignature(name: str, blob: bytes) -> Cosignature:
    """A cosignature from a note signature's name and decoded bytes."""
    _check_name(name)
    if len(blob) != BLOB_SIZE:
        raise NoteError(f"a cosignature/v1 signature is {BLOB_SIZE} bytes, this one is {len(blob)}")
    timestamp = int.from_bytes(blob[KEY_ID_SIZE : KEY_ID_SIZE + TIMESTAMP_SIZE], "big")
    _check_timestamp(timestamp)
    return Cosignature(name, blob[:KEY_ID_SIZE], timestamp, blob[KEY_ID_SIZE + TIMESTAMP_SIZE :])


def parse_cosignature_line(line: str) -> Cosignature:
    """``— name base64`` (a final newline is allowed) as a cosignature."""
    text = line[:-1] if line.endswith("\n") else line
    if not text.startswith(SIGNATURE_PREFIX) or "\n" in text:
        raise NoteError("a cosignature line is one line starting with an em dash and a space")
    name, _, encoded = text[len(SIGNATURE_PREFIX) :].partition(" ")
    try:
        blob = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise NoteError("cosignature is not base64") from exc
    return parse_cosignature(name, blob)


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness's public key, as the ledger and the badge hold it."""

    name: str
    key_id: bytes
    public_key_bytes: bytes

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> CosignatureVerifier:
        _check_name(name)
        if len(public_key) != 32:
            raise NoteError("an Ed25519 public key is 32 bytes")
        return cls(name, cosigner_key_id(name, public_key), public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Parse ``name+hex key id+base64(0x04 ‖ key)``; the key id must match name and key."""
        parts = vkey.strip().split("+", 2)  # base64 may itself hold "+"
        if len(parts) != 3:
            raise NoteError("a witness key must look like name+keyid+base64key")
        name, hex_id, encoded = parts
        _check_name(name)
        try:
            raw = base64.b64decode(encoded, validate=True)
            claimed = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError) as exc:
            raise NoteError("the witness key is not well formed") from exc
        if len(raw) != 33 or raw[0] != COSIGNATURE_ALGORITHM:
            raise NoteError("a witness key must be a cosignature/v1 key (type 0x04 followed by 32 Ed25519 bytes)")
        verifier = cls.from_public_key(name, raw[1:])
        if claimed != verifier.key_id:
            raise NoteError("the witness key's id does not match its name and key")
        return verifier

    @property
    def vkey(self) -> str:
        return cosigner_vkey(self.name, self.public_key_bytes)

    def matches(self, name: str, blob: bytes) -> bool:
        """A signature line by this key: same name and key id (the signature is not checked)."""
        return name == self.name and blob[:KEY_ID_SIZE] == self.key_id

    def verify(self, body: str, cosignature: Cosignature) -> None:
        if cosignature.name != self.name or cosignature.key_id != self.key_id:
            raise NoteError(f"the cosignature is not by witness {self.name}")
        key = Ed25519PublicKey.from_public_bytes(self.public_key_bytes)
        try:
            key.verify(cosignature.signature, signed_message(body, cosignature.timestamp))
        except InvalidSignature as exc:
            raise NoteError(f"the cosignature by witness {self.name} does not verify") from exc


class Cosigner:
    """A witness's private key: signs checkpoint bodies as ``cosignature/v1``."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_name(name)
        self.name = name
        self._private_key = private_key
        self.public_key_bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = cosigner_key_id(name, self.public_key_bytes)

    @property
    def vkey(self) -> str:
        return cosigner_vkey(self.name, self.public_key_bytes)

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.key_id, self.public_key_bytes)

    def sign(self, body: str, timestamp: int) -> Cosignature:
        _check_timestamp(timestamp)
        signature = self._private_key.sign(signed_message(body, timestamp))
        return Cosignature(self.name, self.key_id, timestamp, signature)


def cosignatures_on(note: str, verifiers: Sequence[CosignatureVerifier]) -> list[Cosignature]:
    """The cosignatures on ``note`` by ``verifiers``, each checked; other signature lines (the
    ledger's own, unknown witnesses) are ignored.  A line by a known witness that does not verify
    is an error: the note was altered, and a verifier says so rather than skip it."""
    body, signatures = split_note(note)
    found = []
    for name, blob in signatures:
        for verifier in verifiers:
            if verifier.matches(name, blob):
                cosignature = parse_cosignature(name, blob)
                verifier.verify(body, cosignature)
                found.append(cosignature)
    return found


# -- The witness: C2SP tlog-witness add-checkpoint ---------------------------------------------


class Refusal(LedgerError):
    """The witness will not cosign.  ``status`` is the HTTP status tlog-witness gives the case;
    the message says what was wrong in words an auditor can act on."""

    title = "Witness refused to cosign"
    type = "witness-refused"

    def __init__(self, status: int, reason: str, latest_size: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.latest_size = latest_size  # 409 only: the size the witness last cosigned


@dataclass(frozen=True, slots=True)
class WitnessState:
    """The latest checkpoint a witness cosigned for one ledger (one origin)."""

    origin: str
    size: int
    root: bytes


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """An add-checkpoint request: the size the client believes the witness cosigned last, a
    consistency proof from it, and the new signed checkpoint."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str

    def text(self) -> str:
        proof = "".join(base64.b64encode(h).decode() + "\n" for h in self.proof)
        return f"old {self.old_size}\n{proof}\n{self.note}"


def parse_add_checkpoint(text: str) -> AddCheckpoint:
    """The tlog-witness request body: ``old N``, proof lines, an empty line, the signed note."""
    head, separator, note = text.partition("\n\n")
    if not separator:
        raise Refusal(400, "the request needs an old size line, proof lines and an empty line before the checkpoint")
    lines = head.split("\n")
    old = lines[0].removeprefix("old ")
    if old == lines[0] or not _DECIMAL.match(old):
        raise Refusal(400, "the first line must be 'old' and a decimal tree size")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise Refusal(400, f"a consistency proof has at most {MAX_PROOF_LINES} hashes")
    proof = []
    for line in lines[1:]:
        try:
            value = base64.b64decode(line, validate=True)
        except binascii.Error as exc:
            raise Refusal(400, "a consistency proof line is not base64") from exc
        if len(value) != HASH_SIZE:
            raise Refusal(400, "a consistency proof hash must be 32 bytes")
        proof.append(value)
    return AddCheckpoint(int(old), tuple(proof), note)


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _open_ledger_checkpoint(note: str, ledger: NoteVerifier, origin: str) -> Checkpoint:
    try:
        body, _ = split_note(note)
        checkpoint = parse_checkpoint(body)
    except NoteError as exc:
        raise Refusal(400, f"the checkpoint is not a well-formed signed note: {exc}") from exc
    if checkpoint.origin != origin:
        raise Refusal(404, f"this witness witnesses {origin!r}, not {checkpoint.origin!r}")
    try:
        open_note(note, [ledger])
    except NoteError as exc:
        raise Refusal(403, f"the checkpoint is not validly signed by the ledger key {ledger.name}: {exc}") from exc
    return checkpoint


def add_checkpoint(
    request: AddCheckpoint,
    state: WitnessState | None,
    ledger: NoteVerifier,
    origin: str,
    cosigner: Cosigner,
    now: int,
) -> tuple[Cosignature, WitnessState]:
    """Check ``request`` against what the witness cosigned before (``state``, None at first) and
    cosign it at time ``now``; return the cosignature and the witness's new state.

    The caller must persist the new state before it hands out the cosignature, and must not let
    two calls for one origin interleave (a lock around read-check-write): otherwise a slow
    request for an older size could roll the state back after a newer one was cosigned.
    """
    checkpoint = _open_ledger_checkpoint(request.note, ledger, origin)
    size, old = checkpoint.tree_size, request.old_size
    cosigned = state.size if state is not None else 0
    if old > size:
        if state is not None and old == cosigned:
            raise Refusal(
                400,
                f"the ledger's checkpoint has {size} entries, fewer than the {old} this witness already "
                f"cosigned: the ledger's tree shrank",
            )
        raise Refusal(400, f"the old size {old} is larger than the checkpoint's size {size}")
    if old != cosigned:
        detail = f"the request starts from size {old}, but this witness last cosigned size {cosigned}"
        raise Refusal(409, detail, cosigned)
    if size == 0 and checkpoint.root_hash != EMPTY_TREE_HASH:
        raise Refusal(422, "a checkpoint of size 0 must carry the root hash of the empty tree")
    if state is None or old == 0:
        if request.proof:
            raise Refusal(422, "a consistency proof from the empty tree must be empty")
    elif size == old:
        if checkpoint.root_hash != state.root:
            raise Refusal(
                422,
                f"fork: the ledger signed tree size {size} with root {_b64(checkpoint.root_hash)}, but this "
                f"witness cosigned the same size with root {_b64(state.root)}: two different histories",
            )
        if request.proof:
            raise Refusal(422, "a consistency proof between equal sizes must be empty")
    else:
        try:
            verify_consistency(old, size, state.root, checkpoint.root_hash, request.proof)
        except ProofError as exc:
            raise Refusal(
                422,
                f"the ledger's tree of size {size} does not extend the tree of size {old} this witness "
                f"cosigned ({exc}): the ledger rewrote its history",
            ) from exc
    # The whole body is signed, extension lines included (tlog-cosignature); the statement itself
    # is about the first three lines only.
    body, _ = split_note(request.note)
    return cosigner.sign(body, now), WitnessState(origin, size, checkpoint.root_hash)
