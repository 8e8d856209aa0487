"""Benchmark the ledger's append, verification and inclusion-proof paths against raw baselines.

    .venv/bin/python bench/ledger.py [--db sqlite|postgres|both] [--entries 100000]
                                     [--proof-entries 1000000] [--keep]

For each chosen database, in one run:

1. append ``--entries`` cold-chain scan events through ``store.append`` (one transaction per
   batch), then insert the very same rows (read back from the ledger) with a plain SQLAlchemy
   Core ``insert(LedgerEntry)`` executemany into a fresh schema, in the same batches;
2. sign a checkpoint and time ``verify_stream`` over ``store.stream_entries``, against
   streaming the same entry bytes and SHA-256 hashing each one;
3. on a ledger of ``--proof-entries`` entries, time ``store.inclusion_proof`` calls, each in
   its own read transaction as the API does.

See bench/README.md for what every number means.  Nothing here asserts on timings.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's own directory comes first on sys.path, and this file is called
# ledger.py: put the project root ahead of it so ``import ledger`` finds the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import hashlib
import json
import os
import platform
import random
import sqlite3
import statistics
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import sqlalchemy
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, create_engine, event, insert, select, text
from sqlalchemy.engine import make_url

from ledger import migrate
from ledger.db import store
from ledger.db.engine import READONLY, make_engine, transaction
from ledger.db.store import NewEvent
from ledger.db.tables import LedgerEntry
from ledger.domain.checkpoint import NoteSigner
from ledger.domain.merkle import verify_inclusion
from ledger.domain.verify import StoredEntry, verify_stream
from ledger.services import checkpoints

BENCH_DIR = Path(__file__).resolve().parent
ORIGIN = "anlian.example/bench"
DEFAULT_PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
STREAM_BATCH = 5000  # the batch size store.stream_entries uses


# --- realistic events: cold-chain scans --------------------------------------------------------


def gs1_check_digit(digits: str) -> str:
    """GS1 mod-10 check digit: weights 3, 1, 3, ... from the rightmost digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def gtin14(indicator: int, company: str, item: int) -> str:
    body = f"{indicator}{company}{item:0{12 - len(company)}d}"
    return body + gs1_check_digit(body)


# (product name, storage range in °C): frozen, chilled and "fresh" goods.
PRODUCTS = [
    ("速冻水饺 猪肉白菜 1kg", -25.0, -15.0),
    ("冷冻带鱼段 500g", -25.0, -18.0),
    ("巴氏杀菌鲜牛奶 950ml", 0.0, 6.0),
    ("低温酸奶 原味 200g", 1.0, 6.0),
    ("冰鲜三文鱼柳", -1.0, 3.0),
    ("冷冻鸡翅中 1kg", -22.0, -16.0),
    ("速冻汤圆 黑芝麻", -20.0, -15.0),
    ("新鲜草莓 丹东 500g", 0.0, 4.0),
    ("冷冻猪肉 五花", -23.0, -18.0),
    ("人用疫苗 冷链专用箱", 2.0, 8.0),
]
GTINS = [gtin14(1 + i % 8, "6901234", 10_000 + i * 37) for i in range(len(PRODUCTS))]
LOCATIONS = [
    (gtin14(0, "697000", i)[1:], name)  # GLN-13 with its check digit
    for i, name in enumerate(
        [
            "上海浦东冷链中心 A3 库",
            "广州南沙港冷库 2 号",
            "北京顺义物流园 冷冻区",
            "成都双流配送中心",
            "武汉东西湖冷链仓",
            "杭州萧山冷库 B 区",
            "深圳盐田港 冷藏柜堆场",
            "沈阳浑南生鲜仓",
        ]
    )
]
UNITS = ["箱", "件", "千克", "托盘", "袋"]
ORGS = [f"org_{random.Random(i).getrandbits(64):016x}" for i in range(12)]
KINDS = ["scan.receive", "scan.ship"]


def make_event(rng: random.Random) -> NewEvent:
    product = rng.randrange(len(PRODUCTS))
    name, low, high = PRODUCTS[product]
    gtin = GTINS[product]
    lot = f"L{rng.randint(2401, 2612)}{rng.randint(0, 9999):04d}"
    gln, place = rng.choice(LOCATIONS)
    return NewEvent(
        kind=rng.choice(KINDS),
        subject=f"https://anlian.example/01/{gtin}/10/{lot}",
        actor={"org": rng.choice(ORGS)},
        payload={
            "gtin": gtin,
            "lot": lot,
            "product": name,
            "location": {"gln": gln, "name": place},
            "temperature_c": round(rng.uniform(low - 1.0, high + 1.0), 1),
            "quantity": rng.randint(1, 480),
            "unit": rng.choice(UNITS),
        },
        client_event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    )


def event_batches(rng: random.Random, count: int, batch: int) -> Iterator[list[NewEvent]]:
    for start in range(0, count, batch):
        yield [make_event(rng) for _ in range(min(batch, count - start))]


# --- databases ----------------------------------------------------------------------------------


class Backend:
    """Creates, finds and drops the benchmark's databases of one kind, by label."""

    name = ""

    def url(self, label: str) -> str:
        raise NotImplementedError

    def exists(self, label: str) -> bool:
        raise NotImplementedError

    def drop(self, label: str) -> None:
        raise NotImplementedError

    def version(self, engine: Engine) -> str:
        raise NotImplementedError

    def fresh(self, label: str) -> Engine:
        """An empty database migrated to the newest schema."""
        self.drop(label)
        self.create(label)
        engine = make_engine(self.url(label))
        migrate.upgrade(engine)
        return engine

    def create(self, label: str) -> None:
        pass


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, label: str) -> Path:
        return self.directory / f"{label}.sqlite"

    def url(self, label: str) -> str:
        return f"sqlite:///{self.path(label)}"

    def exists(self, label: str) -> bool:
        return self.path(label).exists()

    def drop(self, label: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path(label)}{suffix}").unlink(missing_ok=True)

    def version(self, engine: Engine) -> str:
        return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)"


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url)
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")

    def database(self, label: str) -> str:
        return f"anlian_bench_{label.replace('-', '_')}"

    def url(self, label: str) -> str:
        return self.admin_url.set(database=self.database(label)).render_as_string(hide_password=False)

    def exists(self, label: str) -> bool:
        with self.admin.connect() as conn:
            query = text("SELECT 1 FROM pg_database WHERE datname = :name")
            return conn.execute(query, {"name": self.database(label)}).first() is not None

    def create(self, label: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.database(label)}"'))

    def drop(self, label: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database(label)}" WITH (FORCE)'))

    def version(self, engine: Engine) -> str:
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
            sync = conn.execute(text("SHOW synchronous_commit")).scalar_one()
        return f"PostgreSQL {version} (synchronous_commit={sync}), psycopg {_driver_version()}"


def _driver_version() -> str:
    try:
        import psycopg

        return str(psycopg.__version__)
    except ImportError:
        return "?"


# --- measuring ------------------------------------------------------------------------------------


@dataclass
class Timed:
    """A measured run: how many items took how long, plus per-call (or per-batch) latencies."""

    items: int
    seconds: float
    latencies: list[float] | None = None

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else float("inf")

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"items": self.items, "seconds": round(self.seconds, 4), "per_s": round(self.rate, 1)}
        if self.latencies:
            out.update({k: round(v, 4) for k, v in latency_stats(self.latencies).items()})
        return out


def first_last_ms(seconds: Sequence[float], count: int = 10) -> tuple[float, float]:
    """Mean of the first and of the last ``count`` latencies, in ms: does a batch slow down as the table grows?"""
    return statistics.fmean(seconds[:count]) * 1000, statistics.fmean(seconds[-count:]) * 1000


def latency_stats(seconds: Sequence[float]) -> dict[str, float]:
    """Median, p95, p99, mean and max, in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)
    if len(ms) == 1:
        return {"median_ms": ms[0], "p95_ms": ms[0], "p99_ms": ms[0], "mean_ms": ms[0], "max_ms": ms[0]}
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "median_ms": statistics.median(ms),
        "p95_ms": cuts[94],
        "p99_ms": cuts[98],
        "mean_ms": statistics.fmean(ms),
        "max_ms": ms[-1],
    }


class StatementCounter:
    """Counts SQL statements sent to the driver (SQLAlchemy ``before_cursor_execute``)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self.last: list[str] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.count += 1
        self.last.append(" ".join(statement.split())[:100])

    def reset(self) -> None:
        self.count = 0
        self.last = []


# --- 1. append ------------------------------------------------------------------------------------


def append_ledger(engine: Engine, batches: Sequence[Sequence[NewEvent]]) -> Timed:
    latencies = []
    started = perf_counter()
    for batch in batches:
        t0 = perf_counter()
        with transaction(engine) as session:
            store.append(session, batch)
        latencies.append(perf_counter() - t0)
    return Timed(sum(map(len, batches)), perf_counter() - started, latencies)


def read_rows(engine: Engine) -> list[dict[str, Any]]:
    """Every ledger row as the dict of column values the ledger wrote."""
    table = LedgerEntry.__table__
    with transaction(engine, readonly=True) as session:
        return [row._asdict() for row in session.execute(select(table).order_by(table.c.seq))]


def insert_raw(engine: Engine, rows: Sequence[dict[str, Any]], batch: int) -> Timed:
    """The floor for writing these rows: Core executemany, one transaction per batch."""
    statement = insert(LedgerEntry)
    latencies = []
    started = perf_counter()
    for start in range(0, len(rows), batch):
        t0 = perf_counter()
        with engine.begin() as conn:  # on SQLite this is BEGIN IMMEDIATE too (engine.py)
            conn.execute(statement, rows[start : start + batch])
        latencies.append(perf_counter() - t0)
    return Timed(len(rows), perf_counter() - started, latencies)


# --- 2. verify ------------------------------------------------------------------------------------


def sign_checkpoint(engine: Engine, signer: NoteSigner) -> list[str]:
    with transaction(engine) as session:
        checkpoints.sign_current(session, signer, ORIGIN)
    with transaction(engine, readonly=True) as session:
        return checkpoints.all_notes(session)


def verify_ledger(engine: Engine, notes: list[str], signer: NoteSigner, expected: int) -> Timed:
    started = perf_counter()
    with transaction(engine, readonly=True) as session:
        report = verify_stream(store.stream_entries(session), notes, signer.verifier(), ORIGIN)
    seconds = perf_counter() - started
    if not report.ok or report.size != expected or report.checkpoints_checked != len(notes):
        raise RuntimeError(f"verification failed: {report}")
    return Timed(report.size, seconds)


def verify_in_memory(entries: Sequence[StoredEntry], notes: list[str], signer: NoteSigner) -> Timed:
    started = perf_counter()
    report = verify_stream(entries, notes, signer.verifier(), ORIGIN)
    seconds = perf_counter() - started
    if not report.ok:
        raise RuntimeError(f"verification failed: {report}")
    return Timed(report.size, seconds)


def stream_and_hash(engine: Engine) -> Timed:
    """The least any verifier must do: read every entry's bytes in order and SHA-256 them."""
    query = select(LedgerEntry.entry).order_by(LedgerEntry.seq).execution_options(yield_per=STREAM_BATCH)
    count = 0
    started = perf_counter()
    with engine.execution_options(**{READONLY: True}).connect() as conn:
        for (entry,) in conn.execute(query):
            hashlib.sha256(entry).digest()
            count += 1
        conn.rollback()
    return Timed(count, perf_counter() - started)


def hash_in_memory(entries: Sequence[bytes]) -> Timed:
    sha256 = hashlib.sha256
    started = perf_counter()
    for entry in entries:
        sha256(entry).digest()
    return Timed(len(entries), perf_counter() - started)


# --- 3. inclusion proofs --------------------------------------------------------------------------


def build_proof_ledger(backend: Backend, label: str, size: int, batch: int, keep: bool, seed: int) -> dict[str, Any]:
    """A ledger of exactly ``size`` entries: reused when ``keep`` and it already holds them."""
    if keep and backend.exists(label):
        engine = make_engine(backend.url(label))
        with transaction(engine, readonly=True) as session:
            current = store.tree_size(session)
        engine.dispose()
        if current == size:
            return {"reused": True, "entries": size}
        print(f"  {label}: holds {current} entries, not {size}: rebuilding", flush=True)
    engine = backend.fresh(label)
    rng = random.Random(seed)
    appended = 0
    appending = 0.0
    slices: list[float] = []  # entries/s of each tenth of the build
    slice_time, slice_entries, slice_size = 0.0, 0, max(size // 10, 1)
    started = perf_counter()
    for events in event_batches(rng, size, batch):
        t0 = perf_counter()
        with transaction(engine) as session:
            store.append(session, events)
        appending += perf_counter() - t0
        appended += len(events)
        if appended - slice_entries >= slice_size or appended == size:
            slices.append((appended - slice_entries) / (appending - slice_time))
            slice_time, slice_entries = appending, appended
            print(f"  {label}: {appended:,}/{size:,} appended, last tenth at {slices[-1]:,.0f}/s", flush=True)
    total = perf_counter() - started
    if backend.name == "postgres":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE ledger_entries"))
    engine.dispose()
    return {
        "reused": False,
        "entries": size,
        "append_seconds": round(appending, 2),
        "append_per_s": round(size / appending, 1),
        "append_per_s_by_tenth": [round(x) for x in slices],
        "wall_seconds_incl_event_generation": round(total, 2),
    }


def proof_cases(rng: random.Random, size: int, at_full: int, at_smaller: int) -> list[tuple[int, int]]:
    cases = [(rng.randrange(size), size) for _ in range(at_full)]
    for _ in range(at_smaller):
        smaller = rng.randint(1, size)
        cases.append((rng.randrange(smaller), smaller))
    return cases


def time_calls(
    engine: Engine, cases: Sequence[tuple[int, int]], call: Callable[[Any, int, int], Any], counter: StatementCounter
) -> tuple[Timed, list[int], list[Any]]:
    """Each call in its own read transaction, as the API runs it; latency includes BEGIN/COMMIT."""
    latencies, statements, results = [], [], []
    started = perf_counter()
    for seq, size in cases:
        counter.reset()
        t0 = perf_counter()
        with transaction(engine, readonly=True) as session:
            results.append(call(session, seq, size))
        latencies.append(perf_counter() - t0)
        statements.append(counter.count)
    return Timed(len(cases), perf_counter() - started, latencies), statements, results


def pk_lookup(session: Any, seq: int, _size: int) -> bytes:
    return bytes(session.execute(select(LedgerEntry.leaf_hash).where(LedgerEntry.seq == seq)).scalar_one())


def check_proofs(
    engine: Engine, cases: Sequence[tuple[int, int]], proofs: Sequence[tuple[bytes, list[bytes]]]
) -> None:
    """Every timed proof must verify against the root of its tree size (untimed)."""
    roots: dict[int, bytes] = {}
    with transaction(engine, readonly=True) as session:
        for (seq, size), (leaf, proof) in zip(cases, proofs, strict=True):
            if size not in roots:
                roots[size] = store.root_hash(session, size)
            assert leaf == pk_lookup(session, seq, size)
            verify_inclusion(seq, size, leaf, proof, roots[size])


def bench_proofs(engine: Engine, size: int, count: int, smaller: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    counter = StatementCounter(engine)
    warmup = proof_cases(rng, size, 100, 0)
    time_calls(engine, warmup, store.inclusion_proof, counter)
    full_cases = proof_cases(rng, size, count, 0)
    small_cases = proof_cases(rng, size, 0, smaller)
    full, full_statements, full_proofs = time_calls(engine, full_cases, store.inclusion_proof, counter)
    one = full_cases[0]
    time_calls(engine, [one], store.inclusion_proof, counter)
    statements_of_one = list(counter.last)
    small, small_statements, small_proofs = time_calls(engine, small_cases, store.inclusion_proof, counter)
    floor, floor_statements, _ = time_calls(engine, full_cases, pk_lookup, counter)
    check_proofs(engine, full_cases + small_cases, full_proofs + small_proofs)
    return {
        "at_full_size": full,
        "at_full_size_statements": statistics.fmean(full_statements),
        "at_smaller_sizes": small,
        "at_smaller_sizes_statements": statistics.fmean(small_statements),
        "floor_pk_lookup": floor,
        "floor_pk_lookup_statements": statistics.fmean(floor_statements),
        "proof_hashes_at_full_size": statistics.fmean(len(path) for _, path in full_proofs),
        "statements_of_one_proof": statements_of_one,
    }


# --- one database, end to end ---------------------------------------------------------------------


def run_backend(backend: Backend, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {}
    rng = random.Random(args.seed)
    batches = list(event_batches(rng, args.entries, args.batch))  # generated before any timing

    print(f"[{backend.name}] 1. append {args.entries:,} entries in batches of {args.batch:,}", flush=True)
    ledger_engine = backend.fresh("ledger")
    result["database"] = backend.version(ledger_engine)
    append = append_ledger(ledger_engine, batches)
    rows = read_rows(ledger_engine)
    raw_engine = backend.fresh("raw")
    raw = insert_raw(raw_engine, rows, args.batch)
    same_rows = read_rows(raw_engine) == rows
    raw_engine.dispose()
    backend.drop("raw")
    if not same_rows or len(rows) != args.entries:
        raise RuntimeError("the raw baseline did not write exactly the ledger's rows")
    result["append_ledger"] = append
    result["append_raw"] = raw
    result["append_ledger_first10_last10_batch_ms"] = first_last_ms(append.latencies or [])
    result["append_raw_first10_last10_batch_ms"] = first_last_ms(raw.latencies or [])
    result["entry_bytes_mean"] = statistics.fmean(len(r["entry"]) for r in rows)

    print(f"[{backend.name}] 2. verify", flush=True)
    signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    notes = sign_checkpoint(ledger_engine, signer)
    stream_and_hash(ledger_engine)  # warm-up read: both timed reads then find the same cache
    result["verify_ledger"] = verify_ledger(ledger_engine, notes, signer, args.entries)
    result["verify_raw_stream_hash"] = stream_and_hash(ledger_engine)
    entries = [StoredEntry(r["seq"], r["entry"], r["leaf_hash"], r["subtree_hashes"] or b"") for r in rows]
    result["verify_in_memory"] = verify_in_memory(entries, notes, signer)
    result["hash_in_memory"] = hash_in_memory([r["entry"] for r in rows])
    del rows, entries, batches
    ledger_engine.dispose()
    if not args.keep:
        backend.drop("ledger")

    size = args.proof_entries
    label = f"proofs-{size}"
    print(f"[{backend.name}] 3. inclusion proofs on a {size:,}-entry ledger", flush=True)
    result["proof_ledger"] = build_proof_ledger(backend, label, size, args.batch, args.keep, args.seed + 1)
    proof_engine = make_engine(backend.url(label))
    result.update(bench_proofs(proof_engine, size, args.proofs, args.smaller_proofs, args.seed + 2))
    proof_engine.dispose()
    if not args.keep:
        backend.drop(label)
    return result


# --- report ---------------------------------------------------------------------------------------


def print_table(name: str, r: dict[str, Any], args: argparse.Namespace) -> None:
    def rate_row(what: str, timed: Timed, unit: str = "entries") -> None:
        print(f"  {what:<46} {timed.items:>10,} {unit:<8} {timed.seconds:>9.3f} s {timed.rate:>12,.0f} /s")

    def ms_row(what: str, timed: Timed, statements: float) -> None:
        s = latency_stats(timed.latencies or [])
        print(
            f"  {what:<46} {timed.items:>6,} {s['median_ms']:>8.3f} {s['p95_ms']:>8.3f} {s['p99_ms']:>8.3f}"
            f" {s['mean_ms']:>8.3f} {s['max_ms']:>8.2f} {statements:>6.1f}"
        )

    rule = "-" * 96
    print()
    print(f"== {name}: {r['database']}")
    print(rule)
    print(f"  1. APPEND (batches of {args.batch:,}, one transaction each; mean entry {r['entry_bytes_mean']:.0f} B)")
    rate_row("ledger   store.append", r["append_ledger"])
    rate_row("raw      Core insert(LedgerEntry) executemany", r["append_raw"], "rows")
    a, b = latency_stats(r["append_ledger"].latencies), latency_stats(r["append_raw"].latencies)
    print(
        f"  {'batch latency ms (median / p95), ledger vs raw':<46} {a['median_ms']:.1f} / {a['p95_ms']:.1f}"
        f"  vs  {b['median_ms']:.1f} / {b['p95_ms']:.1f}"
    )
    (lf, ll), (rf, rl) = first_last_ms(r["append_ledger"].latencies), first_last_ms(r["append_raw"].latencies)
    print(f"  {'batch ms, first 10 -> last 10, ledger vs raw':<46} {lf:.1f} -> {ll:.1f}  vs  {rf:.1f} -> {rl:.1f}")
    print(f"  {'RATIO ledger/raw':<46} {r['append_ratio']:>10.3f}   (target >= 0.5)")
    print(rule)
    print("  2. VERIFY (checkpoint signed at the full size)")
    rate_row("ledger   verify_stream(stream_entries)", r["verify_ledger"])
    rate_row("raw      stream entry bytes + sha256", r["verify_raw_stream_hash"])
    rate_row("info     verify_stream over rows in memory", r["verify_in_memory"])
    rate_row("info     sha256 of entry bytes in memory", r["hash_in_memory"])
    print(f"  {'RATIO verify/raw-stream-and-hash':<46} {r['verify_ratio']:>10.3f}   (target >= 0.5)")
    print(rule)
    built = r["proof_ledger"]
    how = "reused (--keep)" if built["reused"] else f"built by store.append at {built['append_per_s']:,.0f} entries/s"
    print(f"  3. INCLUSION PROOFS at {args.proof_entries:,} entries ({how})")
    print(
        f"  {'one read transaction per call':<46} {'calls':>6} {'median':>8} {'p95':>8} {'p99':>8}"
        f" {'mean':>8} {'max':>8} {'stmts':>6}"
    )
    size = f"{args.proof_entries:,}"
    ms_row(f"inclusion_proof, tree size {size}", r["at_full_size"], r["at_full_size_statements"])
    ms_row("inclusion_proof, random smaller tree sizes", r["at_smaller_sizes"], r["at_smaller_sizes_statements"])
    ms_row("floor: one PK lookup of leaf_hash", r["floor_pk_lookup"], r["floor_pk_lookup_statements"])
    print(f"  (ms; target median < 2 ms; {r['proof_hashes_at_full_size']:.1f} hashes per proof)")
    print("  statements sent for one proof:")
    for statement in r["statements_of_one_proof"]:
        print(f"     {statement}")
    print(rule)


def to_json(value: Any) -> Any:
    if isinstance(value, Timed):
        return value.as_json()
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, float):
        return round(value, 4)
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="See bench/README.md.")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--entries", type=int, default=100_000, help="entries for the append and verify parts")
    parser.add_argument("--proof-entries", type=int, default=1_000_000, help="ledger size for inclusion proofs")
    parser.add_argument("--proofs", type=int, default=2000, help="proofs timed at the full tree size")
    parser.add_argument("--smaller-proofs", type=int, default=500, help="proofs timed at random smaller sizes")
    parser.add_argument("--batch", type=int, default=1000, help="events per append transaction")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--keep", action="store_true", help="keep the databases; reuse a proof ledger of the right size"
    )
    parser.add_argument("--out-dir", type=Path, default=BENCH_DIR / "out", help="where SQLite files go")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL URL allowed to CREATE DATABASE")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    names = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    summary: dict[str, Any] = {
        "bench": "ledger",
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "pg_url"},
        "env": {
            "python": platform.python_version(),
            "sqlalchemy": sqlalchemy.__version__,
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
            "loadavg_at_start": os.getloadavg(),
        },
        "results": {},
    }
    for name in names:
        backend: Backend = SqliteBackend(args.out_dir) if name == "sqlite" else PostgresBackend(args.pg_url)
        result = run_backend(backend, args)
        result["append_ratio"] = result["append_ledger"].rate / result["append_raw"].rate
        result["verify_ratio"] = result["verify_ledger"].rate / result["verify_raw_stream_hash"].rate
        print_table(name, result, args)
        summary["results"][name] = to_json(result)
    summary["env"]["loadavg_at_end"] = os.getloadavg()
    line = json.dumps(summary, ensure_ascii=False, separators=(",", ":"))
    (args.out_dir / "ledger-last.json").write_text(line + "\n", encoding="utf-8")
    print("JSON " + line)


if __name__ == "__main__":
    main()
