"""Merkle tree hashing and proofs: RFC 6962 known answers, a naive reference, properties."""

from __future__ import annotations

import json
from functools import cache
from hashlib import sha256
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.hashing import leaf_hash, node_hash
from ledger.domain.merkle import (
    Frontier,
    assemble,
    blocks_for,
    consistency_ranges,
    inclusion_ranges,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.errors import ProofError

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "rfc6962.json").read_text())
CT_LEAVES = [leaf_hash(bytes.fromhex(h)) for h in VECTORS["leaves_hex"]]


# --- a naive reference, written straight from the RFC's recursive definitions -------------


def naive_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(naive_root(leaves[:k]), naive_root(leaves[k:]))


def naive_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return naive_path(m, leaves[:k]) + [naive_root(leaves[k:])]
    return naive_path(m - k, leaves[k:]) + [naive_root(leaves[:k])]


def naive_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [naive_root(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return naive_subproof(m, leaves[:k], whole) + [naive_root(leaves[k:])]
    return naive_subproof(m - k, leaves[k:], False) + [naive_root(leaves[:k])]


@cache
def leaves_of(count: int) -> tuple[bytes, ...]:
    return tuple(leaf_hash(f"entry {i}".encode()) for i in range(count))


def block_lookup(leaves: tuple[bytes, ...]) -> dict[tuple[int, int], bytes]:
    """Every complete block of the tree, as the store keeps them."""
    lookup = {}
    level = 0
    while (1 << level) <= len(leaves):
        for index in range(len(leaves) >> level):
            lookup[(level, index)] = naive_root(list(leaves[index << level : (index + 1) << level]))
        level += 1
    return lookup


# --- known answers ---------------------------------------------------------------------


def test_roots_match_rfc6962_vectors() -> None:
    assert tree_hash([]).hex() == VECTORS["empty_root"]
    for size, expected in enumerate(VECTORS["roots"], start=1):
        assert tree_hash(CT_LEAVES[:size]).hex() == expected


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}-in-{c['size']}")
def test_inclusion_proofs_match_vectors(case: dict) -> None:
    leaves = tuple(CT_LEAVES[: case["size"]])
    ranges = inclusion_ranges(case["index"], case["size"])
    proof = assemble(ranges, block_lookup(leaves))
    assert [h.hex() for h in proof] == case["proof"]
    root = bytes.fromhex(VECTORS["roots"][case["size"] - 1])
    verify_inclusion(case["index"], case["size"], CT_LEAVES[case["index"]], proof, root)


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: f"{c['first']}-to-{c['second']}")
def test_consistency_proofs_match_vectors(case: dict) -> None:
    leaves = tuple(CT_LEAVES[: case["second"]])
    proof = assemble(consistency_ranges(case["first"], case["second"]), block_lookup(leaves))
    assert [h.hex() for h in proof] == case["proof"]
    roots = VECTORS["roots"]
    verify_consistency(
        case["first"],
        case["second"],
        bytes.fromhex(roots[case["first"] - 1]),
        bytes.fromhex(roots[case["second"] - 1]),
        proof,
    )


# --- every index and size up to 64 against the naive reference ---------------------------


@pytest.mark.parametrize("size", range(1, 65))
def test_every_inclusion_proof_matches_naive_reference(size: int) -> None:
    leaves = leaves_of(size)
    lookup = block_lookup(leaves)
    root = naive_root(list(leaves))
    assert tree_hash(list(leaves)) == root
    for index in range(size):
        ranges = inclusion_ranges(index, size)
        assert blocks_for(ranges) <= lookup.keys()
        proof = assemble(ranges, lookup)
        assert proof == naive_path(index, list(leaves))
        verify_inclusion(index, size, leaves[index], proof, root)


@pytest.mark.parametrize("second", range(1, 65))
def test_every_consistency_proof_matches_naive_reference(second: int) -> None:
    leaves = leaves_of(second)
    lookup = block_lookup(leaves)
    second_root = naive_root(list(leaves))
    for first in range(1, second + 1):
        proof = assemble(consistency_ranges(first, second), lookup)
        assert proof == naive_subproof(first, list(leaves), True)
        verify_consistency(first, second, naive_root(list(leaves[:first])), second_root, proof)


# --- rejection ---------------------------------------------------------------------------


def _inclusion_case(index: int, size: int) -> tuple[list[bytes], bytes]:
    leaves = leaves_of(size)
    return assemble(inclusion_ranges(index, size), block_lookup(leaves)), naive_root(list(leaves))


def test_inclusion_rejects_every_single_bit_flip_and_wrong_position() -> None:
    index, size = 13, 37
    proof, root = _inclusion_case(index, size)
    leaf = leaves_of(size)[index]
    for position in range(len(proof)):
        bad = list(proof)
        bad[position] = bytes([bad[position][0] ^ 1]) + bad[position][1:]
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, bad, root)
    for wrong_index, wrong_size in [(index + 1, size), (index - 1, size), (index, size * 2), (index, size // 2)]:
        with pytest.raises(ProofError):
            verify_inclusion(wrong_index, wrong_size, leaf, proof, root)
    with pytest.raises(ProofError, match="more hashes"):
        verify_inclusion(index, size, leaf, [*proof, root], root)
    with pytest.raises(ProofError, match="fewer hashes"):
        verify_inclusion(index, size, leaf, proof[:-1], root)
    with pytest.raises(ProofError, match="not in a tree"):
        verify_inclusion(size, size, leaf, proof, root)


def test_consistency_rejects_tampering() -> None:
    first, second = 6, 29
    leaves = leaves_of(second)
    proof = assemble(consistency_ranges(first, second), block_lookup(leaves))
    r1, r2 = naive_root(list(leaves[:first])), naive_root(list(leaves))
    verify_consistency(first, second, r1, r2, proof)
    attempts = [
        (first, second, r2, r1, proof),
        (first + 1, second, r1, r2, proof),
        (first, second, r1, r2, proof[:-1]),
        (first, second, r1, r2, [*proof, r1]),
        (first, second, r1, r2, []),
        (first, second, r1, r2, [bytes(32), *proof[1:]]),
    ]
    for attempt in attempts:
        with pytest.raises(ProofError):
            verify_consistency(*attempt)
    with pytest.raises(ProofError):
        consistency_ranges(0, 5)
    with pytest.raises(ProofError):
        consistency_ranges(6, 5)


# --- properties --------------------------------------------------------------------------


@given(size=st.integers(1, 3000), data=st.data())
def test_inclusion_property(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1))
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    frontier = Frontier()
    lookup: dict[tuple[int, int], bytes] = {}
    for seq, leaf in enumerate(leaves):
        lookup[(0, seq)] = leaf
        for level, block_hash in enumerate(frontier.append(leaf), start=1):
            lookup[(level, ((seq + 1) >> level) - 1)] = block_hash
    root = frontier.root()
    proof = assemble(inclusion_ranges(index, size), lookup)
    verify_inclusion(index, size, leaves[index], proof, root)
    assert root == tree_hash(leaves)


@given(second=st.integers(1, 300), data=st.data())
def test_consistency_property(second: int, data: st.DataObject) -> None:
    first = data.draw(st.integers(1, second))
    leaves = leaves_of(second)
    proof = assemble(consistency_ranges(first, second), block_lookup(leaves))
    verify_consistency(first, second, tree_hash(list(leaves[:first])), tree_hash(list(leaves)), proof)


def test_frontier_reports_exactly_the_blocks_each_leaf_completes() -> None:
    frontier = Frontier()
    leaves = leaves_of(16)
    completed = [len(frontier.append(leaf)) for leaf in leaves]
    # leaf 1 closes a pair, leaf 3 closes a pair and a quad, leaf 7 three, leaf 15 four
    assert completed == [0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0, 4]
    restored = Frontier.from_hashes(16, [frontier.root()])
    assert restored.root() == naive_root(list(leaves))
