"""Someone with write access to the database rewrites history; ``verify`` must catch it and
name the first bad seq.  Each case edits the rows directly, as an attacker would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, delete, select, update

from ledger import cli
from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import LedgerCheckpoint, LedgerEntry
from ledger.domain.checkpoint import NoteSigner
from ledger.domain.verify import VerifyReport
from ledger.services import checkpoints
from ledger.services.verification import verify_database
from tests.conftest import ORIGIN
from tests.factories import scan


@pytest.fixture
def ledger(engine: Engine, signer: NoteSigner) -> Engine:
    """40 entries with checkpoints signed at sizes 10, 20 and 30."""
    for first in range(0, 40, 10):
        with transaction(engine) as session:
            store.append(session, [scan(n) for n in range(first, first + 10)])
            if first < 30:
                checkpoints.sign_current(session, signer, ORIGIN)
    assert verify(engine, signer).ok
    return engine


def verify(engine: Engine, signer: NoteSigner) -> VerifyReport:
    with transaction(engine, readonly=True) as session:
        return verify_database(session, signer.verifier(), ORIGIN)


def row(engine: Engine, seq: int) -> LedgerEntry:
    with transaction(engine, readonly=True) as session:
        return session.get_one(LedgerEntry, seq)


def set_row(engine: Engine, seq: int, **values: object) -> None:
    with transaction(engine) as session:
        session.execute(update(LedgerEntry).where(LedgerEntry.seq == seq).values(**values))


def test_one_changed_byte_is_found(ledger: Engine, signer: NoteSigner) -> None:
    original = row(ledger, 17).entry
    set_row(ledger, 17, entry=original.replace(b'"quantity":', b'"quantity":1'))
    report = verify(ledger, signer)
    assert report.first_bad_seq == 17 and "leaf hash" in (report.reason or "")


def test_changed_stored_leaf_hash_is_found(ledger: Engine, signer: NoteSigner) -> None:
    set_row(ledger, 33, leaf_hash=bytes(32))
    report = verify(ledger, signer)
    assert report.first_bad_seq == 33 and "leaf hash" in (report.reason or "")


def test_changed_stored_subtree_hash_is_found(ledger: Engine, signer: NoteSigner) -> None:
    set_row(ledger, 15, subtree_hashes=bytes(64))  # leaf 15 closes blocks at levels 1..4
    report = verify(ledger, signer)
    assert report.first_bad_seq == 15 and "subtree" in (report.reason or "")


def test_deleted_entry_is_found(ledger: Engine, signer: NoteSigner) -> None:
    with transaction(ledger) as session:
        session.execute(delete(LedgerEntry).where(LedgerEntry.seq == 8))
    report = verify(ledger, signer)
    assert report.first_bad_seq == 8 and "missing" in (report.reason or "")


def test_swapped_entries_are_found(ledger: Engine, signer: NoteSigner) -> None:
    a, b = row(ledger, 12), row(ledger, 25)
    set_row(ledger, 12, entry=b.entry, leaf_hash=b.leaf_hash)
    set_row(ledger, 25, entry=a.entry, leaf_hash=a.leaf_hash)
    report = verify(ledger, signer)
    assert report.first_bad_seq == 12 and "seq 25" in (report.reason or "")


def test_truncated_tail_below_last_checkpoint_is_found(ledger: Engine, signer: NoteSigner) -> None:
    with transaction(ledger) as session:
        session.execute(delete(LedgerEntry).where(LedgerEntry.seq >= 24))
    report = verify(ledger, signer)
    assert report.first_bad_seq == 24 and "entries 24 to 29 are missing" in (report.reason or "")


def test_consistently_rewritten_tail_is_caught_by_the_signed_checkpoint(ledger: Engine, signer: NoteSigner) -> None:
    # The strongest attacker: deletes from seq 25 on and appends another history through the
    # real append path, so every prev link, leaf hash and subtree hash is self-consistent.
    with transaction(ledger) as session:
        session.execute(delete(LedgerEntry).where(LedgerEntry.seq >= 25))
        forged = [scan(n) for n in range(500, 515)]
        for event in forged:
            event.payload["quantity"] = 1
        store.append(session, forged)
    report = verify(ledger, signer)
    # Only the checkpoint at 30 is signed over the rewritten entries, and the one at 20 still
    # matches: the first bad seq lies in 20..29, and 20 is the first the signatures cannot vouch for.
    assert not report.ok
    assert report.first_bad_seq == 20
    assert "from seq 20 to 29" in (report.reason or "")


def test_forged_checkpoint_signature_is_found(ledger: Engine, signer: NoteSigner) -> None:
    with transaction(ledger) as session:
        cp = session.scalars(select(LedgerCheckpoint).where(LedgerCheckpoint.tree_size == 20)).one()
        cp.note = cp.note.replace("\n20\n", "\n21\n")
    report = verify(ledger, signer)
    assert not report.ok and "not validly signed" in (report.reason or "")


def test_cli_verify_exits_1_and_names_the_first_bad_seq(
    ledger: Engine, signer: NoteSigner, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    monkeypatch.setenv("LEDGER_ORIGIN", ORIGIN)
    vkey_file = tmp_path / "vkey"
    vkey_file.write_text(signer.verifier_key)
    runner = CliRunner()
    ok = runner.invoke(cli.main, ["verify", "--key", str(vkey_file)])
    assert ok.exit_code == 0, ok.output
    assert "ok: 40 entries" in ok.output and "3 signed checkpoint(s)" in ok.output

    entry = json.loads(row(ledger, 6).entry)
    entry["payload"]["temperature_c"] = -30.0
    set_row(ledger, 6, entry=json.dumps(entry, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode())
    bad = runner.invoke(cli.main, ["verify", "--key", str(vkey_file)])
    assert bad.exit_code == 1
    assert "first bad seq 6" in bad.output
