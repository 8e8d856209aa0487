"""The append path and the reads behind proofs, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, func, select

from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import LedgerEntry
from ledger.domain.canonical import GENESIS_PREV
from ledger.domain.checkpoint import NoteSigner
from ledger.domain.hashing import leaf_hash
from ledger.domain.merkle import tree_hash, verify_consistency, verify_inclusion
from ledger.errors import IdempotencyConflict, InvalidEntry, NotFound, ProofError
from ledger.services import checkpoints
from ledger.services.verification import verify_database
from tests.conftest import ORIGIN
from tests.factories import maintenance, scan


def append_scans(engine: Engine, count: int, start: int = 0, batch: int = 10) -> None:
    for first in range(start, start + count, batch):
        with transaction(engine) as session:
            store.append(session, [scan(n) for n in range(first, min(first + batch, start + count))])


def ledger_size(engine: Engine) -> int:
    with transaction(engine, readonly=True) as session:
        return store.tree_size(session)


def test_entries_chain_from_genesis_with_gapless_seq(engine: Engine) -> None:
    with transaction(engine) as session:
        results = store.append(session, [scan(0), maintenance(1), scan(2)])
    assert [r.seq for r in results] == [0, 1, 2]
    with transaction(engine, readonly=True) as session:
        rows = store.list_entries(session, 0, 10)
    assert json.loads(rows[0].entry)["prev"] == GENESIS_PREV
    for before, after in zip(rows, rows[1:], strict=False):
        assert json.loads(after.entry)["prev"] == before.leaf_hash.hex()
    for row in rows:
        assert row.leaf_hash == leaf_hash(row.entry)
        assert json.loads(row.entry)["seq"] == row.seq


def test_replayed_event_returns_the_original_and_appends_nothing(engine: Engine) -> None:
    with transaction(engine) as session:
        (first,) = store.append(session, [scan(5)])
    with transaction(engine) as session:
        second, other = store.append(session, [scan(5), scan(6)])
    assert second.replayed and second.seq == first.seq and second.entry == first.entry
    assert not other.replayed and other.seq == 1
    assert ledger_size(engine) == 2


def test_same_client_event_id_twice_in_one_batch_appends_once(engine: Engine) -> None:
    with transaction(engine) as session:
        a, b = store.append(session, [scan(9), scan(9)])
    assert (a.seq, b.seq, b.replayed) == (0, 0, True)
    assert ledger_size(engine) == 1


def test_reused_client_event_id_with_other_content_is_refused_whole(engine: Engine) -> None:
    with transaction(engine) as session:
        store.append(session, [scan(1)])
    altered = scan(1)
    altered.payload["temperature_c"] = 4.0
    with pytest.raises(IdempotencyConflict), transaction(engine) as session:
        store.append(session, [scan(2), altered])
    assert ledger_size(engine) == 1  # scan(2) rolled back with it


def test_client_event_ids_are_scoped_per_organisation(engine: Engine) -> None:
    with transaction(engine) as session:
        results = store.append(session, [scan(1, org="org_a"), scan(1, org="org_b")])
    assert [r.replayed for r in results] == [False, False]
    assert ledger_size(engine) == 2


def test_a_bad_event_in_a_batch_appends_none_of_it(engine: Engine) -> None:
    bad = scan(3)
    bad.payload["reading"] = float("inf")
    with pytest.raises(InvalidEntry), transaction(engine) as session:
        store.append(session, [scan(1), scan(2), bad])
    assert ledger_size(engine) == 0


def test_stored_subtrees_give_proofs_for_every_seq_and_size(engine: Engine) -> None:
    append_scans(engine, 45, batch=7)
    with transaction(engine, readonly=True) as session:
        leaves = [row.leaf_hash for row in store.list_entries(session, 0, 100)]
        for size in range(1, 46):
            root = store.root_hash(session, size)
            assert root == tree_hash(leaves[:size])
            for seq in range(size):
                leaf, proof = store.inclusion_proof(session, seq, size)
                assert leaf == leaves[seq]
                verify_inclusion(seq, size, leaf, proof, root)
            for first in range(1, size + 1):
                proof = store.consistency_proof(session, first, size)
                verify_consistency(first, size, tree_hash(leaves[:first]), root, proof)


def test_proof_requests_outside_the_tree_are_refused(engine: Engine) -> None:
    append_scans(engine, 5)
    with transaction(engine, readonly=True) as session:
        with pytest.raises(NotFound):
            store.inclusion_proof(session, 5, 5)
        with pytest.raises(ProofError):
            store.inclusion_proof(session, 1, 6)
        with pytest.raises(ProofError):
            store.inclusion_proof(session, 3, 2)
        with pytest.raises(ProofError):
            store.consistency_proof(session, 0, 5)
        with pytest.raises(ProofError):
            store.consistency_proof(session, 2, 9)


def test_recorded_at_never_goes_backwards(engine: Engine) -> None:
    append_scans(engine, 3)
    with transaction(engine, readonly=True) as session:
        times = [json.loads(row.entry)["recorded_at"] for row in store.list_entries(session, 0, 10)]
    assert times == sorted(times)


def test_checkpoints_sign_only_when_the_tree_grew(engine: Engine, signer: NoteSigner) -> None:
    with transaction(engine) as session:
        assert checkpoints.sign_current(session, signer, ORIGIN) is None  # empty ledger
    append_scans(engine, 12)
    with transaction(engine) as session:
        first = checkpoints.sign_current(session, signer, ORIGIN)
        assert first is not None and first.tree_size == 12
    with transaction(engine) as session:
        assert checkpoints.sign_current(session, signer, ORIGIN) is None
    append_scans(engine, 3, start=100)
    with transaction(engine) as session:
        second = checkpoints.sign_current(session, signer, ORIGIN)
        assert second is not None and second.tree_size == 15
        report = verify_database(session, signer.verifier(), ORIGIN)
    assert report.ok and report.size == 15 and report.checkpoints_checked == 2


def test_verification_visits_every_entry_in_order(engine: Engine, signer: NoteSigner) -> None:
    append_scans(engine, 300, batch=100)
    with transaction(engine) as session:
        checkpoints.sign_current(session, signer, ORIGIN)
    seen: list[int] = []
    with transaction(engine, readonly=True) as session:
        report = verify_database(session, signer.verifier(), ORIGIN, on_entry=seen.append)
        count = session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
    assert report.ok and seen == list(range(300)) and count == 300
