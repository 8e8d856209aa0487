"""Interop: witness cosignatures made by our Python core and by Go agree byte for byte.

``cosign_note.go`` (next to this file) signs and opens notes with Go's golang.org/x/mod/sumdb/note
and crypto/ed25519.  Our cosignatures on a real ledger checkpoint (already signed by the ledger)
must open there with the witness's vkey, Go's must open here, and for the same seed, time and body
both sides must write the very same line, which is also what ``tests/vectors/cosignature.json``
keeps for the unit tests that run without Go.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.domain.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from ledger.domain.cosignature import CosignatureVerifier, Cosigner, cosignatures_on
from ledger.domain.hashing import leaf_hash
from ledger.domain.merkle import tree_hash
from tests.interop.test_go_interop import build_go

GO_SOURCE = Path(__file__).with_name("cosign_note.go")
VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "cosignature.json").read_text())
ORIGIN = "anlian.local/ledger"


@pytest.fixture(scope="module")
def go_cosign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_go(GO_SOURCE, tmp_path_factory.mktemp("go-cosign"), "cosign_note")


def run_go(binary: Path, doc: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "cosign.json"
    path.write_text(json.dumps(doc))
    done = subprocess.run([str(binary), str(path)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def ledger_note(size: int) -> tuple[NoteSigner, Checkpoint, str]:
    ledger = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    checkpoint = Checkpoint(ORIGIN, size, tree_hash([leaf_hash(b"%d" % n) for n in range(size)]))
    return ledger, checkpoint, sign_checkpoint(ledger, checkpoint)


def test_go_makes_the_vendored_lines_and_we_make_the_same(go_cosign: Path, tmp_path: Path) -> None:
    cases = VECTORS["signed"]["cases"]
    sign = [{key: case[key] for key in ("seed", "name", "timestamp", "body")} for case in cases]
    made = run_go(go_cosign, {"sign": sign, "verify": []}, tmp_path)["signed"]
    assert made == [{"vkey": case["vkey"], "note": case["note"]} for case in cases]
    for case in cases:
        ours = Cosigner(case["name"], Ed25519PrivateKey.from_private_bytes(bytes.fromhex(case["seed"])))
        assert f"{case['body']}\n{ours.sign(case['body'], case['timestamp']).line}\n" == case["note"]


def test_go_opens_our_cosignatures_on_a_ledger_checkpoint_and_we_open_gos(go_cosign: Path, tmp_path: Path) -> None:
    _, checkpoint, note = ledger_note(37)
    witnesses = [Cosigner(name, Ed25519PrivateKey.generate()) for name in ("bureau.example/w", "cca.example/w")]
    times = [1_795_000_000, 1_795_000_061]
    cosigned = note + "".join(w.sign(checkpoint.body(), t).line + "\n" for w, t in zip(witnesses, times, strict=True))
    # Each witness's vkey opens exactly its own line; the ledger's line and the other witness's
    # are unknown to that verifier and ignored, as signed-note readers must.
    verify = [{"vkey": w.vkey, "note": cosigned} for w in witnesses]
    tampered = cosigned.replace("\n37\n", "\n38\n")
    verify.append({"vkey": witnesses[0].vkey, "note": tampered})
    opened = run_go(go_cosign, {"sign": [], "verify": verify}, tmp_path)["verified"]
    assert [(o["ok"], o["timestamp"]) for o in opened[:2]] == [(True, times[0]), (True, times[1])]
    assert not opened[2]["ok"] and "invalid signature" in opened[2]["error"]

    seed = bytes(range(32))
    go_made = run_go(
        go_cosign,
        {"sign": [{"seed": seed.hex(), "name": "bureau.example/w", "timestamp": times[0], "body": checkpoint.body()}]},
        tmp_path,
    )["signed"][0]
    verifier = CosignatureVerifier.from_vkey(go_made["vkey"])
    (found,) = cosignatures_on(go_made["note"], [verifier])
    assert found.timestamp == times[0]
    ours = Cosigner("bureau.example/w", Ed25519PrivateKey.from_private_bytes(seed))
    assert go_made["note"] == f"{checkpoint.body()}\n{ours.sign(checkpoint.body(), times[0]).line}\n"
