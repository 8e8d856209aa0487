"""Benchmark the trace queries at scale: trace back and forward, the recall view, the public batch.

    .venv/bin/python bench/trace.py [--db sqlite|postgres|both] [--postgres URL]
                                    [--batches 1000000] [--scans 5000000] [--fanout 100] [--hops 10]

WHAT IS MEASURED, AND WHAT IS NOT.  Writing a million batches through the services would take
hours, so this bench BULK-LOADS THE PROJECTION TABLES DIRECTLY (grids, organisations, sites,
products, batches, batch_inputs, scans, temperature_readings, holdings, recalls) with
``executemany`` on SQLite and ``COPY`` on PostgreSQL, into a schema made by the real migrations
(``ledger.migrate.upgrade``).  It therefore measures the READ queries only, never the write
path, and the data it loads is not a ledger: ``ledger_entries`` holds just the registration
entries of the few batches whose public view is timed (``public_batch`` reads their
``recorded_at``), with placeholder bytes that would not verify.  Secondary indexes are dropped
before the load and recreated afterwards from their own DDL as the migrations made it, so the
schema measured is exactly the migrated one.  PostgreSQL is ``VACUUM ANALYZE``d after the load,
as autovacuum would have done; SQLite is not ``ANALYZE``d, because the application never does.

The shapes: a Zhejiang-like city grid tree; producers, processors, cold stores, carriers and
``max(fanout², 1000)`` retailers; thousands of products with valid GTINs; ``--batches`` batches,
a tenth of them made by processors from two or three earlier batches; ``--scans`` scans in
ship/receive pairs along producer → carrier → cold store → carrier → retailer journeys, some
sold, one temperature reading each; the holdings those journeys leave.  Two structures on top:

* a pallet whose forward trace reaches ``fanout²`` holders: it is split by transformations into
  ``fanout`` batches, each shipped to ``fanout`` different retailers (100 × 100 = 10,000);
* a batch whose back trace goes through ``--hops`` transformation hops (each hop adds one side
  input), shipped to a retailer at the end.

Each timed call runs in its own read transaction, as the API runs it: ``lineage.trace`` forward
and back, ``recalls.recall_view`` and ``public.public_batch``; the median and p95 of ``--runs``
runs after ``--warmup`` untimed ones, and ratios against baselines measured in the same run: a
primary-key lookup of one batch, and a plain indexed ``SELECT ... FROM scans WHERE batch_id IN
(...)`` of the very rows the trace returns.  Then the plans of every statement those calls send
(``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL), with a verdict
on index use.  Nothing asserts on timings.  See bench/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's own directory comes first on sys.path, where ledger.py would
# shadow the ``ledger`` package: put the project root ahead of it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import hashlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from time import perf_counter
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, event, func, insert, select
from sqlalchemy.orm import Session

from bench.loaders import Block, PostgresTarget, SqliteTarget, Target
from ledger.db.engine import make_engine, transaction
from ledger.db.tables import Base, Batch, LedgerEntry, Scan
from ledger.domain.gs1 import gtin_check_digit
from ledger.services import lineage, public, recalls

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_DATABASE = "anlian_bench_trace"
BLOCK = 20_000  # batches generated and written per block
BASE_TIME = datetime(2025, 11, 1, tzinfo=UTC)
LOADED_TABLES = (
    "grids", "organisations", "sites", "products", "batches", "batch_inputs", "scans",
    "temperature_readings", "holdings", "recalls",
)  # fmt: skip
COLUMNS = {
    "grids": ("code", "name", "level", "parent_code", "updated_seq"),
    "organisations": ("id", "name", "roles", "created_at", "created_seq", "uscc", "contact", "require_signature"),
    "sites": ("id", "org_id", "name", "address", "grid_code", "created_seq"),
    "products": (
        "gtin", "producer_org_id", "name_zh", "name_en", "brand", "category", "storage_class", "temp_min_c",
        "temp_max_c", "max_reading_gap_minutes", "origin_country", "created_seq",
    ),
    "batches": (
        "id", "gtin", "lot", "producer_org_id", "site_id", "grid_code", "origin", "production_date", "expiry_date",
        "quantity", "unit", "documents", "created_seq",
    ),
    "batch_inputs": ("output_batch_id", "input_batch_id", "quantity", "unit", "seq", "event_time", "org_id"),
    "scans": (
        "id", "seq", "action", "gtin", "lot", "batch_id", "org_id", "site_id", "gln", "counterparty_org_id",
        "to_site_id", "quantity", "unit", "event_time", "utc_offset", "recorded_at", "matched_scan_id",
        "unexpected", "uncoded",
    ),
    "temperature_readings": ("id", "scan_id", "batch_id", "at", "celsius"),
    "holdings": ("gtin", "lot", "org_id", "quantity", "unit", "updated_seq"),
    "recalls": ("id", "batch_id", "reason", "opened_by", "opened_at", "opened_seq"),
}  # fmt: skip
BIG = 100_000  # a full scan of a table with more rows than this is a finding
RECENT = 5_000  # a processor's inputs are among this many most recent batches

# (name, storage class, unit, band low, band high)
PRODUCT_KINDS = [
    ("冷冻猪五花肉", "frozen", "箱", None, -18.0),
    ("冷冻鸡翅中", "frozen", "箱", None, -18.0),
    ("速冻水饺", "frozen", "袋", None, -18.0),
    ("冷冻带鱼段", "frozen", "箱", None, -18.0),
    ("巴氏杀菌鲜牛奶", "chilled", "箱", 0.0, 4.0),
    ("低温酸奶", "chilled", "箱", 0.0, 4.0),
    ("冰鲜三文鱼柳", "chilled", "千克", 0.0, 4.0),
    ("西兰花", "fresh", "千克", 0.0, 8.0),
    ("番茄", "fresh", "千克", 0.0, 8.0),
    ("常温纯牛奶", "ambient", "箱", None, None),
]
READING = {"frozen": (-22.0, -18.5), "chilled": (1.0, 3.8), "fresh": (1.5, 7.0), "ambient": (12.0, 26.0)}


# --- the data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    batches: int
    scans: int
    fanout: int
    hops: int

    @property
    def retailers(self) -> int:
        return max(self.fanout**2, 1000)

    @property
    def producers(self) -> int:
        return max(50, self.batches // 2000)

    @property
    def processors(self) -> int:
        return max(self.hops + 2, 20, self.batches // 5000)

    @property
    def products(self) -> int:
        return max(200, self.batches // 200)

    @property
    def special_batches(self) -> int:
        return 1 + self.fanout + 2 * self.hops + 1

    @property
    def special_scans(self) -> int:
        return 4 + 2 * self.fanout**2 + 4 * self.hops + 3


@dataclass
class Landmarks:
    """The batches the timed calls start from."""

    pallet: int = 0
    pallet_child: int = 0
    deep: int = 0
    typical_output: int = 0
    typical_input: int = 0


def gtin14(company: int, item: int) -> str:
    body = f"69{company:05d}{item:05d}"
    return f"0{body}{gtin_check_digit(body)}"


def org_id(index: int) -> str:
    return f"org_{index * 0x9E3779B97F4A7C15 % 2**64:016x}"


class Generator:
    """Deterministic rows for every loaded table, in blocks; times are formatted by ``stamp``."""

    def __init__(self, shape: Shape, seed: int, stamp: Callable[[datetime], str]) -> None:
        self.shape, self.rng, self.stamp = shape, random.Random(seed), stamp
        self.seq = self.scan_id = self.reading_id = 0
        self.scans_left = shape.scans - shape.special_scans
        self.regular_done = 0
        self.next_batch = shape.batches - shape.special_batches + 1
        self.grids: list[str] = []
        self.pools: dict[str, list[int]] = {}
        self.site_grid: dict[int, str] = {}
        self.products_of: dict[str, list[tuple[str, int]]] = {"producer": [], "processor": []}
        self.owner_of: dict[str, int] = {}
        self.kind_of: dict[str, int] = {}
        self.landmarks = Landmarks()
        self.recorded = self.stamp(datetime(2026, 11, 26, tzinfo=UTC))

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    # -- roster --

    def roster(self) -> Block:
        block: Block = {"grids": self._grid_rows(), "organisations": [], "sites": [], "products": []}
        sizes = {
            "producer": self.shape.producers,
            "processor": self.shape.processors,
            "cold_store": 100,
            "carrier": 200,
            "retailer": self.shape.retailers,
            "inspector": 1,
        }
        index = 0
        for role, count in sizes.items():
            self.pools[role] = list(range(index, index + count))
            for member in self.pools[role]:
                block["organisations"].append(self._org_row(member, role))
                block["sites"].append(self._site_row(member, role))
            index += count
        block["products"] = self._product_rows()
        return block

    def _grid_rows(self) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = [("330100", "杭州市市场监督管理局", "city", None, 0)]
        for d in range(1, 14):
            district = f"3301{d:02d}"
            rows.append((district, f"第{d}区市场监督管理局", "district", "330100", 0))
            for s in range(1, 11):
                station = f"{district}{s:02d}"
                rows.append((station, f"第{d}区第{s}市场监管所", "station", district, 0))
                for g in range(1, 11):
                    rows.append((f"{station}{g:02d}", f"第{d}区{s}所第{g}网格", "grid", station, 0))
                    self.grids.append(f"{station}{g:02d}")
        return rows

    def _org_row(self, index: int, role: str) -> tuple[Any, ...]:
        names = {
            "producer": "食品有限公司",
            "processor": "中央厨房",
            "cold_store": "冷链物流中心",
            "carrier": "冷链运输有限公司",
            "retailer": "生鲜超市",
            "inspector": "市场监督管理局",
        }
        contact = json.dumps({"person": "王经理", "phone": f"0571-8{index:07d}"}, ensure_ascii=False)
        created = self.stamp(BASE_TIME)
        return (
            org_id(index),
            f"杭州{index}号{names[role]}",
            json.dumps([role]),
            created,
            self.next_seq(),
            None,
            contact,
            False,
        )

    def _site_row(self, index: int, role: str) -> tuple[Any, ...]:
        grid = self.grids[index * 7919 % len(self.grids)]
        self.site_grid[index + 1] = grid
        return (index + 1, org_id(index), f"{role} 站点", f"杭州市某区某路 {index} 号", grid, self.next_seq())

    def _product_rows(self) -> list[tuple[Any, ...]]:
        rows = []
        for item in range(self.shape.products):
            role = "processor" if item % 5 == 0 else "producer"
            owner = self.pools[role][len(self.products_of[role]) % len(self.pools[role])]
            kind = item % len(PRODUCT_KINDS)
            name, storage, _, low, high = PRODUCT_KINDS[kind]
            gtin = gtin14(owner, item)
            self.products_of[role].append((gtin, owner))
            self.owner_of[gtin], self.kind_of[gtin] = owner, kind
            rows.append(
                (
                    gtin,
                    org_id(owner),
                    f"{name} {item}",
                    None,
                    None,
                    "food",
                    storage,
                    low,
                    high,
                    None,
                    None,
                    self.next_seq(),
                )
            )
        return rows

    # -- batches and journeys --

    def _batch_row(self, block: Block, batch: int, gtin: str, quantity: float, made: datetime) -> str:
        owner = self.owner_of[gtin]
        lot = f"B{batch:09d}"
        created = self.next_seq()
        produced = made.date()
        block["batches"].append(
            (
                batch,
                gtin,
                lot,
                org_id(owner),
                owner + 1,
                self.site_grid[owner + 1],
                '{"country": "CN"}',
                produced.isoformat(),
                (produced + timedelta(days=365)).isoformat(),
                quantity,
                PRODUCT_KINDS[self.kind_of[gtin]][2],
                "[]",
                created,
            )
        )
        return lot

    def _scan(
        self,
        block: Block,
        scan: tuple[str, str, int, str, int],
        action: str,
        other: int | None,
        quantity: float,
        at: datetime,
        matched: int | None,
    ) -> int:
        """One scan row and its reading; ``scan`` is (gtin, lot, batch id, unit, scanning org)."""
        gtin, lot, batch, unit, org = scan
        self.scan_id += 1
        when = self.stamp(at)
        block["scans"].append(
            (
                self.scan_id,
                self.next_seq(),
                action,
                gtin,
                lot,
                batch,
                org_id(org),
                org + 1,
                None,
                None if other is None else org_id(other),
                other + 1 if action == "ship" and other is not None else None,
                quantity,
                unit,
                when,
                "+08:00",
                self.recorded,
                matched,
                False,
                False,
            )
        )
        low, high = READING[PRODUCT_KINDS[self.kind_of[gtin]][1]]
        self.reading_id += 1
        block["temperature_readings"].append(
            (self.reading_id, self.scan_id, batch, when, round(self.rng.uniform(low, high), 1))
        )
        return self.scan_id

    def _hand_over(
        self, block: Block, what: tuple[str, str, int, str], sender: int, receiver: int, quantity: float, at: datetime
    ) -> None:
        """A shipment and its receipt, each pointing at the other as the services link them."""
        ship_id, receive_id = self.scan_id + 1, self.scan_id + 2
        self._scan(block, (*what, sender), "ship", receiver, quantity, at, receive_id)
        self._scan(block, (*what, receiver), "receive", sender, quantity, at + timedelta(minutes=20), ship_id)

    def _journey(
        self,
        block: Block,
        what: tuple[str, str, int, str],
        owner: int,
        quantity: float,
        start: datetime,
        handoffs: int,
        sell: bool,
    ) -> None:
        held = {owner: quantity}
        holder, moving, at = owner, round(quantity * self.rng.uniform(0.6, 1.0)), start
        for step in range(handoffs):
            receiver = self._receiver(step, handoffs)
            self._hand_over(block, what, holder, receiver, moving, at)
            held[holder] -= moving
            held[receiver] = held.get(receiver, 0) + moving
            holder, at = receiver, at + timedelta(hours=self.rng.uniform(2, 30))
        if sell and held[holder] >= 2:
            sold = float(self.rng.randint(1, int(held[holder] // 2)))
            self._scan(block, (*what, holder), "sell", None, sold, at, None)
            held[holder] -= sold
        gtin, lot, _, unit = what
        block["holdings"].extend((gtin, lot, org_id(org), qty, unit, self.seq) for org, qty in held.items())

    def _receiver(self, step: int, handoffs: int) -> int:
        if step == handoffs - 1:
            role = "retailer"
        else:
            role = ("carrier", "cold_store", "carrier")[step % 3]
        return self.rng.choice(self.pools[role])

    def _handoffs(self) -> tuple[int, bool]:
        """Hand-offs and a sale, drawn so the scans average out to the budget left."""
        if self.scans_left <= 0:
            return 0, False
        remaining = max(1, self.shape.batches - self.regular_done)
        mean = max(0.0, (self.scans_left / remaining - 0.5) / 2)
        handoffs = int(mean) + (self.rng.random() < mean - int(mean))
        return handoffs, self.rng.random() < 0.5

    def regular(self) -> Iterator[Block]:
        """The ordinary batches, ``BLOCK`` at a time; a tenth are transformation outputs."""
        count = self.shape.batches - self.shape.special_batches
        for first in range(1, count + 1, BLOCK):
            block: Block = {
                table: [] for table in ("batches", "batch_inputs", "scans", "temperature_readings", "holdings")
            }
            for batch in range(first, min(first + BLOCK, count + 1)):
                self._regular_batch(block, batch)
                self.regular_done += 1
            yield block

    def _regular_batch(self, block: Block, batch: int) -> None:
        rng = self.rng
        made_by_processor = batch > 10 and rng.random() < 0.1
        gtin, owner = rng.choice(self.products_of["processor" if made_by_processor else "producer"])
        made = BASE_TIME + timedelta(minutes=rng.randint(0, 365 * 24 * 60))
        quantity = float(rng.randint(50, 1000))
        lot = self._batch_row(block, batch, gtin, quantity, made)
        if made_by_processor:  # from recent batches: what a processor has in stock
            inputs = rng.sample(range(max(1, batch - RECENT), batch), rng.randint(2, 3))
            block["batch_inputs"].extend(
                (batch, source, float(rng.randint(5, 50)), "箱", self.next_seq(), self.stamp(made), org_id(owner))
                for source in inputs
            )
            if batch > self.shape.batches // 2 and not self.landmarks.typical_output:
                self.landmarks.typical_output, self.landmarks.typical_input = batch, inputs[0]
        handoffs, sell = self._handoffs()
        before = self.scan_id
        what = (gtin, lot, batch, PRODUCT_KINDS[self.kind_of[gtin]][2])
        self._journey(block, what, owner, quantity, made + timedelta(hours=2), handoffs, sell)
        self.scans_left -= self.scan_id - before

    # -- the two structures the bench is about --

    def special(self) -> Block:
        block: Block = {
            table: [] for table in ("batches", "batch_inputs", "scans", "temperature_readings", "holdings", "recalls")
        }
        self._pallet(block)
        self._chain(block)
        block["recalls"].append(
            (
                1,
                self.landmarks.pallet,
                "抽检检出沙门氏菌",
                org_id(self.pools["inspector"][0]),
                self.recorded,
                self.next_seq(),
            )
        )
        return block

    def _new_batch(
        self, block: Block, role: str, quantity: float, made: datetime, pick: int
    ) -> tuple[str, str, int, str]:
        gtin, _ = self.products_of[role][pick % len(self.products_of[role])]
        batch = self.next_batch
        self.next_batch += 1
        lot = self._batch_row(block, batch, gtin, quantity, made)
        return gtin, lot, batch, PRODUCT_KINDS[self.kind_of[gtin]][2]

    def _edge(self, block: Block, output: int, source: int, owner: int, made: datetime) -> None:
        block["batch_inputs"].append((output, source, 10.0, "箱", self.next_seq(), self.stamp(made), org_id(owner)))

    def _pallet(self, block: Block) -> None:
        """One imported pallet, split into ``fanout`` packs, each shipped to ``fanout`` retailers."""
        fanout, made = self.shape.fanout, BASE_TIME + timedelta(days=300)
        pallet = self._new_batch(block, "producer", 5000.0, made, 0)
        producer, carrier = self.owner_of[pallet[0]], self.pools["carrier"][0]
        processor = self.owner_of[self.products_of["processor"][0][0]]
        self._hand_over(block, pallet, producer, carrier, 5000.0, made)
        self._hand_over(block, pallet, carrier, processor, 5000.0, made + timedelta(hours=6))
        for holder in (producer, carrier, processor):
            block["holdings"].append((pallet[0], pallet[1], org_id(holder), 0.0, pallet[3], self.seq))
        self.landmarks.pallet = pallet[2]
        for pack in range(fanout):
            at = made + timedelta(days=1, minutes=pack)
            child = self._new_batch(block, "processor", float(fanout * 10), at, 0)
            self._edge(block, child[2], pallet[2], processor, at)
            self.landmarks.pallet_child = self.landmarks.pallet_child or child[2]
            for shop in range(fanout):
                retailer = self.pools["retailer"][pack * fanout + shop]
                self._hand_over(block, child, processor, retailer, 10.0, at + timedelta(hours=2, minutes=shop))
                block["holdings"].append((child[0], child[1], org_id(retailer), 10.0, child[3], self.seq))
            block["holdings"].append((child[0], child[1], org_id(processor), 0.0, child[3], self.seq))

    def _chain(self, block: Block) -> None:
        """``hops`` transformations in a row, each at another processor, each with one side input."""
        made = BASE_TIME + timedelta(days=200)
        previous = self._new_batch(block, "producer", 800.0, made, 1)
        holder = self.owner_of[previous[0]]
        for hop in range(1, self.shape.hops + 1):
            at = made + timedelta(days=hop)
            side = self._new_batch(block, "producer", 300.0, at, hop + 1)
            output = self._new_batch(block, "processor", 150.0, at + timedelta(hours=3), hop)
            processor = self.owner_of[output[0]]
            self._hand_over(block, previous, holder, processor, 100.0, at)
            self._hand_over(block, side, self.owner_of[side[0]], processor, 100.0, at)
            for source in (previous[2], side[2]):
                self._edge(block, output[2], source, processor, at + timedelta(hours=3))
            previous, holder = output, processor
        retailer = self.pools["retailer"][-1]
        self._hand_over(block, previous, holder, retailer, 150.0, made + timedelta(days=self.shape.hops + 1))
        self._scan(block, (*previous, retailer), "sell", None, 20.0, made + timedelta(days=self.shape.hops + 2), None)
        self.landmarks.deep = previous[2]


# --- loading ----------------------------------------------------------------------------------------


def _blocks(generator: Generator) -> Iterator[Block]:
    yield generator.roster()
    yield from generator.regular()
    yield generator.special()


def add_registrations(engine: Engine, batch_ids: Sequence[int]) -> None:
    """The ``batch.registered`` rows ``public_batch`` reads ``recorded_at`` from: placeholders,
    for the timed batches only (see the note at the top: this is not a verifiable ledger)."""
    with engine.connect() as conn:
        seqs = dict(conn.execute(select(Batch.id, Batch.created_seq).where(Batch.id.in_(batch_ids))).all())
    rows = []
    for batch_id in batch_ids:
        seq = seqs[batch_id]
        entry = json.dumps({"seq": seq, "kind": "batch.registered", "bench": "placeholder"}).encode()
        rows.append(
            {
                "seq": seq,
                "entry": entry,
                "leaf_hash": hashlib.sha256(b"\0" + entry).digest(),
                "subtree_hashes": None,
                "kind": "batch.registered",
                "subject": f"batch:{batch_id}",
                "actor_org": "bench",
                "client_event_id": None,
                "recorded_at": datetime(2026, 11, 26, tzinfo=UTC),
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(LedgerEntry), rows)


# --- measuring ---------------------------------------------------------------------------------------


@dataclass
class Measured:
    label: str
    seconds: list[float]
    size: str = ""  # what one call returned, e.g. "101 batches, 20,006 events, 10,003 holders"
    baseline: str = ""  # the label of the rows baseline it is compared with

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000


class Capture:
    """The statements an engine sends while ``on``, with their parameters, for EXPLAIN."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.on and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            self.statements.append((statement, parameters))

    def run(self, engine: Engine, call: Callable[[Session], object]) -> list[tuple[str, Any]]:
        self.statements, self.on = [], True
        try:
            with transaction(engine, readonly=True) as session:
                call(session)
        finally:
            self.on = False
        return self.statements


def time_calls(engine: Engine, call: Callable[[Session], object], runs: int, warmup: int) -> list[float]:
    """Each call in its own read transaction, as the API makes them."""
    for _ in range(warmup):
        with transaction(engine, readonly=True) as session:
            call(session)
    seconds = []
    for _ in range(runs):
        started = perf_counter()
        with transaction(engine, readonly=True) as session:
            call(session)
        seconds.append(perf_counter() - started)
    return seconds


def trace_call(batch_id: int, direction: str) -> Callable[[Session], lineage.Trace]:
    return lambda session: lineage.trace(session, batch_id, direction)


def recall_call(batch_id: int) -> Callable[[Session], recalls.RecallView]:
    return lambda session: recalls.recall_view(session, session.get_one(Batch, batch_id))


def public_call(batch_id: int) -> Callable[[Session], dict[str, Any]]:
    return lambda session: public.public_batch(session, session.get_one(Batch, batch_id))


def rows_call(batch_ids: list[int]) -> Callable[[Session], object]:
    """The floor for reading a trace's events: the same scan rows by an indexed IN list, no CTE,
    no joins, no objects."""
    query = select(Scan.__table__).where(Scan.batch_id.in_(batch_ids))
    return lambda session: session.connection().execute(query).all()


def pk_call(batch_id: int) -> Callable[[Session], object]:
    return lambda session: session.connection().execute(select(Batch.__table__).where(Batch.id == batch_id)).one()


def describe_trace(traced: lineage.Trace) -> str:
    depth = max(b.depth for b in traced.batches)
    return (
        f"{len(traced.batches):,} batches (depth {depth}), {len(traced.edges):,} edges, "
        f"{len(traced.events):,} events, {len(traced.holders()):,} holders"
    )


@dataclass
class Case:
    label: str
    call: Callable[[Session], object]
    baseline: str = ""


def cases(landmarks: Landmarks, shape: Shape, engine: Engine) -> tuple[list[Case], dict[str, str]]:
    """What is timed, and a description of what each call returns (read once, untimed)."""
    with transaction(engine, readonly=True) as session:
        forward = lineage.trace(session, landmarks.pallet, "forward")
        back = lineage.trace(session, landmarks.deep, "back")
        typical = lineage.trace(session, landmarks.typical_input, "forward")
    fan = f"baseline: scans of the {len(forward.batches)} forward-traced batches"
    deep = f"baseline: scans of the {len(back.batches)} back-traced batches"
    timed = [
        Case("baseline: PK lookup of one batch", pk_call(landmarks.pallet)),
        Case(fan, rows_call([b.batch_id for b in forward.batches])),
        Case(deep, rows_call([b.batch_id for b in back.batches])),
        Case(f"trace forward, pallet to {shape.fanout**2:,} holders", trace_call(landmarks.pallet, "forward"), fan),
        Case("recall_view of the pallet", recall_call(landmarks.pallet), fan),
        Case(f"trace back through {shape.hops} hops", trace_call(landmarks.deep, "back"), deep),
        Case(f"public_batch, end of the {shape.hops} hops", public_call(landmarks.deep), deep),
        Case("public_batch, one pack of the pallet", public_call(landmarks.pallet_child)),
        Case("trace forward, a typical batch", trace_call(landmarks.typical_input, "forward")),
        Case("trace back, a typical output", trace_call(landmarks.typical_output, "back")),
        Case("public_batch, a typical output", public_call(landmarks.typical_output)),
    ]
    sizes = {
        timed[3].label: describe_trace(forward),
        timed[5].label: describe_trace(back),
        timed[8].label: describe_trace(typical),
    }
    return timed, sizes


# --- plans ------------------------------------------------------------------------------------------


_SQLITE_SCAN = re.compile(r"^SCAN (\w+)(?: AS \w+)?( USING (?:COVERING )?INDEX \w+)?")
_PG_SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")


def explain(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """The plan of one captured statement, run with its own parameters."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            depth: dict[int, int] = {0: -1}
            lines = []
            for node, parent, _, detail in rows:
                depth[node] = depth.get(parent, -1) + 1
                lines.append("  " * depth[node] + detail)
            return lines
        rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).all()
        return [row[0] for row in rows]


def full_scans(plan: list[str], sizes: dict[str, int]) -> list[str]:
    """Large tables read whole (a full table scan, or a full scan of one of their indexes)."""
    found = []
    for line in plan:
        stripped = line.strip().lstrip("-> ").strip()
        match = _SQLITE_SCAN.match(stripped) or _PG_SEQ_SCAN.search(stripped)
        table = re.sub(r"_\d+$", "", match.group(1)) if match else ""
        if match and sizes.get(table, 0) > BIG:
            how = "full index scan" if match.re is _SQLITE_SCAN and match.group(2) else "full table scan"
            found.append(f"{how} of {table} ({sizes[table]:,} rows)")
    return found


def _name_statement(statement: str) -> str:
    flat = " ".join(statement.split())
    if "FROM scans JOIN organisations" in flat:
        return "events query (custody events of the reached batches)"
    if "WITH RECURSIVE" in flat and "JOIN organisations" in flat:
        return "lineage CTE (batches reached, with product and producer)"
    if "WITH RECURSIVE" in flat:
        return "lineage CTE of public_batch (made from)"
    if flat.startswith("SELECT batch_inputs."):
        return "edges query"
    match = re.search(r"FROM (\w+)", flat)
    return f"query on {match.group(1) if match else '?'}"


def report_plans(engine: Engine, timed: list[Case], sizes: dict[str, int]) -> list[dict[str, Any]]:
    """Print the plans of the lineage CTE and the events query in full, and of every other
    statement the timed calls send when it reads a large table whole."""
    capture = Capture(engine)
    seen: set[str] = set()
    verdicts = []
    for case in timed:
        if case.label.startswith("baseline"):
            continue
        for statement, parameters in capture.run(engine, case.call):
            name = _name_statement(statement)
            shape_key = re.sub(r"\s+", " ", re.sub(r"\b\d+\b|\?|%\(\w+\)s", "N", statement))
            if shape_key in seen:
                continue
            seen.add(shape_key)
            plan = explain(engine, statement, parameters)
            scans = full_scans(plan, sizes)
            verdict = "uses indexes" if not scans else "; ".join(scans)
            verdicts.append({"call": case.label, "statement": name, "verdict": verdict})
            if name.startswith(("lineage CTE", "events query")) or scans:
                print(f"\n  -- {name}, from '{case.label}': {verdict}")
                print("     " + " ".join(statement.split())[:600])
                for line in plan:
                    print(f"       {line}")
    return verdicts


# --- running --------------------------------------------------------------------------------------


def table_sizes(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: int(conn.execute(select(func.count()).select_from(Base.metadata.tables[table])).scalar_one())
            for table in (*LOADED_TABLES, "ledger_entries")
        }


def run_target(target: Target, shape: Shape, args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n== {target.name}: loading {shape.batches:,} batches, about {shape.scans:,} scans", flush=True)
    target.create()
    generator = Generator(shape, args.seed, target.stamp)
    started = perf_counter()
    target.load(_blocks(generator))
    load_seconds = perf_counter() - started
    engine = make_engine(target.url)
    landmarks = generator.landmarks
    add_registrations(engine, [landmarks.deep, landmarks.pallet_child, landmarks.typical_output])
    sizes = table_sizes(engine)
    print(f"   loaded in {load_seconds:.0f} s: " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()), flush=True)
    timed, returned = cases(landmarks, shape, engine)
    results = [
        Measured(
            case.label,
            time_calls(engine, case.call, args.runs, args.warmup),
            returned.get(case.label, ""),
            case.baseline,
        )
        for case in timed
    ]
    print_results(target.version(engine), results, args)
    print("\n   PLANS (every statement of the timed calls; in full for the lineage CTE and the events query)")
    verdicts = report_plans(engine, timed, sizes)
    print("\n   index use per statement:")
    for verdict in verdicts:
        print(f"     {verdict['call']:<44} {verdict['statement']:<56} {verdict['verdict']}")
    version = target.version(engine)
    engine.dispose()
    if not args.keep:
        target.drop()
    return {
        "version": version,
        "load_seconds": round(load_seconds, 1),
        "rows": sizes,
        "results": {
            m.label: {"median_ms": round(m.median_ms, 3), "p95_ms": round(m.p95_ms, 3), "returned": m.size}
            for m in results
        },
        "plans": verdicts,
    }


def print_results(version: str, results: list[Measured], args: argparse.Namespace) -> None:
    by_label = {m.label: m for m in results}
    pk = by_label["baseline: PK lookup of one batch"]
    print(f"\n   {version}; {args.runs} runs after {args.warmup} warm-up, each in its own read transaction")
    print(f"   {'call':<52} {'median ms':>10} {'p95 ms':>10} {'x PK':>9} {'x rows':>8}")
    for m in results:
        rows = f"{m.median_ms / by_label[m.baseline].median_ms:8.1f}" if m.baseline else f"{'':>8}"
        print(f"   {m.label:<52} {m.median_ms:10.2f} {m.p95_ms:10.2f} {m.median_ms / pk.median_ms:9.1f} {rows}")
        if m.size:
            print(f"   {'':<4}returns {m.size}")
    print("   x PK: median / the PK lookup's median; x rows: median / the matching rows baseline's median")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0], epilog="See bench/README.md.")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres", default=DEFAULT_PG_URL, help="a PostgreSQL URL allowed to CREATE DATABASE")
    parser.add_argument("--batches", type=int, default=1_000_000)
    parser.add_argument("--scans", type=int, default=5_000_000)
    parser.add_argument("--fanout", type=int, default=100, help="the pallet's packs, and retailers per pack")
    parser.add_argument("--hops", type=int, default=10, help="transformation hops of the deep back trace")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the databases (SQLite in --out-dir)")
    parser.add_argument("--out-dir", type=Path, default=BENCH_DIR / "out", help="where trace-last.json goes")
    args = parser.parse_args(argv)
    if args.batches < 1000 or args.scans < 4 * args.fanout**2 or args.fanout < 2 or args.hops < 1:
        parser.error("needs --batches >= 1000, --scans >= 4 * fanout², --fanout >= 2 and --hops >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    shape = Shape(args.batches, args.scans, args.fanout, args.hops)
    names = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    summary: dict[str, Any] = {
        "bench": "trace",
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "postgres"},
        "env": {
            "python": platform.python_version(),
            "sqlalchemy": sqlalchemy.__version__,
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
            "loadavg_at_start": os.getloadavg(),
        },
        "results": {},
    }
    scratch = Path(tempfile.mkdtemp(prefix="anlian-trace-", dir=args.out_dir if args.keep else None))
    try:
        for name in names:
            target: Target = (
                SqliteTarget(scratch / "trace.sqlite", COLUMNS)
                if name == "sqlite"
                else PostgresTarget(args.postgres, PG_DATABASE, COLUMNS)
            )
            summary["results"][name] = run_target(target, shape, args)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    summary["env"]["loadavg_at_end"] = os.getloadavg()
    line = json.dumps(summary, ensure_ascii=False, separators=(",", ":"))
    (args.out_dir / "trace-last.json").write_text(line + "\n", encoding="utf-8")
    print("JSON " + line)


if __name__ == "__main__":
    main()
