"""Checkpoints and C2SP signed notes, against Go's own published example."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.domain.checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    sign_checkpoint,
)
from ledger.errors import NoteError

GO_NOTE = json.loads((Path(__file__).parent.parent / "vectors" / "signed_note.json").read_text())


def go_signer() -> NoteSigner:
    _, _, name, _, encoded = GO_NOTE["private_key"].split("+", 4)
    seed = base64.b64decode(encoded)[1:]  # 0x01 (Ed25519) then the 32-byte seed
    return NoteSigner(name, Ed25519PrivateKey.from_private_bytes(seed))


def test_signed_note_matches_go_byte_for_byte() -> None:
    signer = go_signer()
    assert signer.verifier_key == GO_NOTE["verifier_key"]
    assert signer.sign(GO_NOTE["text"]) == GO_NOTE["signed"]


def test_go_signed_note_opens_with_its_verifier_key() -> None:
    verifier = NoteVerifier.from_verifier_key(GO_NOTE["verifier_key"])
    assert open_note(GO_NOTE["signed"], [verifier]) == GO_NOTE["text"]


def test_changed_note_or_foreign_key_is_rejected() -> None:
    verifier = NoteVerifier.from_verifier_key(GO_NOTE["verifier_key"])
    changed = GO_NOTE["signed"].replace("cryptography", "cryptographi")
    with pytest.raises(NoteError, match="does not verify"):
        open_note(changed, [verifier])
    stranger = NoteSigner("PeterNeumann", Ed25519PrivateKey.generate())
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(stranger.sign(GO_NOTE["text"]), [verifier])


def test_checkpoint_body_is_the_c2sp_three_lines() -> None:
    checkpoint = Checkpoint("anlian.local/ledger", 1234, bytes(range(32)))
    assert checkpoint.body() == ("anlian.local/ledger\n1234\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n")
    assert parse_checkpoint(checkpoint.body()) == checkpoint


def test_signed_checkpoint_opens_and_checks_origin() -> None:
    signer = NoteSigner("anlian.local/ledger", Ed25519PrivateKey.generate())
    checkpoint = Checkpoint("anlian.local/ledger", 7, bytes(32))
    note = sign_checkpoint(signer, checkpoint)
    assert note.startswith(checkpoint.body() + "\n— anlian.local/ledger ")
    assert open_checkpoint(note, signer.verifier(), "anlian.local/ledger") == checkpoint
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(note, signer.verifier(), "other.example/log")


@pytest.mark.parametrize(
    "body",
    [
        "origin\n12\n",  # no root line
        "origin\n012\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",  # leading zero
        "origin\n12\nnot base64!\n",
        "origin\n12\nAAEC\n",  # too short a hash
        "origin\n12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",  # no final newline
    ],
)
def test_malformed_checkpoints_are_rejected(body: str) -> None:
    with pytest.raises(NoteError):
        parse_checkpoint(body)


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key id
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # unknown algorithm
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
        "PeterNeumann+c74f20a3",
    ],
)
def test_malformed_verifier_keys_are_rejected(vkey: str) -> None:
    with pytest.raises(NoteError):
        NoteVerifier.from_verifier_key(vkey)
