"""Witness cosignatures (C2SP tlog-cosignature) against published answers and lines made by Go,
and the witness's add-checkpoint rules (C2SP tlog-witness), one refusal per way a ledger can
misbehave."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.domain.checkpoint import Checkpoint, NoteSigner, open_checkpoint, sign_checkpoint, split_note
from ledger.domain.cosignature import (
    AddCheckpoint,
    Cosignature,
    CosignatureVerifier,
    Cosigner,
    Refusal,
    WitnessState,
    add_checkpoint,
    cosignatures_on,
    parse_add_checkpoint,
    parse_cosignature,
    parse_cosignature_line,
    signed_message,
)
from ledger.domain.hashing import EMPTY_TREE_HASH, leaf_hash, node_hash
from ledger.domain.merkle import assemble, consistency_ranges, tree_hash
from ledger.errors import NoteError

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "cosignature.json").read_text())
PUBLISHED = VECTORS["published"]
ORIGIN = "anlian.test/ledger"
NOW = 1_795_000_000


def seeded(seed_hex: str, name: str) -> Cosigner:
    return Cosigner(name, Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex)))


# -- The format, against published answers --------------------------------------------------------


def test_the_specifications_example_line_reads_as_its_key_id_and_time() -> None:
    example = PUBLISHED["spec_example"]
    body, signatures = split_note(example["note"])
    lines = [line for line in example["note"].split("\n") if line.startswith(f"— {example['witness']} ")]
    cosignature = parse_cosignature_line(lines[0])
    assert cosignature.name == example["witness"]
    assert cosignature.key_id.hex() == example["key_id"]
    assert cosignature.timestamp == example["timestamp"]
    assert signed_message(body, cosignature.timestamp).decode() == example["signed_message"]
    assert cosignature.line == lines[0]  # re-encodes to the same bytes
    # The log's own line in the example is a plain note signature, not a cosignature.
    log_name, log_blob = signatures[0]
    with pytest.raises(NoteError, match="76 bytes"):
        parse_cosignature(log_name, log_blob)


def test_a_deployed_witness_key_reads_with_its_key_id() -> None:
    for vkey in PUBLISHED["vkeys"]["valid"]:
        verifier = CosignatureVerifier.from_vkey(vkey)
        assert verifier.vkey == vkey  # the id in the vkey is SHA-256(name ‖ \n ‖ 0x04 ‖ key)[:4]


@pytest.mark.parametrize("vkey", PUBLISHED["vkeys"]["not_cosignature_keys"] + PUBLISHED["vkeys"]["malformed"])
def test_note_keys_and_malformed_keys_are_not_witness_keys(vkey: str) -> None:
    with pytest.raises(NoteError):
        CosignatureVerifier.from_vkey(vkey)


def test_a_witness_key_with_another_key_id_is_refused() -> None:
    valid = PUBLISHED["vkeys"]["valid"][0]
    name, _, key = valid.split("+", 2)
    with pytest.raises(NoteError, match="does not match"):
        CosignatureVerifier.from_vkey(f"{name}+00000000+{key}")


@pytest.mark.parametrize("case", PUBLISHED["timestamps"]["cases"])
def test_the_time_is_read_from_the_eight_bytes_after_the_key_id(case: dict[str, object]) -> None:
    blob = base64.b64decode(str(case["signature"]))
    if case["timestamp"] is None:
        with pytest.raises(NoteError, match="76 bytes"):  # a plain Ed25519 note signature
            parse_cosignature("witness.example", blob)
    else:
        assert parse_cosignature("witness.example", blob).timestamp == case["timestamp"]


@pytest.mark.parametrize("case", VECTORS["signed"]["cases"], ids=lambda case: case["name"])
def test_our_cosignatures_equal_gos_byte_for_byte(case: dict[str, object]) -> None:
    cosigner = seeded(str(case["seed"]), str(case["name"]))
    body, timestamp = str(case["body"]), int(str(case["timestamp"]))
    assert cosigner.vkey == case["vkey"]
    assert f"{body}\n{cosigner.sign(body, timestamp).line}\n" == case["note"]
    # And Go's note, read back with the published vkey, verifies here.
    verifier = CosignatureVerifier.from_vkey(str(case["vkey"]))
    (found,) = cosignatures_on(str(case["note"]), [verifier])
    assert found.timestamp == timestamp


def test_a_cosignature_covers_the_body_and_the_time() -> None:
    case = VECTORS["signed"]["cases"][1]
    verifier = CosignatureVerifier.from_vkey(case["vkey"])
    note = case["note"]
    changed_body = note.replace("\n40\n", "\n41\n")
    with pytest.raises(NoteError, match="does not verify"):
        cosignatures_on(changed_body, [verifier])
    changed_extension = note.replace("extension line", "extension lime")
    with pytest.raises(NoteError, match="does not verify"):
        cosignatures_on(changed_extension, [verifier])
    body, _ = split_note(note)
    signed = parse_cosignature_line(note[len(body) + 1 :])
    later = parse_cosignature(signed.name, signed.key_id + (signed.timestamp + 1).to_bytes(8, "big") + signed.signature)
    with pytest.raises(NoteError, match="does not verify"):
        verifier.verify(body, later)


def test_unknown_lines_are_ignored_and_the_ledgers_verifier_ignores_cosignatures() -> None:
    ledger = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    checkpoint = Checkpoint(ORIGIN, 7, tree_hash([leaf_hash(bytes([n])) for n in range(7)]))
    note = sign_checkpoint(ledger, checkpoint)
    bureau, consumers = (Cosigner(name, Ed25519PrivateKey.generate()) for name in ("bureau.example/w", "cca.example/w"))
    cosigned = note + "".join(w.sign(checkpoint.body(), NOW).line + "\n" for w in (bureau, consumers))
    assert open_checkpoint(cosigned, ledger.verifier(), ORIGIN) == checkpoint
    assert [c.name for c in cosignatures_on(cosigned, [consumers.verifier()])] == ["cca.example/w"]
    assert cosignatures_on(note, [bureau.verifier()]) == []


def test_a_witness_key_is_not_a_note_key_even_with_the_same_bytes() -> None:
    """One key pair, two types: the key ids differ, so neither signature passes for the other."""
    key = Ed25519PrivateKey.generate()
    note_signer, cosigner = NoteSigner("same.example", key), Cosigner("same.example", key)
    assert note_signer.key_id != cosigner.key_id
    body = Checkpoint(ORIGIN, 1, leaf_hash(b"x")).body()
    assert cosignatures_on(note_signer.sign(body), [cosigner.verifier()]) == []


@pytest.mark.parametrize("timestamp", [0, -1, 1 << 63])
def test_a_cosignature_has_a_time_between_1_and_2_to_the_63(timestamp: int) -> None:
    cosigner = Cosigner("w.example", Ed25519PrivateKey.generate())
    with pytest.raises(NoteError, match="timestamp"):
        cosigner.sign(Checkpoint(ORIGIN, 1, leaf_hash(b"x")).body(), timestamp)


@pytest.mark.parametrize(
    "line",
    [
        "witness.example AAAA",
        "— witness.example not-base64!",
        "— witness.example " + base64.b64encode(bytes(75)).decode(),
    ],
)
def test_malformed_cosignature_lines_are_refused(line: str) -> None:
    with pytest.raises(NoteError):
        parse_cosignature_line(line)


# -- The witness: add-checkpoint ----------------------------------------------------------------


class Ledger:
    """A ledger as a witness sees it: signed checkpoints of a growing list of leaves."""

    def __init__(self, leaves: int = 0, signer: NoteSigner | None = None) -> None:
        self.signer = signer or NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
        self.leaves = [leaf_hash(f"entry {n}".encode()) for n in range(leaves)]

    def grow(self, count: int, tag: str = "entry") -> None:
        start = len(self.leaves)
        self.leaves += [leaf_hash(f"{tag} {n}".encode()) for n in range(start, start + count)]

    def root(self, size: int | None = None) -> bytes:
        return tree_hash(self.leaves[: len(self.leaves) if size is None else size])

    def note(self) -> str:
        return sign_checkpoint(self.signer, Checkpoint(ORIGIN, len(self.leaves), self.root()))

    def proof(self, first: int) -> tuple[bytes, ...]:
        if first in (0, len(self.leaves)):
            return ()
        blocks: dict[tuple[int, int], bytes] = {(0, i): leaf for i, leaf in enumerate(self.leaves)}
        level = 1
        while 1 << level <= len(self.leaves):
            for i in range(len(self.leaves) >> level):
                blocks[(level, i)] = node_hash(blocks[(level - 1, 2 * i)], blocks[(level - 1, 2 * i + 1)])
            level += 1
        return tuple(assemble(consistency_ranges(first, len(self.leaves)), blocks))

    def request(self, state: WitnessState | None) -> AddCheckpoint:
        old = state.size if state else 0
        return AddCheckpoint(old, self.proof(old), self.note())


@pytest.fixture
def witness() -> Cosigner:
    return Cosigner("bureau.example/witness", Ed25519PrivateKey.generate())


def cosign(
    ledger: Ledger, state: WitnessState | None, witness: Cosigner, request: AddCheckpoint | None = None
) -> tuple[Cosignature, WitnessState]:
    return add_checkpoint(request or ledger.request(state), state, ledger.signer.verifier(), ORIGIN, witness, NOW)


def refusal(
    ledger: Ledger, state: WitnessState | None, witness: Cosigner, request: AddCheckpoint | None = None
) -> Refusal:
    with pytest.raises(Refusal) as caught:
        cosign(ledger, state, witness, request)
    return caught.value


def test_the_witness_cosigns_a_growing_ledger_and_follows_it(witness: Cosigner) -> None:
    ledger = Ledger(5)
    state = None
    for growth in (0, 3, 1, 23, 0):
        ledger.grow(growth)
        cosignature, state = cosign(ledger, state, witness)
        assert state == WitnessState(ORIGIN, len(ledger.leaves), ledger.root())
        assert cosignature.timestamp == NOW
        witness.verifier().verify(split_note(ledger.note())[0], cosignature)
    assert state is not None and state.size == 32


def test_a_fork_at_the_same_size_is_refused_and_named(witness: Cosigner) -> None:
    ledger = Ledger(10)
    _, state = cosign(ledger, None, witness)
    fork = Ledger(6, ledger.signer)
    fork.grow(4, "forged")
    refused = refusal(fork, state, witness)
    assert refused.status == 422
    assert refused.reason.startswith("fork: the ledger signed tree size 10 with root ")
    assert "this witness cosigned the same size with root" in refused.reason


def test_a_longer_rewritten_history_is_refused(witness: Cosigner) -> None:
    ledger = Ledger(10)
    _, state = cosign(ledger, None, witness)
    fork = Ledger(6, ledger.signer)
    fork.grow(9, "forged")
    refused = refusal(fork, state, witness)
    assert refused.status == 422
    assert "the ledger's tree of size 15 does not extend the tree of size 10" in refused.reason
    assert "rewrote its history" in refused.reason


def test_a_shrunken_tree_is_refused(witness: Cosigner) -> None:
    ledger = Ledger(10)
    _, state = cosign(ledger, None, witness)
    shorter = Ledger(8, ledger.signer)
    refused = refusal(shorter, state, witness, AddCheckpoint(10, (), shorter.note()))
    assert refused.status == 400
    assert "has 8 entries, fewer than the 10 this witness already cosigned" in refused.reason


def test_a_checkpoint_not_signed_by_the_ledger_key_is_refused(witness: Cosigner) -> None:
    ledger = Ledger(4)
    impostor = Ledger(4, NoteSigner(ORIGIN, Ed25519PrivateKey.generate()))
    with pytest.raises(Refusal) as caught:
        add_checkpoint(impostor.request(None), None, ledger.signer.verifier(), ORIGIN, witness, NOW)
    assert caught.value.status == 403
    assert "not validly signed by the ledger key" in caught.value.reason
    altered = ledger.note().replace("\n4\n", "\n5\n")
    with pytest.raises(Refusal) as caught:
        add_checkpoint(AddCheckpoint(0, (), altered), None, ledger.signer.verifier(), ORIGIN, witness, NOW)
    assert caught.value.status == 403 and "does not verify" in caught.value.reason


def test_a_checkpoint_of_another_ledger_is_not_witnessed(witness: Cosigner) -> None:
    ledger = Ledger(3)
    with pytest.raises(Refusal) as caught:
        add_checkpoint(ledger.request(None), None, ledger.signer.verifier(), "other.example/log", witness, NOW)
    assert caught.value.status == 404 and "not 'anlian.test/ledger'" in caught.value.reason


def test_a_request_from_another_size_than_the_cosigned_one_is_a_conflict(witness: Cosigner) -> None:
    ledger = Ledger(8)
    _, state = cosign(ledger, None, witness)
    ledger.grow(4)
    refused = refusal(ledger, state, witness, AddCheckpoint(5, ledger.proof(5), ledger.note()))
    assert refused.status == 409 and refused.latest_size == 8


def test_bad_proofs_and_empty_trees(witness: Cosigner) -> None:
    ledger = Ledger(8)
    _, state = cosign(ledger, None, witness)
    ledger.grow(5)
    proof = ledger.proof(8)
    refused = refusal(ledger, state, witness, AddCheckpoint(8, proof[:-1], ledger.note()))
    assert refused.status == 422 and "does not extend" in refused.reason
    refused = refusal(ledger, None, witness, AddCheckpoint(0, proof, ledger.note()))
    assert refused.status == 422 and "from the empty tree must be empty" in refused.reason
    empty = sign_checkpoint(ledger.signer, Checkpoint(ORIGIN, 0, leaf_hash(b"not empty")))
    refused = refusal(ledger, None, witness, AddCheckpoint(0, (), empty))
    assert refused.status == 422 and "empty tree" in refused.reason
    good_empty = sign_checkpoint(ledger.signer, Checkpoint(ORIGIN, 0, EMPTY_TREE_HASH))
    _, state = cosign(ledger, None, witness, AddCheckpoint(0, (), good_empty))
    assert state.size == 0


def test_the_request_reads_and_writes_in_the_tlog_witness_form(witness: Cosigner) -> None:
    ledger = Ledger(13)
    request = AddCheckpoint(5, ledger.proof(5), ledger.note())
    text = request.text()
    assert text.startswith("old 5\n") and f"\n\n{ledger.note()}" in text
    assert parse_add_checkpoint(text) == request
    zero = base64.b64encode(bytes(32)).decode() + "\n"
    note = ledger.note()
    malformed = [
        "old 05\n\n" + note,  # leading zero
        "new 5\n\n" + note,
        "old 5\nnot base64!\n\n" + note,
        "old 5\nAAAA\n\n" + note,  # 3 bytes, not a hash
        "old 5\n" + note,  # no empty line before the checkpoint
        "old 5\n" + zero * 64 + "\n" + note,  # more than 63 proof lines
    ]
    for bad in malformed:
        with pytest.raises(Refusal) as caught:
            parse_add_checkpoint(bad)
        assert caught.value.status == 400
