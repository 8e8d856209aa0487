"""The one append path of the program, and the reads that proofs and verification need.

Appends are serialised per ledger (PostgreSQL: a transaction-scoped advisory lock; SQLite: the
write lock taken by ``BEGIN IMMEDIATE``, see ``engine.py``), all-or-nothing per call, and
idempotent on ``(actor org, client_event_id)``.  Callers own the transaction: nothing here
commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, text
from sqlalchemy.orm import Session

from ledger.db.tables import LedgerEntry
from ledger.domain.canonical import (
    GENESIS_PREV,
    EncodedBody,
    assemble_entry,
    encode_body,
    format_recorded_at,
)
from ledger.domain.hashing import HASH_SIZE, leaf_hash
from ledger.domain.merkle import (
    Block,
    Frontier,
    assemble,
    block_home,
    blocks_for,
    consistency_ranges,
    fold_blocks,
    inclusion_ranges,
    root_blocks,
)
from ledger.domain.verify import StoredEntry
from ledger.errors import IdempotencyConflict, InvalidEntry, LedgerError, NotFound, ProofError

# pg_advisory_xact_lock key: the ASCII of "anlianlg" read as a big-endian 64-bit integer.
_ADVISORY_KEY = int.from_bytes(b"anlianlg", "big") - (1 << 63)
_MAX_CLIENT_EVENT_ID = 200


class LedgerCorrupt(LedgerError):
    """The store is missing a row it must have: run ``python -m ledger verify``."""

    title = "Ledger corrupt"
    type = "ledger-corrupt"
    status = 500


@dataclass(frozen=True)
class NewEvent:
    kind: str
    subject: str
    actor: dict[str, Any]
    payload: dict[str, Any] = field(default_factory=dict)
    client_event_id: str | None = None

    @property
    def idempotency_key(self) -> tuple[str, str] | None:
        return (self.actor["org"], self.client_event_id) if self.client_event_id else None


@dataclass(frozen=True)
class Appended:
    seq: int
    leaf_hash: bytes
    entry: bytes
    replayed: bool = False


def _encode_bodies(events: Sequence[NewEvent]) -> list[EncodedBody]:
    """Validate and canonicalise every event before the lock is taken: the slow part of an
    append runs in parallel across writers, and a bad event fails before anything is locked."""
    bodies = []
    for event in events:
        cid = event.client_event_id
        if cid is not None and (not isinstance(cid, str) or not 0 < len(cid) <= _MAX_CLIENT_EVENT_ID):
            raise InvalidEntry(f"client_event_id must be 1 to {_MAX_CLIENT_EVENT_ID} characters")
        bodies.append(encode_body(event.kind, event.subject, event.actor, event.payload))
    return bodies


def lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEY})
    # SQLite: the session's transaction began with BEGIN IMMEDIATE and already holds the lock.


def tree_size(session: Session) -> int:
    last = session.execute(select(func.max(LedgerEntry.seq))).scalar_one()
    return 0 if last is None else int(last) + 1


def _read_blocks(session: Session, blocks: Iterable[Block]) -> tuple[dict[Block, bytes], set[int]]:
    """Hashes of complete blocks, read in one query, and the seqs of rows that do not exist."""
    wanted = {block: block_home(block) for block in blocks}
    if not wanted:
        return {}, set()
    seqs = sorted({seq for seq, _ in wanted.values()})
    query = select(LedgerEntry.seq, LedgerEntry.leaf_hash, LedgerEntry.subtree_hashes).where(LedgerEntry.seq.in_(seqs))
    by_seq = {row.seq: row for row in session.execute(query)}
    found: dict[Block, bytes] = {}
    for block, (seq, offset) in wanted.items():
        row = by_seq.get(seq)
        if row is None:
            continue
        value = row.leaf_hash if offset < 0 else (row.subtree_hashes or b"")[offset : offset + HASH_SIZE]
        if len(value) != HASH_SIZE:
            raise LedgerCorrupt(f"entry {seq} does not hold the hash of block {block}")
        found[block] = value
    return found, set(seqs) - set(by_seq)


def fetch_blocks(session: Session, blocks: Iterable[Block]) -> dict[Block, bytes]:
    """Hashes of complete blocks inside the ledger; a missing row means the store is damaged."""
    found, missing = _read_blocks(session, blocks)
    if missing:
        raise LedgerCorrupt(f"entry {min(missing)} is missing: run 'python -m ledger verify'")
    return found


def _load_frontier(session: Session, size: int) -> tuple[Frontier, bytes, datetime | None]:
    """The right border of the tree, the last leaf hash (the next ``prev``) and its time."""
    if size == 0:
        return Frontier(), bytes.fromhex(GENESIS_PREV), None
    blocks = root_blocks(size)
    found = fetch_blocks(session, [*blocks, (0, size - 1)])
    last_time = session.execute(select(LedgerEntry.recorded_at).where(LedgerEntry.seq == size - 1)).scalar_one()
    return Frontier.from_hashes(size, [found[b] for b in blocks]), found[(0, size - 1)], last_time


# PostgreSQL: join the wanted pairs as two arrays; planned once, answered by index lookups,
# and several times faster than a 500-pair row-value IN list.
_PG_PREVIOUS = text(
    "SELECT e.actor_org, e.client_event_id, e.seq, e.leaf_hash, e.entry FROM ledger_entries e "
    "JOIN unnest(CAST(:orgs AS text[]), CAST(:cids AS text[])) AS k(org, cid) "
    "ON e.actor_org = k.org AND e.client_event_id = k.cid"
)


def previous_appends(session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Appended]:
    """Entries already appended under any of these (actor org, client_event_id) keys.

    Each database needs its own form to answer from the unique index: PostgreSQL plans
    ``org IN (...) AND id IN (...)`` as a scan that grows with the ledger; SQLite answers it
    from the index (and a row-value IN with a scan).  The SQLite form may match a few rows
    beyond the wanted pairs, which are dropped here.
    """
    pairs = sorted(keys)
    if not pairs:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        params = {"orgs": [org for org, _ in pairs], "cids": [cid for _, cid in pairs]}
        rows = list(session.execute(_PG_PREVIOUS, params))
    else:
        columns = select(
            LedgerEntry.actor_org,
            LedgerEntry.client_event_id,
            LedgerEntry.seq,
            LedgerEntry.leaf_hash,
            LedgerEntry.entry,
        )
        rows = []
        for start in range(0, len(pairs), 500):
            chunk = pairs[start : start + 500]
            condition = and_(
                LedgerEntry.actor_org.in_({org for org, _ in chunk}),
                LedgerEntry.client_event_id.in_([cid for _, cid in chunk]),
            )
            rows.extend(session.execute(columns.where(condition)))
    found: dict[tuple[str, str], Appended] = {}
    for org, cid, seq, leaf, entry in rows:
        if (org, cid) in keys:
            found[(org, cid)] = Appended(seq, bytes(leaf), bytes(entry), replayed=True)
    return found


def _same_event(event: NewEvent, entry_bytes: bytes) -> bool:
    stored = json.loads(entry_bytes)
    return bool(
        stored["kind"] == event.kind and stored["subject"] == event.subject and stored["payload"] == event.payload
    )


def append(session: Session, events: Sequence[NewEvent], now: datetime | None = None) -> list[Appended]:
    """Append events as consecutive entries in the caller's transaction; one result per event.

    An event whose ``(actor org, client_event_id)`` was appended before returns that original
    entry (``replayed=True``) and appends nothing; the same key with different content raises
    :class:`IdempotencyConflict`, so the caller's transaction rolls back whole.
    """
    if not events:
        return []
    bodies = _encode_bodies(events)
    lock(session)
    keys = {key for key in (e.idempotency_key for e in events) if key}
    previous = previous_appends(session, keys)
    size = tree_size(session)
    frontier, prev, last_time = _load_frontier(session, size)
    moment = datetime.now(UTC) if now is None else now
    if last_time is not None and last_time > moment:
        moment = last_time  # recorded_at never goes backwards along the chain
    recorded_at = format_recorded_at(moment)

    results: list[Appended] = []
    rows: list[dict[str, Any]] = []
    appended_now: dict[tuple[str, str], Appended] = {}
    for event, body in zip(events, bodies, strict=True):
        key = event.idempotency_key
        if key is not None and (key in previous or key in appended_now):
            original = previous.get(key) or appended_now[key]
            if not _same_event(event, original.entry):
                raise IdempotencyConflict(
                    f"client_event_id {key[1]!r} was already used for a different event (seq {original.seq})"
                )
            results.append(Appended(original.seq, original.leaf_hash, original.entry, replayed=True))
            continue
        seq = frontier.size
        data = assemble_entry(body, seq, recorded_at, prev.hex())
        prev = leaf_hash(data)
        completed = frontier.append(prev)
        rows.append(
            {
                "seq": seq,
                "entry": data,
                "leaf_hash": prev,
                "subtree_hashes": b"".join(completed) or None,
                "kind": event.kind,
                "subject": event.subject,
                "actor_org": event.actor["org"],
                "client_event_id": event.client_event_id,
                "recorded_at": moment,
            }
        )
        result = Appended(seq, prev, data)
        if key is not None:
            appended_now[key] = result
        results.append(result)
    if rows:
        # Core executemany, not the ORM bulk path: the ORM splits the batch wherever
        # subtree_hashes switches between NULL and bytes, one statement per row.
        session.connection().execute(insert(LedgerEntry), rows)
    return results


# --- reads --------------------------------------------------------------------------------


def get_entry(session: Session, seq: int) -> LedgerEntry:
    row = session.get(LedgerEntry, seq)
    if row is None:
        raise NotFound(f"there is no entry with seq {seq}")
    return row


def entries_about(session: Session, subject: str) -> list[tuple[int, str, str, datetime]]:
    """(seq, kind, actor org, recorded_at) of every entry about ``subject``, in ledger order."""
    query = (
        select(LedgerEntry.seq, LedgerEntry.kind, LedgerEntry.actor_org, LedgerEntry.recorded_at)
        .where(LedgerEntry.subject == subject)
        .order_by(LedgerEntry.seq)
    )
    return [(seq, kind, actor, recorded) for seq, kind, actor, recorded in session.execute(query)]


def list_entries(session: Session, start: int, limit: int) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.seq >= start).order_by(LedgerEntry.seq).limit(limit)
    return list(session.scalars(query))


def root_hash(session: Session, size: int) -> bytes:
    blocks = root_blocks(size)
    found = fetch_blocks(session, blocks)
    return fold_blocks([found[b] for b in blocks])


# Proofs read the row of leaf size-1 with their blocks: the ledger is gapless, so that row
# exists exactly when the tree size is within the ledger, and one query both checks and reads.


def inclusion_proof(session: Session, seq: int, size: int) -> tuple[bytes, list[bytes]]:
    """Leaf hash of ``seq`` and its audit path in the tree of ``size`` leaves, in one query."""
    if seq < 0:
        raise NotFound(f"there is no entry with seq {seq}")
    if seq >= size:
        if _read_blocks(session, [(0, seq)])[1]:
            raise NotFound(f"there is no entry with seq {seq}")
        raise ProofError(f"seq {seq} is not in a tree of size {size}")
    ranges = inclusion_ranges(seq, size)
    found, missing = _read_blocks(session, [(0, seq), (0, size - 1), *blocks_for(ranges)])
    if seq in missing:
        raise NotFound(f"there is no entry with seq {seq}")
    if missing:
        raise ProofError(f"tree_size {size} is beyond the ledger's last entry")
    return found[(0, seq)], assemble(ranges, found)


def consistency_proof(session: Session, first: int, second: int) -> list[bytes]:
    ranges = consistency_ranges(first, second)
    found, missing = _read_blocks(session, [(0, second - 1), *blocks_for(ranges)])
    if missing:
        raise ProofError(f"tree_size {second} is beyond the ledger's last entry")
    return assemble(ranges, found)


def stream_entries(session: Session, batch: int = 5000) -> Iterator[StoredEntry]:
    """Every entry in ``seq`` order, streamed (server-side cursor on PostgreSQL)."""
    columns = select(LedgerEntry.seq, LedgerEntry.entry, LedgerEntry.leaf_hash, LedgerEntry.subtree_hashes).order_by(
        LedgerEntry.seq
    )
    # Core execution on the session's connection: the ORM adds nothing to plain columns.
    result = session.connection().execute(columns.execution_options(yield_per=batch))
    for seq, entry, leaf, subtrees in result:
        yield StoredEntry(seq, bytes(entry), bytes(leaf), bytes(subtrees) if subtrees else b"")
