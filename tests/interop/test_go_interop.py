"""Interop: Go's golang.org/x/mod/sumdb/note and sumdb/tlog accept what our Python core makes.

Our code builds a ledger-like tree, signs checkpoints and writes proofs; the Go program
``verify_note_and_proofs.go`` (next to this file) checks them with code we did not write and
prints ``PASS <check>`` / ``FAIL <check>: <reason>`` per check.  The negative tests alter one
thing each and assert that exactly the checks that depend on it fail, for the right reason.

CI must install Go and the x/mod sources (Debian: ``golang-go golang-golang-x-mod-dev``).
The program is built in GOPATH mode against those sources, offline.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.domain import canonical
from ledger.domain.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from ledger.domain.hashing import leaf_hash, node_hash
from ledger.domain.merkle import (
    assemble,
    consistency_ranges,
    inclusion_ranges,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)

GO_SOURCE = Path(__file__).with_name("verify_note_and_proofs.go")
ORIGIN = "anlian.local/ledger"
LEAVES = 37
X_MOD_PACKAGES = ("note", "tlog")
INSTALL_HINT = (
    "Go interop tests need Go and golang.org/x/mod: install the Debian packages "
    "golang-go and golang-golang-x-mod-dev (CI installs them)"
)

Doc = dict[str, Any]


# --- building and running the Go program ------------------------------------------------


def _gopath() -> str:
    """GOPATH entries that hold golang.org/x/mod/sumdb/{note,tlog} sources (Debian's first)."""
    candidates = ["/usr/share/gocode", *filter(None, os.environ.get("GOPATH", "").split(os.pathsep))]
    found = [
        path
        for path in dict.fromkeys(candidates)
        if all((Path(path) / "src/golang.org/x/mod/sumdb" / pkg).is_dir() for pkg in X_MOD_PACKAGES)
    ]
    if not found:
        pytest.fail(f"golang.org/x/mod/sumdb sources not found under {candidates}. {INSTALL_HINT}")
    return os.pathsep.join(found)


def build_go(source: Path, workdir: Path, name: str) -> Path:
    """``source`` built offline in GOPATH mode against Debian's x/mod sources, into ``workdir``."""
    go = shutil.which("go")
    if go is None:
        pytest.fail(f"`go` is not on PATH. {INSTALL_HINT}")
    binary = workdir / name
    env = {
        **os.environ,
        "GO111MODULE": "off",  # GOPATH mode: resolve imports from the Debian sources
        "GOPATH": _gopath(),
        "GOCACHE": str(workdir / "gocache"),  # writable even with no HOME (root in CI)
        "GOENV": "off",  # ignore any user go/env file
        "GOFLAGS": "",  # an inherited module flag such as -mod=mod would break a GOPATH-mode build
        "GOPROXY": "off",  # never touch the network
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",  # no C compiler needed
    }
    build = subprocess.run(
        [go, "build", "-o", str(binary), str(source)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if build.returncode != 0:
        pytest.fail(f"building {source.name} failed:\n{build.stderr}\n{INSTALL_HINT}")
    return binary


@pytest.fixture(scope="module")
def go_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_go(GO_SOURCE, tmp_path_factory.mktemp("go-interop"), "interop")


class GoResult:
    def __init__(self, completed: subprocess.CompletedProcess[str]) -> None:
        self.returncode = completed.returncode
        self.output = completed.stdout + completed.stderr
        self.passed: set[str] = set()
        self.failed: dict[str, str] = {}  # check -> reason
        for line in completed.stdout.splitlines():
            if line.startswith("PASS "):
                self.passed.add(line[5:])
            elif line.startswith("FAIL "):
                check, _, reason = line[5:].partition(": ")
                self.failed[check] = reason


def run_go(binary: Path, doc: Doc, tmp_path: Path) -> GoResult:
    path = tmp_path / "interop.json"
    path.write_text(json.dumps(doc))
    completed = subprocess.run([str(binary), str(path)], capture_output=True, text=True, timeout=120, check=False)
    return GoResult(completed)


# --- the fixture ledger, made only with our Python code ---------------------------------


def ledger_entries(count: int) -> list[bytes]:
    """Entry bytes as the ledger stores them: canonical JSON, each linked to the last."""
    kinds = ("batch.registered", "batch.inspected", "batch.shipped", "batch.received")
    start = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    prev = canonical.GENESIS_PREV
    entries = []
    for seq in range(count):
        entry = canonical.encode_entry(
            canonical.Entry(
                seq=seq,
                kind=kinds[seq % len(kinds)],
                subject=f"batch/2026-{seq // 4 + 1:04d}",
                actor={"org": ("acme-farms", "nordlager", "café-müller")[seq % 3], "user": f"u-{seq * 7 % 23}"},
                recorded_at=canonical.format_recorded_at(start + timedelta(minutes=seq, microseconds=seq * 1013)),
                payload={"quantity_kg": 100 + seq, "note": "überprüft ✓" if seq % 5 == 0 else "", "seals": [seq, -seq]},
                prev=prev,
            )
        )
        entries.append(entry)
        prev = leaf_hash(entry).hex()
    return entries


def all_blocks(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete aligned subtree's hash: block (level, idx) covers [idx << level, (idx + 1) << level)."""
    blocks = {(0, i): leaf for i, leaf in enumerate(leaves)}
    level = 1
    while 1 << level <= len(leaves):
        for idx in range(len(leaves) >> level):
            blocks[(level, idx)] = node_hash(blocks[(level - 1, 2 * idx)], blocks[(level - 1, 2 * idx + 1)])
        level += 1
    return blocks


@pytest.fixture(scope="module")
def signer() -> NoteSigner:
    return NoteSigner(ORIGIN, Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def good_doc(signer: NoteSigner) -> Doc:
    entries = ledger_entries(LEAVES)
    leaves = [leaf_hash(entry) for entry in entries]
    blocks = all_blocks(leaves)
    sizes = range(1, LEAVES + 1)
    roots = {size: tree_hash(leaves[:size]) for size in sizes}

    inclusion = []
    for size in sizes:
        for index in range(size):
            proof = assemble(inclusion_ranges(index, size), blocks)
            verify_inclusion(index, size, leaves[index], proof, roots[size])  # our own check first
            inclusion.append({"index": index, "size": size, "proof": [h.hex() for h in proof]})

    consistency = []
    for second in sizes:
        for first in range(1, second + 1):
            proof = assemble(consistency_ranges(first, second), blocks)
            verify_consistency(first, second, roots[first], roots[second], proof)
            consistency.append({"first": first, "second": second, "proof": [h.hex() for h in proof]})

    return {
        "origin": ORIGIN,
        "verifier_key": signer.verifier_key,
        "trees": [
            {
                "size": size,
                "root": roots[size].hex(),
                "checkpoint": sign_checkpoint(signer, Checkpoint(ORIGIN, size, roots[size])),
            }
            for size in sizes
        ],
        "leaves": [
            {"index": i, "data": base64.b64encode(entry).decode(), "leaf_hash": leaf.hex()}
            for i, (entry, leaf) in enumerate(zip(entries, leaves, strict=True))
        ],
        "inclusion": inclusion,
        "consistency": consistency,
    }


def altered(doc: Doc, change: Callable[[Doc], None]) -> Doc:
    new = copy.deepcopy(doc)
    change(new)
    return new


def tree(doc: Doc, size: int) -> dict[str, Any]:
    return next(t for t in doc["trees"] if t["size"] == size)


def proof_of(doc: Doc, kind: str, **key: int) -> list[str]:
    proof: list[str] = next(p for p in doc[kind] if all(p[k] == v for k, v in key.items()))["proof"]
    return proof


def assert_fails_exactly(result: GoResult, expected: dict[str, str]) -> None:
    """The Go program exited 1 and failed exactly the ``expected`` checks, each with a reason
    containing the given text; every other check still passed."""
    assert result.returncode == 1, result.output
    assert set(result.failed) == set(expected), result.output[-3000:]
    for check, reason in expected.items():
        assert reason in result.failed[check], f"{check}: {result.failed[check]!r} lacks {reason!r}"
    assert result.passed, "other checks should still have run and passed"


# --- the tests ---------------------------------------------------------------------------


def test_go_accepts_our_checkpoints_and_proofs(go_binary: Path, good_doc: Doc, tmp_path: Path) -> None:
    result = run_go(go_binary, good_doc, tmp_path)
    assert result.returncode == 0, result.output[-3000:]
    assert not result.failed
    expected = (
        1  # verifier key
        + 2 * len(good_doc["trees"])  # signed checkpoint and tlog.TreeHash per size
        + len(good_doc["leaves"])
        + len(good_doc["inclusion"])
        + len(good_doc["consistency"])
    )
    assert len(result.passed) == expected
    assert f"SUMMARY {expected} passed, 0 failed" in result.output
    # Spot-check that the interesting checks really ran.
    for check in (
        "verifier-key",
        "checkpoint size=37",
        "tree size=37",
        "leaf index=36",
        "inclusion index=36 size=37",
        "consistency first=1 second=37",
        "consistency first=37 second=37",
    ):
        assert check in result.passed


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, (text, old)
    return text.replace(old, new)


@pytest.mark.parametrize(
    ("line", "position", "replacements"),
    [
        (1, -1, "89"),  # tree size 37 -> 38
        (0, -1, "xy"),  # origin anlian.local/ledger -> anlian.local/ledgex
        (2, 0, "+/"),  # first base64 character of the root hash
    ],
    ids=["tree-size", "origin", "root-hash"],
)
def test_go_rejects_note_with_body_changed_by_one_character(
    go_binary: Path, good_doc: Doc, tmp_path: Path, line: int, position: int, replacements: str
) -> None:
    def change(doc: Doc) -> None:
        body, signatures = tree(doc, 37)["checkpoint"].split("\n\n", 1)
        lines = body.split("\n")
        chars = list(lines[line])
        chars[position] = next(c for c in replacements if c != chars[position])
        lines[line] = "".join(chars)
        tree(doc, 37)["checkpoint"] = "\n".join(lines) + "\n\n" + signatures

    result = run_go(go_binary, altered(good_doc, change), tmp_path)
    assert_fails_exactly(result, {"checkpoint size=37": "note.Open: invalid signature for key anlian.local/ledger+"})


def test_go_rejects_note_signed_by_another_key(go_binary: Path, good_doc: Doc, tmp_path: Path) -> None:
    impostor = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())  # same name, different key id

    def change(doc: Doc) -> None:
        checkpoint = Checkpoint(ORIGIN, 37, bytes.fromhex(tree(doc, 37)["root"]))
        tree(doc, 37)["checkpoint"] = sign_checkpoint(impostor, checkpoint)

    result = run_go(go_binary, altered(good_doc, change), tmp_path)
    assert_fails_exactly(result, {"checkpoint size=37": "note.Open: note has no verifiable signatures"})


def test_go_rejects_other_keys_signature_under_our_key_id(
    go_binary: Path, good_doc: Doc, signer: NoteSigner, tmp_path: Path
) -> None:
    """Another key's signature relabelled with our key id: Go must try it and reject it."""
    impostor = Ed25519PrivateKey.generate()

    def change(doc: Doc) -> None:
        body = Checkpoint(ORIGIN, 37, bytes.fromhex(tree(doc, 37)["root"])).body()
        blob = base64.b64encode(signer.key_id + impostor.sign(body.encode())).decode()
        tree(doc, 37)["checkpoint"] = f"{body}\n— {ORIGIN} {blob}\n"

    result = run_go(go_binary, altered(good_doc, change), tmp_path)
    assert_fails_exactly(result, {"checkpoint size=37": "note.Open: invalid signature for key anlian.local/ledger+"})


def test_go_rejects_validly_signed_checkpoint_for_another_root(
    go_binary: Path, good_doc: Doc, signer: NoteSigner, tmp_path: Path
) -> None:
    """A genuine signature over the wrong root: the signed root, not the given one, is what counts."""

    def change(doc: Doc) -> None:
        wrong_root = bytes.fromhex(tree(doc, 36)["root"])
        tree(doc, 37)["checkpoint"] = sign_checkpoint(signer, Checkpoint(ORIGIN, 37, wrong_root))

    result = run_go(go_binary, altered(good_doc, change), tmp_path)
    assert_fails_exactly(result, {"checkpoint size=37": "body: signed root"})


def test_go_rejects_inclusion_proof_with_flipped_hash(go_binary: Path, good_doc: Doc, tmp_path: Path) -> None:
    def change(doc: Doc) -> None:
        proof = proof_of(doc, "inclusion", index=21, size=37)
        flipped = bytearray.fromhex(proof[2])
        flipped[0] ^= 0x01
        proof[2] = flipped.hex()

    result = run_go(go_binary, altered(good_doc, change), tmp_path)
    assert_fails_exactly(result, {"inclusion index=21 size=37": "tlog.CheckRecord: invalid transparency proof"})


def test_go_rejects_consistency_proof_with_hash_dropped(go_binary: Path, good_doc: Doc, tmp_path: Path) -> None:
    def change(doc: Doc) -> None:
        proof = proof_of(doc, "consistency", first=13, second=37)
        assert len(proof) >= 3
        del proof[1]

    result = run_go(go_binary, altered(good_doc, change), tmp_path)
    assert_fails_exactly(result, {"consistency first=13 second=37": "tlog.CheckTree: invalid transparency proof"})


def test_go_rejects_changed_leaf_data(go_binary: Path, good_doc: Doc, tmp_path: Path) -> None:
    """One byte of entry 20 changes (quantity 120 -> 121); its stated leaf hash stays."""
    index = 20

    def change(doc: Doc) -> None:
        leaf = doc["leaves"][index]
        data = base64.b64decode(leaf["data"]).decode()
        data = _replace_once(data, '"quantity_kg":120', '"quantity_kg":121')
        leaf["data"] = base64.b64encode(data.encode()).decode()

    result = run_go(go_binary, altered(good_doc, change), tmp_path)
    expected = {f"leaf index={index}": "tlog.RecordHash is"}
    for size in range(index + 1, LEAVES + 1):
        expected[f"inclusion index={index} size={size}"] = "tlog.CheckRecord: invalid transparency proof"
        expected[f"tree size={size}"] = "tlog.TreeHash is"  # tlog's own roots over the data move too
    assert_fails_exactly(result, expected)
