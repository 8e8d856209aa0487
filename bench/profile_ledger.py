"""Where the time goes in append, verify and inclusion proofs, and what candidate fixes would buy.

    .venv/bin/python bench/profile_ledger.py [--db sqlite|postgres] [--entries 10000]
                                             [--part append verify proof] [--proof-entries N]

For each part it prints (1) the top functions of a cProfile run, (2) a wall-clock split by phase
measured without the profiler (thin timing wrappers patched in around the store's steps), and
(3) "what-if" rates of candidate fixes.  The fixes are monkeypatched into this process only:
nothing under ledger/ is changed, and every what-if checks it produces the same bytes or proofs.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # see bench/ledger.py

import argparse
import cProfile
import hashlib
import io
import json
import pstats
import random
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import lru_cache
from time import perf_counter
from typing import Any
from unittest import mock

import rfc8785
import sqlalchemy
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from bench import ledger as bench
from ledger.db import store
from ledger.db.engine import make_engine, transaction
from ledger.db.store import NewEvent
from ledger.domain import canonical, merkle, verify
from ledger.domain.canonical import Entry
from ledger.domain.checkpoint import NoteSigner
from ledger.domain.merkle import Frontier
from ledger.errors import NotFound, ProofError

# --- helpers ------------------------------------------------------------------------------------


class PhaseClock:
    """Wall-clock totals of patched-in functions, by label."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def timed(self, label: str, original: Callable[..., Any], when: Callable[..., bool] | None = None) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if when is not None and not when(*args, **kwargs):
                return original(*args, **kwargs)
            started = perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.totals[label] += perf_counter() - started
                self.calls[label] += 1

        return wrapper

    def patch(
        self, stack: ExitStack, owner: Any, attr: str, label: str, when: Callable[..., bool] | None = None
    ) -> None:
        stack.enter_context(mock.patch.object(owner, attr, self.timed(label, getattr(owner, attr), when)))


def print_split(title: str, total: float, items: int, rows: Sequence[tuple[str, float]]) -> None:
    print(f"\n  {title}: {total:.3f} s for {items:,} = {total / items * 1e6:.1f} µs each")
    for label, seconds in rows:
        share = seconds / total * 100 if total else 0.0
        print(f"    {label:<58} {seconds:>8.3f} s {seconds / items * 1e6:>8.1f} µs {share:>5.1f} %")


def print_profile(profile: cProfile.Profile, top: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    print(f"  cProfile, top {top} by own time (profiler overhead inflates pure-Python code):")
    for line in lines[start:]:
        if line.strip():
            print("    " + line[:150])


def rate_line(label: str, items: int, seconds: float, reference: float | None = None) -> None:
    extra = f"  x{items / seconds / reference:.2f} vs as-is" if reference else ""
    print(f"    {label:<58} {items / seconds:>10,.0f} /s{extra}")


# --- append -------------------------------------------------------------------------------------


def canonical_fast(obj: Any) -> bytes:
    """RFC 8785 bytes via the C json encoder when that is provably identical, else ``rfc8785``.

    json.dumps(sort_keys, ensure_ascii=False, compact) writes the same bytes as rfc8785 when
    every key is an ASCII str (so code-point and UTF-16 order agree), every int is within
    ±(2**53 - 1), and every float is finite, non-integral and 1e-4 <= |f| < 1e16 (then both
    write repr(f)).  String escaping rules are the same.  Anything else takes the slow path.
    """
    if _fast_ok(obj):
        try:
            return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
        except UnicodeEncodeError:
            pass  # lone surrogates: let rfc8785 raise its own error
    return rfc8785.dumps(obj)


def _fast_ok(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -(2**53) < value < 2**53
    if kind is float:
        return 1e-4 <= abs(value) < 1e16 and not value.is_integer()
    if kind is dict:
        return all(type(k) is str and k.isascii() and _fast_ok(v) for k, v in value.items())
    if kind is list:
        return all(_fast_ok(v) for v in value)
    return False


def fast_encode_entry(entry: Entry) -> bytes:
    """store.encode_entry with the same checks, recorded_at parsed once per value, fast JSON."""
    canonical.validate_event_fields(entry.kind, entry.subject, entry.actor)
    if not isinstance(entry.seq, int) or isinstance(entry.seq, bool) or entry.seq < 0:
        raise canonical.InvalidEntry("seq must be a non-negative integer")
    if not isinstance(entry.payload, dict):
        raise canonical.InvalidEntry("payload must be a JSON object")
    if not canonical._HEX64.match(entry.prev):
        raise canonical.InvalidEntry("prev must be 64 lowercase hex digits")
    _parse_recorded_at_cached(entry.recorded_at)
    try:
        return canonical_fast(entry.as_object())
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise canonical.InvalidEntry(f"payload is not canonicalisable JSON: {exc}") from exc


_parse_recorded_at_cached = lru_cache(maxsize=64)(canonical.parse_recorded_at)


def render_nulls_insert(table: Any) -> Insert:
    return sqlalchemy.insert(table).execution_options(render_nulls=True)


@contextmanager
def variant(name: str) -> Iterator[None]:
    with ExitStack() as stack:
        if name in ("render_nulls", "render_nulls+fast_json"):
            stack.enter_context(mock.patch.object(store, "insert", render_nulls_insert))
        if name == "render_nulls+fast_json":
            stack.enter_context(mock.patch.object(store, "encode_entry", fast_encode_entry))
        yield


def append_phases(engine: Engine, batches: Sequence[Sequence[NewEvent]]) -> None:
    clock = PhaseClock()
    with ExitStack() as stack:
        for attr, label in [
            ("_validate", "_validate (event field checks)"),
            ("lock", "lock (pg_advisory_xact_lock; no-op on SQLite)"),
            ("_previous_appends", "_previous_appends (idempotency lookup, SELECT)"),
            ("tree_size", "tree_size (SELECT max(seq))"),
            ("_load_frontier", "_load_frontier (2 SELECTs)"),
            ("encode_entry", "encode_entry (checks + RFC 8785)"),
            ("leaf_hash", "leaf_hash (SHA-256)"),
            ("append", "append (whole call)"),
        ]:
            clock.patch(stack, store, attr, label)
        clock.patch(stack, rfc8785, "dumps", "  of which rfc8785.dumps")
        clock.patch(stack, canonical, "parse_recorded_at", "  of which parse_recorded_at (strptime)")
        clock.patch(stack, Frontier, "append", "Frontier.append (node hashes)")
        clock.patch(
            stack,
            Session,
            "execute",
            "session.execute(insert(LedgerEntry), rows)",
            lambda _s, st, *a, **k: isinstance(st, Insert),
        )
        started = perf_counter()
        for batch in batches:
            with transaction(engine) as session:
                store.append(session, batch)
        total = perf_counter() - started
    t = clock.totals
    whole = t.pop("append (whole call)")
    top_level = [k for k in t if not k.startswith("  ")]
    rest = whole - sum(t[k] for k in top_level)
    order = [k for k in t if not k.startswith("  ")]
    at = order.index("encode_entry (checks + RFC 8785)") + 1
    order[at:at] = [k for k in t if k.startswith("  ")]
    rows = [(k, t[k]) for k in order]
    rows += [
        ("rest of append (row dicts, Appended, loop)", rest),
        ("BEGIN/COMMIT, session (outside append)", total - whole),
    ]
    print_split("wall-clock split of store.append, no profiler", total, sum(map(len, batches)), rows)
    inserts = t["session.execute(insert(LedgerEntry), rows)"]
    print(f"    ({clock.calls['session.execute(insert(LedgerEntry), rows)']} insert calls, {inserts:.3f} s)")


def count_insert_statements(engine: Engine, name: str) -> int:
    """INSERT statements sent for one batch of new events."""
    events = next(bench.event_batches(random.Random(12345), 1000, 1000))
    counter = bench.StatementCounter(engine)
    with variant(name), transaction(engine) as session:
        counter.reset()
        store.append(session, events)
    sqlalchemy.event.remove(engine, "before_cursor_execute", counter._seen)
    return sum(1 for statement in counter.last if statement.startswith("INSERT"))


def verifies(engine: Engine, count: int) -> bool:
    signer = NoteSigner(bench.ORIGIN, Ed25519PrivateKey.generate())
    notes = bench.sign_checkpoint(engine, signer)
    with transaction(engine, readonly=True) as session:
        report = verify.verify_stream(store.stream_entries(session), notes, signer.verifier(), bench.ORIGIN)
    return report.ok and report.size == count


def profile_append(backend: bench.Backend, args: argparse.Namespace) -> None:
    batches = list(bench.event_batches(random.Random(args.seed), args.entries, args.batch))
    count = sum(map(len, batches))
    print(f"\n=== APPEND: {count:,} entries in batches of {args.batch:,} on {backend.name}")

    engine = backend.fresh("profile")
    profile = cProfile.Profile()
    profile.enable()
    bench.append_ledger(engine, batches)
    profile.disable()
    engine.dispose()
    print_profile(profile, args.top)

    engine = backend.fresh("profile")
    append_phases(engine, batches)
    engine.dispose()

    moment = "2026-11-26T08:00:00.000000Z"
    sample = [
        Entry(i, e.kind, e.subject, e.actor, moment, e.payload, "0" * 64)
        for i, e in enumerate(e for batch in batches for e in batch)
    ]
    mismatches = sum(canonical.encode_entry(x) != fast_encode_entry(x) for x in sample)
    started = perf_counter()
    for x in sample:
        canonical.encode_entry(x)
    slow = perf_counter() - started
    started = perf_counter()
    for x in sample:
        fast_encode_entry(x)
    fast = perf_counter() - started
    print("\n  encoding alone (no DB):")
    rate_line("canonical.encode_entry (rfc8785)", count, slow)
    rate_line("fast_encode_entry (json.dumps when provably identical)", count, fast, count / slow)
    print(f"    byte mismatches between the two over {count:,} entries: {mismatches}")

    print("\n  what-if, store.append rate (monkeypatched here only; fresh database each; same events):")
    reference = None
    rows: list[dict[str, Any]] = []
    for name in ["as-is", "render_nulls", "render_nulls+fast_json"]:
        engine = backend.fresh("profile")
        with variant(name):
            timed = bench.append_ledger(engine, batches)
        if name == "as-is":
            rows = bench.read_rows(engine)
        ok = verifies(engine, count)
        inserts = count_insert_statements(engine, name)
        engine.dispose()
        rate_line(f"{name} ({inserts} INSERTs per batch; verifies: {ok})", count, timed.seconds, reference)
        reference = reference or count / timed.seconds
    engine = backend.fresh("profile-raw")
    raw = bench.insert_raw(engine, rows, args.batch)
    engine.dispose()
    backend.drop("profile-raw")
    backend.drop("profile")
    rate_line("raw Core insert(LedgerEntry) executemany, same rows", count, raw.seconds, reference)


# --- verify -------------------------------------------------------------------------------------


def profile_verify(backend: bench.Backend, args: argparse.Namespace) -> None:
    print(f"\n=== VERIFY: {args.entries:,} entries on {backend.name}")
    engine = backend.fresh("profile")
    bench.append_ledger(engine, list(bench.event_batches(random.Random(args.seed), args.entries, args.batch)))
    signer = NoteSigner(bench.ORIGIN, Ed25519PrivateKey.generate())
    notes = bench.sign_checkpoint(engine, signer)
    bench.stream_and_hash(engine)  # warm the cache

    profile = cProfile.Profile()
    profile.enable()
    bench.verify_ledger(engine, notes, signer, args.entries)
    profile.disable()
    print_profile(profile, args.top)

    started = perf_counter()
    with transaction(engine, readonly=True) as session:
        entries = list(store.stream_entries(session))
    streaming = perf_counter() - started
    clock = PhaseClock()
    with ExitStack() as stack:
        clock.patch(stack, verify, "decode_entry", "decode_entry (json.loads + shape checks)")
        clock.patch(stack, verify, "leaf_hash", "leaf_hash (SHA-256)")
        clock.patch(stack, merkle.Frontier, "append", "Frontier.append (node hashes)")
        clock.patch(stack, verify, "_check_entry", "_check_entry (whole)")
        started = perf_counter()
        verify.verify_stream(entries, notes, signer.verifier(), bench.ORIGIN)
        in_memory = perf_counter() - started
    t = clock.totals
    check = t.pop("_check_entry (whole)")
    rows = [
        ("stream_entries: rows -> StoredEntry (DB read, separate pass)", streaming),
        *[(k, v) for k, v in t.items()],
        (
            "rest of _check_entry (seq/prev compares, prev.hex())",
            check - t["decode_entry (json.loads + shape checks)"] - t["leaf_hash (SHA-256)"],
        ),
        (
            "rest of verify_stream loop (subtree compare, checkpoints)",
            in_memory - check - t["Frontier.append (node hashes)"],
        ),
    ]
    print_split(
        "wall-clock split, no profiler (DB stream timed as its own pass)", streaming + in_memory, len(entries), rows
    )

    data = [e.entry for e in entries]
    started = perf_counter()
    for d in data:
        json.loads(d)
    loads = perf_counter() - started
    started = perf_counter()
    for d in data:
        hashlib.sha256(d).digest()
    hashing = perf_counter() - started
    print("\n  floors (in memory):")
    rate_line("json.loads(entry bytes) alone", len(data), loads)
    rate_line("sha256(entry bytes) alone", len(data), hashing)
    engine.dispose()
    backend.drop("profile")


# --- inclusion proofs ---------------------------------------------------------------------------


def inclusion_proof_lean(session: Session, seq: int, size: int) -> list[bytes]:
    """Same proof, same errors, two statements: seqs are gapless, so ``0 <= seq < tree size``
    already proves the row exists (fetch_blocks still raises LedgerCorrupt if it is gone)."""
    current = store.tree_size(session)
    if not 0 <= seq < current:
        raise NotFound(f"there is no entry with seq {seq}")
    if not 0 < size <= current:
        raise ProofError(f"tree_size {size} is out of range: the ledger holds {current} entries")
    ranges = merkle.inclusion_ranges(seq, size)
    return merkle.assemble(ranges, store.fetch_blocks(session, merkle.blocks_for(ranges)))


def proof_phases(engine: Engine, cases: Sequence[tuple[int, int]]) -> None:
    clock = PhaseClock()
    with ExitStack() as stack:
        clock.patch(stack, Session, "get", "session.get(LedgerEntry, seq) (full row, identity map)")
        clock.patch(stack, store, "tree_size", "tree_size (SELECT max(seq))")
        clock.patch(stack, store, "fetch_blocks", "fetch_blocks (SELECT ... WHERE seq IN (...))")
        clock.patch(stack, store, "assemble", "assemble (fold node hashes)")
        clock.patch(stack, store, "inclusion_proof", "inclusion_proof (whole)")
        started = perf_counter()
        for seq, size in cases:
            with transaction(engine, readonly=True) as session:
                store.inclusion_proof(session, seq, size)
        total = perf_counter() - started
    t = clock.totals
    whole = t.pop("inclusion_proof (whole)")
    rows = [*t.items(), ("rest of inclusion_proof (planning ranges)", whole - sum(t.values()))]
    rows.append(("transaction: checkout/BEGIN/COMMIT (outside the call)", total - whole))
    print_split("wall-clock split per proof, no profiler", total, len(cases), rows)


def time_proofs(
    engine: Engine, cases: Sequence[tuple[int, int]], call: Callable[..., list[bytes]]
) -> tuple[float, list[list[bytes]]]:
    latencies, proofs = [], []
    for seq, size in cases:
        started = perf_counter()
        with transaction(engine, readonly=True) as session:
            proofs.append(call(session, seq, size))
        latencies.append(perf_counter() - started)
    return bench.latency_stats(latencies)["median_ms"], proofs


def profile_proofs(backend: bench.Backend, args: argparse.Namespace) -> None:
    size = args.proof_entries or args.entries
    label = f"proofs-{size}"
    print(f"\n=== INCLUSION PROOFS: tree of {size:,} entries on {backend.name} ({label}, kept for reuse)")
    bench.build_proof_ledger(backend, label, size, args.batch, keep=True, seed=args.seed + 1)
    url = backend.url(label)
    engine = make_engine(url)
    cases = bench.proof_cases(random.Random(args.seed), size, args.proofs, 0)
    time_proofs(engine, cases[:100], store.inclusion_proof)  # warm up

    profile = cProfile.Profile()
    profile.enable()
    time_proofs(engine, cases, store.inclusion_proof)
    profile.disable()
    print_profile(profile, args.top)
    proof_phases(engine, cases)

    print("\n  what-if, median ms per proof in its own read transaction (monkeypatched here only):")
    as_is, expected = time_proofs(engine, cases, store.inclusion_proof)
    print(f"    {'as-is: store.inclusion_proof, make_engine':<58} {as_is:>8.3f} ms")
    lean, proofs = time_proofs(engine, cases, inclusion_proof_lean)
    print(
        f"    {'inclusion_proof_lean (no session.get), make_engine':<58} {lean:>8.3f} ms"
        f"  same proofs: {proofs == expected}"
    )
    if backend.name == "postgres":
        plain = create_engine(url)  # make_engine's only PostgreSQL setting is pool_pre_ping=True
        no_ping, _ = time_proofs(plain, cases, store.inclusion_proof)
        both, _ = time_proofs(plain, cases, inclusion_proof_lean)
        plain.dispose()
        print(f"    {'as-is, engine without pool_pre_ping':<58} {no_ping:>8.3f} ms")
        print(f"    {'inclusion_proof_lean, engine without pool_pre_ping':<58} {both:>8.3f} ms")
    engine.dispose()


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--part", nargs="+", choices=["append", "verify", "proof"], default=["append", "verify", "proof"]
    )
    parser.add_argument(
        "--proof-entries",
        type=int,
        default=0,
        help="tree size for the proof part (default --entries); reuses a kept ledger",
    )
    parser.add_argument("--proofs", type=int, default=1000)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out-dir", type=Path, default=bench.BENCH_DIR / "out")
    parser.add_argument("--pg-url", default=bench.DEFAULT_PG_URL)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    backend: bench.Backend = (
        bench.SqliteBackend(args.out_dir) if args.db == "sqlite" else bench.PostgresBackend(args.pg_url)
    )
    if "append" in args.part:
        profile_append(backend, args)
    if "verify" in args.part:
        profile_verify(backend, args)
    if "proof" in args.part:
        profile_proofs(backend, args)


if __name__ == "__main__":
    main()
