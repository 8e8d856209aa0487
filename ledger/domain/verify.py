"""Streaming verification of a whole ledger, in constant memory (DESIGN §6).

Feed stored entries in ``seq`` order; every ``prev`` link, leaf hash and stored subtree hash is
checked as it streams by, the root is recomputed at every checkpoint's size and compared with
the signed root.  The first failure stops the run and names the first bad ``seq``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ledger.domain.canonical import GENESIS_PREV, chain_fields
from ledger.domain.checkpoint import Checkpoint, NoteVerifier, open_checkpoint
from ledger.domain.hashing import HASH_SIZE, leaf_hash
from ledger.domain.merkle import Frontier, completed_levels
from ledger.errors import InvalidEntry, NoteError


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """What verification reads of one row.  Exports carry no stored hashes (``None``)."""

    seq: int
    entry: bytes
    leaf_hash: bytes | None = None
    subtree_hashes: bytes | None = None


@dataclass
class VerifyReport:
    size: int = 0
    root: bytes = b""
    checkpoints_checked: int = 0
    first_bad_seq: int | None = None
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reason is None


class _Failure(Exception):
    def __init__(self, seq: int | None, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


def _open_checkpoints(notes: Sequence[str], verifier: NoteVerifier, origin: str | None) -> list[Checkpoint]:
    checkpoints: dict[int, Checkpoint] = {}
    for note in notes:
        try:
            checkpoint = open_checkpoint(note, verifier, origin)
        except NoteError as exc:
            raise _Failure(None, f"stored checkpoint is not validly signed: {exc}") from exc
        earlier = checkpoints.get(checkpoint.tree_size)
        if earlier and earlier.root_hash != checkpoint.root_hash:
            raise _Failure(None, f"two signed checkpoints at size {checkpoint.tree_size} disagree: the log forked")
        checkpoints[checkpoint.tree_size] = checkpoint
    return [checkpoints[size] for size in sorted(checkpoints)]


def _check_entry(stored: StoredEntry, expected_seq: int, prev: bytes) -> bytes:
    seq = stored.seq
    if seq != expected_seq:
        missing = "missing" if seq > expected_seq else "out of order"
        raise _Failure(expected_seq, f"expected seq {expected_seq} next, found {seq}: entries {missing}")
    try:
        claimed_seq, claimed_prev = chain_fields(stored.entry)
    except InvalidEntry as exc:
        raise _Failure(seq, f"entry bytes are not a valid entry: {exc}") from exc
    if claimed_seq != seq:
        raise _Failure(seq, f"entry bytes say seq {claimed_seq} but the entry is stored at seq {seq}")
    if claimed_prev != prev.hex():
        raise _Failure(seq, "prev does not match the leaf hash of the entry before it: the chain is broken")
    computed = leaf_hash(stored.entry)
    if stored.leaf_hash is not None and stored.leaf_hash != computed:
        raise _Failure(seq, "stored leaf hash does not match SHA-256(0x00 ‖ entry bytes)")
    return computed


def verify_stream(
    entries: Iterable[StoredEntry],
    checkpoint_notes: Sequence[str],
    verifier: NoteVerifier,
    origin: str | None = None,
    on_entry: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify entries (in ``seq`` order) against signed checkpoints; never raises for bad data."""
    report = VerifyReport()
    try:
        pending = _open_checkpoints(checkpoint_notes, verifier, origin)
    except _Failure as failure:
        report.reason = failure.reason
        return report
    frontier = Frontier()
    prev = bytes.fromhex(GENESIS_PREV)
    last_good = 0

    def check_due_checkpoints() -> None:
        nonlocal last_good
        while pending and pending[0].tree_size == frontier.size:
            checkpoint = pending.pop(0)
            if frontier.root() != checkpoint.root_hash:
                raise _Failure(
                    last_good,
                    f"root of the first {checkpoint.tree_size} entries does not match the signed "
                    f"checkpoint: an entry from seq {last_good} to {checkpoint.tree_size - 1} was "
                    "rewritten (a consistent rewrite can only be located between two checkpoints)",
                )
            last_good = checkpoint.tree_size
            report.checkpoints_checked += 1

    try:
        check_due_checkpoints()
        for stored in entries:
            seq = stored.seq
            prev = _check_entry(stored, frontier.size, prev)
            completed = frontier.append(prev)
            if stored.subtree_hashes is not None:
                if len(stored.subtree_hashes) != completed_levels(seq) * HASH_SIZE:
                    raise _Failure(seq, "stored subtree hashes have the wrong length")
                if stored.subtree_hashes != b"".join(completed):
                    raise _Failure(seq, "a stored subtree hash does not match the entries below it")
            check_due_checkpoints()
            if on_entry is not None:
                on_entry(seq)
        if pending:
            size = pending[-1].tree_size
            raise _Failure(
                frontier.size,
                f"the ledger ends at {frontier.size} entries but a checkpoint was signed at size {size}: "
                f"entries {frontier.size} to {size - 1} are missing",
            )
    except _Failure as failure:
        report.first_bad_seq = failure.seq
        report.reason = failure.reason
    report.size = frontier.size
    report.root = frontier.root()
    return report
