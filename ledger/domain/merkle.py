"""RFC 9162 Merkle tree: tree hash, inclusion and consistency proofs, and their verification.

The store keeps the hash of every *complete* aligned subtree (a "block": ``level`` and
``index`` cover leaves ``[index << level, (index + 1) << level)``).  Every node of the RFC
tree of any size is either such a block or the right-border node ``[start, size)``, whose
hash folds the blocks of that range.  So proofs are planned here as lists of ranges, the
store fetches the few blocks they need in one read, and :func:`hash_range` assembles them.
Nothing here touches a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ledger.domain.hashing import EMPTY_TREE_HASH, HASH_SIZE, node_hash
from ledger.errors import ProofError

Block = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # leaves [start, end)


def split_point(size: int) -> int:
    """The largest power of two strictly below ``size`` (RFC 9162's k), for size >= 2."""
    return 1 << ((size - 1).bit_length() - 1)


def range_blocks(start: int, end: int) -> list[Block]:
    """Complete aligned blocks covering a tree node's leaves ``[start, end)``, left to right.

    Valid for the ranges that occur as RFC 9162 nodes: ``start`` is a multiple of a power of
    two at least ``end - start``, so the binary digits of the width give aligned blocks.
    """
    width = end - start
    if width <= 0:
        raise ValueError("empty range")
    blocks: list[Block] = []
    position = start
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            if position % (1 << level):
                raise ValueError(f"[{start}, {end}) is not a tree node")
            blocks.append((level, position >> level))
            position += 1 << level
    return blocks


def fold_blocks(hashes: Sequence[bytes]) -> bytes:
    """Hash of a node from its blocks' hashes, left to right: the RFC splits off the largest
    complete subtree on the left first, so the fold runs from the right."""
    if not hashes:
        return EMPTY_TREE_HASH
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = node_hash(left, acc)
    return acc


def hash_range(start: int, end: int, lookup: Mapping[Block, bytes]) -> bytes:
    return fold_blocks([lookup[block] for block in range_blocks(start, end)])


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """Nodes of the inclusion proof (RFC 9162 §2.1.3.1 PATH), from the leaf upwards."""
    if not 0 <= index < size:
        raise ProofError(f"seq {index} is not in a tree of size {size}")
    nodes: list[Range] = []
    low, high = 0, size
    while high - low > 1:
        k = split_point(high - low)
        if index < low + k:
            nodes.append((low + k, high))
            high = low + k
        else:
            nodes.append((low, low + k))
            low += k
    nodes.reverse()
    return nodes


def consistency_ranges(first: int, second: int) -> list[Range]:
    """Nodes of the consistency proof (RFC 9162 §2.1.4.1 PROOF), in proof order."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}: need 0 < first <= second")

    def subproof(low: int, m: int, high: int, whole: bool) -> list[Range]:
        size = high - low
        if m == size:
            return [] if whole else [(low, high)]
        k = split_point(size)
        if m <= k:
            return [*subproof(low, m, low + k, whole), (low + k, high)]
        return [*subproof(low + k, m - k, high, False), (low, low + k)]

    return subproof(0, first, second, True)


def blocks_for(ranges: Iterable[Range]) -> set[Block]:
    """Every stored block a list of proof nodes needs: what the store reads, in one query."""
    needed: set[Block] = set()
    for start, end in ranges:
        needed.update(range_blocks(start, end))
    return needed


def assemble(ranges: Sequence[Range], lookup: Mapping[Block, bytes]) -> list[bytes]:
    return [hash_range(start, end, lookup) for start, end in ranges]


def root_blocks(size: int) -> list[Block]:
    return range_blocks(0, size) if size else []


# --- the right border of a growing tree -------------------------------------------------


@dataclass
class Frontier:
    """The complete blocks covering leaves ``[0, size)``, largest first (a "compact range").

    Appending a leaf merges equal-level blocks and reports every block it completes, which
    is exactly what the store must write beside the new entry: O(1) amortised per append.
    """

    size: int = 0
    blocks: list[tuple[int, bytes]] = field(default_factory=list)  # (level, hash)

    @classmethod
    def from_hashes(cls, size: int, hashes: Sequence[bytes]) -> Frontier:
        levels = [level for level, _ in root_blocks(size)]
        if len(levels) != len(hashes):
            raise ValueError("frontier needs one hash per block of the tree size")
        return cls(size, list(zip(levels, hashes, strict=True)))

    def append(self, leaf: bytes) -> list[bytes]:
        """Add a leaf; return the hashes of the blocks it completes at levels 1, 2, ..."""
        completed: list[bytes] = []
        level, current = 0, leaf
        while self.blocks and self.blocks[-1][0] == level:
            _, left = self.blocks.pop()
            current = node_hash(left, current)
            level += 1
            completed.append(current)
        self.blocks.append((level, current))
        self.size += 1
        return completed

    def root(self) -> bytes:
        return fold_blocks([h for _, h in self.blocks])


def completed_levels(seq: int) -> int:
    """How many blocks (levels 1..n) leaf ``seq`` completes: the trailing one bits of seq."""
    return ((seq + 1) & -(seq + 1)).bit_length() - 1


def block_home(block: Block) -> tuple[int, int]:
    """Where a block's hash is stored: (seq of its last leaf, byte offset in that entry's
    ``subtree_hashes``); level 0 blocks are the entry's own ``leaf_hash`` (offset -1)."""
    level, index = block
    last = ((index + 1) << level) - 1
    return last, (level - 1) * HASH_SIZE if level else -1


# --- reference computations and proof verification --------------------------------------


def tree_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes, in O(n) time and O(log n) memory."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root() if leaves else EMPTY_TREE_HASH


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2.  Returns nothing; raises :class:`ProofError` saying what failed."""
    if not 0 <= index < size:
        raise ProofError(f"seq {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise ProofError("inclusion proof has more hashes than the tree has levels")
        if fn & 1 or fn == sn:
            r = node_hash(sibling, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof has fewer hashes than the tree has levels")
    if r != root:
        raise ProofError("inclusion proof does not lead to the root hash")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2.  Raises :class:`ProofError` saying what failed."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    if first == second:
        if proof:
            raise ProofError("consistency proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofError("equal tree sizes with different root hashes")
        return
    path = list(proof)
    if not path:
        raise ProofError("consistency proof is empty")
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof has too many hashes")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof has too few hashes")
    if fr != first_root:
        raise ProofError("consistency proof does not lead to the first root hash")
    if sr != second_root:
        raise ProofError("consistency proof does not lead to the second root hash")
