"""Benchmark the alert rules at scale: every ``find`` of ``ledger.rules.RULES`` on a city's elevators
and a year of its cold chain, on SQLite and PostgreSQL.

    .venv/bin/python bench/jobs.py [--db sqlite|postgres|both] [--postgres URL] [--units 100000]
                                   [--records 2000000] [--batches 1000000] [--scans 5000000]
                                   [--scales 0.1,1] [--runs 5] [--warmup 1]

WHAT IS LOADED, AND WHAT IS NOT.  The rules read the projection tables, never the ledger, so this
bench BULK-LOADS THE PROJECTION TABLES DIRECTLY (with ``bench.loaders``: ``executemany`` on
SQLite, ``COPY`` on PostgreSQL, into a schema made by ``ledger.migrate.upgrade``, secondary
indexes rebuilt from their migrated DDL after the load; PostgreSQL ``VACUUM ANALYZE``d, SQLite
not ``ANALYZE``d).  Nothing goes through the services and nothing is appended to a ledger.  The
one exception is ``ledger_entries.recorded_at``, which the rules read through two joins:
``never_scanned`` (``batches.created_seq`` → ``ledger_entries.seq``, the time a batch was coded)
and the four maintenance rules (``equipment.created_seq`` → ``ledger_entries.seq``, an inner join
that dates a never-maintained unit without ``installed_on``).  So ``ledger_entries`` holds one
``batch.registered`` row per batch and one ``equipment.registered`` row per unit with the real
seq, kind, subject, actor and time, but PLACEHOLDER ``entry`` and ``leaf_hash`` bytes: the bench
never verifies the ledger, and these rows would not verify.

The data, for ``--units`` elevators and ``--batches`` batches (the roster, batches, scans and
readings reuse ``bench/trace.py``'s generator):

* elevators (category 3000) across a 1,300-grid city tree, with a few dozen maintenance
  companies and thousands of user units; a few percent on an approved on-demand interval, a few
  stopped or scrapped, a few newly installed and not yet maintained; next inspections spread
  over the year (some past);
* ``--records`` maintenance records, about 20 a unit every 12-15 days (the on-demand units
  at their interval) with the tier a real schedule gives (quarterly, half-yearly, yearly when
  due); most units visited within the last fortnight, some a few days late, some weeks late,
  a few that stopped doing the higher tiers; most records confirmed within hours, some late,
  a few never; about one in a hundred amended;
* hazards (a few thousand, most closed, some open past their deadline) and incidents (faults
  and entrapments, a few reached later than the 30-minute target);
* ``--batches`` batches coded over the year before the bench's fixed ``now``, with
  ``--scans`` scans on journeys producer → (carrier → cold store →) retailer, one temperature
  reading each (a share out of band), sales at the end; a few products whose data loggers
  read every 20 minutes and set a maximum reading gap, some of whose journeys miss readings;
  the holdings those journeys leave (most at zero, as the services keep them), among them some
  expired, some stuck at a cold store or carrier; a few batches never scanned, shipments never
  received, receipts without a shipment and receipts of goods never coded.

WHAT IS MEASURED.  Each rule's ``find(session, today, now, zone)`` with ``now`` fixed at
2026-11-26 10:00 in Hangzhou, each call in its own read transaction, each rule in a fresh
process of its own (so that its memory is not the loader's): the median and maximum of
``--runs`` runs after ``--warmup``, the number of findings, the growth of the process's resident
memory from before the first call to its peak over all of them (the kernel's high-water mark,
reset first; on SQLite it includes the connection's page cache, at most 64 MiB) and the
tracemalloc peak of one more call (the Python objects the rule builds).  Ratios are against
baselines measured in the same run: a full ``SELECT count(*)`` of maintenance_records and of
scans, and a primary-key lookup of a batch.  Then the plans of every statement each rule sends
(``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL), printed in full
for the slowest rules and every rule that missed the goal of one second, with a verdict on
which large tables are read whole.  Everything runs at each of ``--scales`` (default a tenth and
the full size) to compare findings and memory across sizes.  With ``--proposed``, the largest
size is then measured again with the indexes of ``PROPOSED`` created in the scratch database,
and with ``VARIANTS``, the maintenance rules with the query change this bench proposes (checked
to find exactly what the rules find).  Nothing asserts on timings.  See bench/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's own directory comes first on sys.path, where ledger.py would
# shadow the ``ledger`` package: put the project root ahead of it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import gc
import json
import math
import multiprocessing
import os
import platform
import random
import re
import resource
import statistics
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from time import perf_counter
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, Index, MetaData, exists, func, select, text
from sqlalchemy.orm import Session, configure_mappers
from sqlalchemy.schema import CreateIndex

from bench.loaders import Block, PostgresTarget, SqliteTarget, Target
from bench.trace import BIG, PRODUCT_KINDS, Capture, Generator, Shape, explain, full_scans, org_id
from bench.trace import COLUMNS as TRACE_COLUMNS
from ledger.db.engine import make_engine, transaction
from ledger.db.tables import Base, Batch, Equipment, LedgerEntry, MaintenanceRecord, Scan
from ledger.domain import alerts
from ledger.domain.alerts import Finding
from ledger.domain.clock import day_start, local_date
from ledger.domain.food import CANONICAL_HOST
from ledger.domain.gs1 import digital_link
from ledger.domain.maintenance import DUE_SOON_DAYS, INTERVAL_DAYS, TIER_NAMES, TIERS, intervals
from ledger.domain.maintenance import ON_DEMAND_DAYS as ON_DEMAND_RANGE
from ledger.rules import RULES, RuleFunction
from ledger.rules import equipment as rule_equipment

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_DATABASE = "anlian_bench_jobs"
ZONE = "Asia/Shanghai"
BEIJING = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in Hangzhou, a weekday morning
TODAY = local_date(NOW, ZONE)
GOAL_SECONDS = 1.0  # the project's goal for one rule
BLOCK = 20_000  # batches per block
UNITS_PER_BLOCK = 2_000
HISTORY_DAYS = 365  # batches were coded over the year before NOW
LEDGER_START = NOW - timedelta(days=420)  # units already in use were registered when the ledger began
EQUIPMENT_SEQ = 1_000_000_000  # equipment-side seqs start here, clear of the cold chain's
EQUIPMENT_ORG = 1_000_000  # equipment-side organisation indexes start here
PLACEHOLDER_ENTRY = b'{"bench":"placeholder"}'
PLACEHOLDER_HASH = bytes(32)

# The cold chain, as shares of batches, hand-overs, scans or readings.
NEVER_SCANNED = 0.003  # batches coded and never scanned
UNRECEIVED = 0.001  # hand-overs shipped and never received
UNEXPECTED = 0.0005  # hand-overs received without the sender's ship scan
STUCK = 0.002  # journeys that stop at a carrier or cold store and stay there
LEFT_OVER = 0.01  # retailers that sell only part of a batch
UNCODED = 0.0005  # receipts of goods never coded, per batch
EXCURSION = 0.005  # readings out of the product's band
GAP_PRODUCTS = 5  # chilled products with data loggers and a maximum reading gap
GAP_MINUTES = 60
LOGGER_EVERY = timedelta(minutes=20)
LOGGER_MISS = 0.05  # logged legs with a hole of 2-5 hours
SHELF_LIFE = {"frozen": 365, "chilled": 21, "fresh": 10, "ambient": 270}

# Elevators.
STOPPED, SCRAPPED = 0.02, 0.01
ON_DEMAND = 0.03  # units on an approved on-demand interval
ON_DEMAND_DAYS = (30, 45, 60)
NEW_UNITS = 0.005  # installed in the last 40 days, not yet maintained
DAYS_LATE, WEEKS_LATE = 0.06, 0.025  # half-monthly visits late by days, by weeks
NEGLECTED = 0.015  # units whose company stopped doing the higher tiers
NEVER_CONFIRMED, CONFIRMED_LATE = 0.004, 0.03
AMENDED = 0.01
LATE_ARRIVAL = 0.06  # entrapments reached after the 30-minute target
HAZARD_STATUSES = ("found", "issued", "rectifying", "to_verify")
HIGHER_TIERS = ("yearly", "half_yearly", "quarterly")  # highest first

COLUMNS: dict[str, tuple[str, ...]] = {
    **{table: TRACE_COLUMNS[table] for table in (
        "grids", "organisations", "sites", "products", "batches", "scans", "temperature_readings", "holdings",
    )},
    "ledger_entries": ("seq", "entry", "leaf_hash", "kind", "subject", "actor_org", "recorded_at"),
    "equipment": (
        "id", "code", "category", "kind", "registration_number", "factory_number", "emergency_code", "address",
        "grid_code", "user_org_id", "maintenance_org_id", "contract_end", "status", "installed_on",
        "next_inspection_due", "on_demand_max_days", "created_seq", "updated_seq",
    ),
    "maintenance_records": (
        "id", "seq", "equipment_id", "org_id", "tier", "check_in", "check_out", "faults", "amends_seq",
        "amended_by_seq", "confirmed_seq", "confirmed_at",
    ),
    "hazards": (
        "id", "equipment_id", "grid_code", "source", "source_seq", "level", "colour", "description",
        "responsible_org_id", "deadline", "status", "supervised", "escalations", "opened_seq", "updated_seq",
        "closed_by_seq",
    ),
    "incidents": (
        "id", "equipment_id", "kind", "reported_via", "reported_at", "reported_seq", "people_trapped",
        "dispatched_at", "arrived_at", "released_at", "cause", "arrival_target_minutes", "late_arrival",
        "updated_seq",
    ),
}  # fmt: skip
SCAN_FLAGS = COLUMNS["scans"].index("unexpected")  # unexpected, uncoded: the last two columns
GAP_COLUMN = COLUMNS["products"].index("max_reading_gap_minutes")


# --- the cold chain -----------------------------------------------------------------------------


class ColdChain(Generator):
    """``bench/trace.py``'s roster, batch and scan rows, on journeys placed in the year before
    ``now`` and cut at ``now``, with the faults the cold-chain rules look for planted at the
    shares above.  ``planted`` counts what was planted."""

    def __init__(self, shape: Shape, seed: int, stamp: Callable[[datetime], str], now: datetime) -> None:
        super().__init__(shape, seed, stamp)
        self.now = now
        self.scans_left = shape.scans
        self.recorded = stamp(now)
        self.gap_products: set[str] = set()
        self.logged_until: datetime | None = None
        self.non_final: set[int] = set()
        self.planted: Counter[str] = Counter()

    def roster(self) -> Block:
        block = super().roster()
        self.non_final = set(self.pools["carrier"]) | set(self.pools["cold_store"])
        products = block["products"]
        chilled = [i for i, row in enumerate(products) if row[COLUMNS["products"].index("storage_class")] == "chilled"]
        for index in chilled[:: max(1, len(chilled) // GAP_PRODUCTS)][:GAP_PRODUCTS]:
            row = products[index]
            products[index] = (*row[:GAP_COLUMN], GAP_MINUTES, *row[GAP_COLUMN + 1 :])
            self.gap_products.add(row[0])
        return block

    def regular(self) -> Iterator[Block]:
        tables = ("batches", "ledger_entries", "scans", "temperature_readings", "holdings")
        for first in range(1, self.shape.batches + 1, BLOCK):
            block: Block = {table: [] for table in tables}
            last = min(first + BLOCK, self.shape.batches + 1)
            for batch in range(first, last):
                self._coded_batch(block, batch)
            for _ in range(round((last - first) * UNCODED)):
                self._uncoded_receipt(block)
            yield block

    def special(self) -> Block:
        return {}

    def _coded_batch(self, block: Block, batch: int) -> None:
        rng = self.rng
        gtin, owner = rng.choice(self.products_of["processor" if rng.random() < 0.1 else "producer"])
        made = self.now - timedelta(minutes=rng.randint(120, HISTORY_DAYS * 24 * 60))
        quantity = float(rng.randint(50, 1000))
        lot = self._coded(block, batch, gtin, owner, quantity, made)
        handoffs = self._handoffs_left()
        self.regular_done += 1
        if rng.random() < NEVER_SCANNED:
            self.planted["batches never scanned"] += 1
            return
        before = self.scan_id
        self._trip(block, (gtin, lot, batch, PRODUCT_KINDS[self.kind_of[gtin]][2]), owner, quantity, made, handoffs)
        self.scans_left -= self.scan_id - before

    def _coded(self, block: Block, batch: int, gtin: str, owner: int, quantity: float, made: datetime) -> str:
        """The batch row (shelf life by storage class) and its ``batch.registered`` ledger row."""
        _, storage, unit, _, _ = PRODUCT_KINDS[self.kind_of[gtin]]
        lot = f"B{batch:09d}"
        seq = self.next_seq()
        produced = made.astimezone(BEIJING).date()
        block["batches"].append(
            (
                batch, gtin, lot, org_id(owner), owner + 1, self.site_grid[owner + 1], '{"country": "CN"}',
                produced.isoformat(), (produced + timedelta(days=SHELF_LIFE[storage])).isoformat(), quantity, unit,
                "[]", seq,
            )
        )  # fmt: skip
        block["ledger_entries"].append(
            (seq, PLACEHOLDER_ENTRY, PLACEHOLDER_HASH, "batch.registered", digital_link(CANONICAL_HOST, gtin, lot),
             org_id(owner), self.stamp(made))
        )  # fmt: skip
        return lot

    def _handoffs_left(self) -> int:
        """Hand-overs for the next journey, drawn so that the scans (two per hand-over and a
        sale) average out to the budget left; one either way of the mean for variety."""
        remaining = max(1, self.shape.batches - self.regular_done)
        mean = max(1.0, (self.scans_left / remaining - 1) / 2)
        handoffs = int(mean) + (self.rng.random() < mean - int(mean))
        return handoffs + (self.rng.choice((-1, 0, 0, 1)) if handoffs > 1 else 0)

    def _trip(
        self, block: Block, what: tuple[str, str, int, str], owner: int, quantity: float, made: datetime, handoffs: int
    ) -> None:
        """Hand-overs from the producer to a retailer, each shipped and received 20 minutes
        later, then a sale; cut at ``now``, or by a planted fault."""
        rng = self.rng
        held = {owner: quantity}
        holder, at = owner, made + timedelta(hours=2)
        stuck = rng.random() < STUCK
        self.logged_until = None
        complete = True
        for step in range(handoffs):
            receiver = self._receiver(step, handoffs)
            arrive = at + timedelta(minutes=20)
            fate = rng.random()
            if at > self.now:
                complete = False
                break
            if fate < UNRECEIVED or arrive > self.now:
                self._scan(block, (*what, holder), "ship", receiver, quantity, at, None)
                held[holder] -= quantity
                self.planted["shipments never received"] += fate < UNRECEIVED
                complete = False
                break
            if fate < UNRECEIVED + UNEXPECTED:
                self._scan(block, (*what, receiver), "receive", holder, quantity, arrive, None)
                self._flag_last_scan(block, unexpected=True)
                self.planted["receipts without a shipment"] += 1
            else:
                self._hand_over(block, what, holder, receiver, quantity, at)
                held[holder] -= quantity
            held[receiver] = held.get(receiver, 0.0) + quantity
            holder, at = receiver, arrive + timedelta(hours=rng.uniform(2, 30))
            if stuck and holder in self.non_final:
                self.planted["journeys stuck at a carrier or cold store"] += 1
                complete = False
                break
        if complete and at <= self.now:
            sold = quantity
            if rng.random() < LEFT_OVER:
                sold = float(max(1, round(quantity * rng.uniform(0.5, 0.9))))
                self.planted["retailers with stock left"] += 1
            self._scan(block, (*what, holder), "sell", None, sold, at, None)
            held[holder] -= sold
        gtin, lot, _, unit = what
        block["holdings"].extend((gtin, lot, org_id(org), qty, unit, self.seq) for org, qty in held.items())

    def _uncoded_receipt(self, block: Block) -> None:
        """Goods received that nobody coded (未赋码): no batch, no shipment."""
        rng = self.rng
        gtin, _ = rng.choice(self.products_of["producer"])
        receiver = rng.choice(self.pools["cold_store"] + self.pools["retailer"])
        lot = f"NC{self.planted['receipts of uncoded goods']:08d}"
        at = self.now - timedelta(minutes=rng.randint(60, HISTORY_DAYS * 24 * 60))
        quantity = float(rng.randint(5, 200))
        unit = PRODUCT_KINDS[self.kind_of[gtin]][2]
        self._scan(block, (gtin, lot, None, unit, receiver), "receive", None, quantity, at, None)
        self._flag_last_scan(block, unexpected=True, uncoded=True)
        block["holdings"].append((gtin, lot, org_id(receiver), quantity, unit, self.seq))
        self.planted["receipts of uncoded goods"] += 1
        self.scans_left -= 1

    @staticmethod
    def _flag_last_scan(block: Block, unexpected: bool = False, uncoded: bool = False) -> None:
        row = block["scans"][-1]
        block["scans"][-1] = (*row[:SCAN_FLAGS], unexpected, uncoded)

    def _scan(
        self,
        block: Block,
        scan: tuple[str, str, int | None, str, int],
        action: str,
        other: int | None,
        quantity: float,
        at: datetime,
        matched: int | None,
    ) -> int:
        """The trace generator's scan and reading (``batch`` None for goods never coded); a share
        of readings out of band, and the logger readings since the batch's previous scan for the
        products that carry loggers."""
        scan_id = super()._scan(block, scan, action, other, quantity, at, matched)
        gtin, _, batch, _, _ = scan
        _, _, _, low, high = PRODUCT_KINDS[self.kind_of[gtin]]
        if high is not None and self.rng.random() < EXCURSION:
            row = block["temperature_readings"][-1]
            block["temperature_readings"][-1] = (*row[:4], round(high + self.rng.uniform(1.5, 8.0), 1))
            self.planted["readings out of band"] += 1
        if gtin in self.gap_products and batch is not None:
            if self.logged_until is not None:
                self._logger_readings(block, scan_id, batch, self.logged_until, at, low or 0.0, high or 4.0)
            self.logged_until = at
        return scan_id

    def _logger_readings(
        self, block: Block, scan_id: int, batch: int, since: datetime, until: datetime, low: float, high: float
    ) -> None:
        """Readings every 20 minutes over a leg, uploaded with the scan that ends it; a share of
        legs miss 2-5 hours of them."""
        rng = self.rng
        hole: tuple[datetime, datetime] | None = None
        if rng.random() < LOGGER_MISS and until - since > timedelta(hours=6):
            start = since + (until - since - timedelta(hours=5)) * rng.random()
            hole = (start, start + timedelta(minutes=rng.randint(120, 300)))
            self.planted["logged legs with a gap"] += 1
        at = since + LOGGER_EVERY
        while at < until:
            if hole is None or not hole[0] <= at < hole[1]:
                self.reading_id += 1
                block["temperature_readings"].append(
                    (self.reading_id, scan_id, batch, self.stamp(at), round(rng.uniform(low + 0.5, high - 0.3), 1))
                )
            at += LOGGER_EVERY


# --- the elevators ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plant:
    units: int
    records: int

    @property
    def maintainers(self) -> int:
        return max(3, self.units // 2000)

    @property
    def owners(self) -> int:
        return max(20, self.units // 20)

    @property
    def hazards(self) -> int:
        return max(20, self.units // 30)

    @property
    def incidents(self) -> int:
        return max(20, self.units // 20)


class Elevators:
    """Deterministic rows for the equipment side: organisations, units with their registration
    rows, maintenance records, hazards and incidents; ``planted`` counts the faults."""

    def __init__(self, plant: Plant, seed: int, stamp: Callable[[datetime], str], grids: Sequence[str],
                 now: datetime) -> None:  # fmt: skip
        self.plant, self.stamp, self.grids, self.now = plant, stamp, list(grids), now
        self.today = local_date(now, ZONE)
        self.rng = random.Random(seed)
        self.seq = EQUIPMENT_SEQ
        self.record_id = 0
        self.maintainers = [org_id(EQUIPMENT_ORG + i) for i in range(plant.maintainers)]
        self.owners = [org_id(EQUIPMENT_ORG + plant.maintainers + i) for i in range(plant.owners)]
        self.in_use: list[tuple[int, str, str, str]] = []  # (id, grid, maintainer, owner)
        self.owed = 0  # records of new units, handed on to the next units so the total is exact
        self.planted: Counter[str] = Counter()

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def blocks(self) -> Iterator[Block]:
        yield self._roster()
        quota, extra = divmod(self.plant.records, self.plant.units)
        for first in range(0, self.plant.units, UNITS_PER_BLOCK):
            block: Block = {"equipment": [], "ledger_entries": [], "maintenance_records": []}
            for n in range(first, min(first + UNITS_PER_BLOCK, self.plant.units)):
                self._unit(block, n, quota + (n < extra))
            yield block
        yield self._hazards_and_incidents()

    def _roster(self) -> Block:
        rows = []
        created = self.stamp(LEDGER_START)
        for index, (org, role, name) in enumerate(
            [(org, "maintenance", f"杭州第{i + 1}电梯维保有限公司") for i, org in enumerate(self.maintainers)]
            + [(org, "equipment_user", f"杭州第{i + 1}物业管理有限公司") for i, org in enumerate(self.owners)]
        ):
            contact = json.dumps({"person": "值班经理", "phone": f"0571-9{index:07d}"}, ensure_ascii=False)
            rows.append((org, name, json.dumps([role]), created, self.next_seq(), None, contact, False))
        return {"organisations": rows}

    def _unit(self, block: Block, n: int, quota: int) -> None:
        rng, today = self.rng, self.today
        grid = rng.choice(self.grids)
        year = rng.randint(2000, 2025)
        code = f"3110{grid[:6]}{year}{n + 1:06d}"
        maintainer, owner = rng.choice(self.maintainers), rng.choice(self.owners)
        fate = rng.random()
        status = "scrapped" if fate < SCRAPPED else "stopped" if fate < SCRAPPED + STOPPED else "in_use"
        on_demand = rng.choice(ON_DEMAND_DAYS) if rng.random() < ON_DEMAND else None
        new = rng.random() < NEW_UNITS
        installed: date | None = date(year, rng.randint(1, 12), rng.randint(1, 28))
        registered = LEDGER_START + timedelta(minutes=rng.randint(0, 30 * 24 * 60))
        if new:
            installed = today - timedelta(days=rng.randint(1, 40))
            registered = min(self.now - timedelta(hours=1), datetime.combine(installed, time(10), BEIJING))
            installed = None if rng.random() < 0.2 else installed
            self.owed, quota = self.owed + quota, 0
            self.planted["new units, never maintained"] += 1
        elif self.owed:
            extra = min(self.owed, 5)
            self.owed, quota = self.owed - extra, quota + extra
        due = None if status == "scrapped" else today + timedelta(days=rng.randint(-20, 345))
        seq = self.next_seq()
        block["equipment"].append(
            (
                n + 1, code, "3000", "曳引驱动乘客电梯" if rng.random() < 0.9 else "自动扶梯", f"梯11浙A{n + 1:06d}",
                f"F{code[-8:]}", f"{100000 + n}" if n < 900_000 else None, f"杭州市{grid}小区{n % 40 + 1}幢",
                grid, owner, maintainer, (today + timedelta(days=rng.randint(30, 700))).isoformat(), status,
                installed.isoformat() if installed else None, due.isoformat() if due else None, on_demand, seq, seq,
            )
        )  # fmt: skip
        block["ledger_entries"].append(
            (seq, PLACEHOLDER_ENTRY, PLACEHOLDER_HASH, "equipment.registered", f"equipment:{code}", owner,
             self.stamp(registered))
        )  # fmt: skip
        if status == "in_use":
            self.in_use.append((n + 1, grid, maintainer, owner))
        if quota:
            self._records(block, n + 1, maintainer, on_demand or 15, quota)

    def _visit_days(self, interval: int, count: int) -> list[date]:
        """``count`` visit days, oldest first, every ``interval - 3`` to ``interval`` days, the
        last one on time, a few days late or weeks late."""
        rng = self.rng
        draw = rng.random()
        if draw < WEEKS_LATE:
            since = rng.randint(interval + 10, interval + 55)
            self.planted["units weeks late"] += 1
        elif draw < WEEKS_LATE + DAYS_LATE:
            since = rng.randint(interval + 1, interval + 7)
            self.planted["units days late"] += 1
        else:
            since = rng.randint(0, interval - 1)
        days = [self.today - timedelta(days=since)]
        for _ in range(count - 1):
            days.append(days[-1] - timedelta(days=rng.randint(interval - 3, interval)))
        return days[::-1]

    def _records(self, block: Block, unit: int, maintainer: str, interval: int, quota: int) -> None:
        """The unit's records: the tier each visit does is the highest whose clock would run out
        before the next visit; a neglected unit stops doing the higher tiers at some point."""
        rng = self.rng
        amended = [rng.random() < AMENDED for _ in range(quota)]
        visits = quota - sum(amended)
        days = self._visit_days(interval, visits)
        span = (days[-1] - days[0]).days
        clocks = {}  # each higher tier's last visit before the history, placed so it recurs within it
        for tier in HIGHER_TIERS:
            cycle = INTERVAL_DAYS[tier] - interval
            clocks[tier] = days[0] - timedelta(days=rng.randint(max(0, cycle - span), INTERVAL_DAYS[tier] - 1))
        neglected_from = None
        if rng.random() < NEGLECTED:
            neglected_from = self.today - timedelta(days=rng.randint(100, 420))
            self.planted["units without higher-tier visits"] += 1
        for index, day in enumerate(days):
            tier = "half_monthly"
            if neglected_from is None or day < neglected_from:
                for higher in HIGHER_TIERS:
                    if (day - clocks[higher]).days >= INTERVAL_DAYS[higher] - interval:
                        tier = higher
                        break
            for lower in TIERS[: TIERS.index(tier) + 1]:
                if lower in clocks:
                    clocks[lower] = day
            self._record(block, unit, maintainer, tier, day, amended[index])

    def _record(self, block: Block, unit: int, maintainer: str, tier: str, day: date, amend: bool) -> None:
        rng = self.rng
        minutes = {"half_monthly": (45, 90), "quarterly": (90, 150), "half_yearly": (120, 240), "yearly": (240, 420)}
        check_in = datetime.combine(day, time(8), BEIJING) + timedelta(minutes=rng.randint(0, 480))
        check_out = check_in + timedelta(minutes=rng.randint(*minutes[tier]))
        if check_out > self.now - timedelta(minutes=10):
            check_in, check_out = check_in - timedelta(days=1), check_out - timedelta(days=1)
        faults = 1 if rng.random() < 0.03 else 0
        seq = self.next_seq()
        if not amend:
            self._record_row(block, unit, maintainer, tier, check_in, check_out, faults, seq, None, None)
            return
        correction = self.next_seq()
        self._record_row(block, unit, maintainer, tier, check_in, check_out, faults, seq, None, correction)
        self._record_row(block, unit, maintainer, tier, check_in, check_out, faults, correction, seq, None)
        self.planted["records amended"] += 1

    def _record_row(self, block: Block, unit: int, maintainer: str, tier: str, check_in: datetime,
                    check_out: datetime, faults: int, seq: int, amends: int | None,
                    amended_by: int | None) -> None:  # fmt: skip
        rng = self.rng
        draw = rng.random()
        confirmed: datetime | None
        if draw < NEVER_CONFIRMED:
            confirmed = None
            self.planted["records never confirmed"] += 1
        elif draw < NEVER_CONFIRMED + CONFIRMED_LATE:
            confirmed = check_out + timedelta(hours=rng.uniform(25, 120))
        else:
            confirmed = check_out + timedelta(hours=rng.uniform(0.5, 8))
        if confirmed is not None and confirmed > self.now:
            confirmed = None
        self.record_id += 1
        block["maintenance_records"].append(
            (
                self.record_id, seq, unit, maintainer, tier, self.stamp(check_in), self.stamp(check_out), faults,
                amends, amended_by, self.next_seq() if confirmed else None,
                self.stamp(confirmed) if confirmed else None,
            )
        )  # fmt: skip

    def _hazards_and_incidents(self) -> Block:
        rng, today = self.rng, self.today
        block: Block = {"hazards": [], "incidents": []}
        for n in range(self.plant.hazards):
            unit, grid, maintainer, _ = rng.choice(self.in_use)
            major = rng.random() < 0.15
            closed = rng.random() < 0.6
            opened = today - timedelta(days=rng.randint(30, 300) if closed else rng.randint(1, 90))
            deadline = opened + timedelta(days=15 if major else 30)
            status = "closed" if closed else rng.choice(HAZARD_STATUSES)
            opened_seq = self.next_seq()
            updated = self.next_seq()
            self.planted["open hazards past deadline"] += not closed and deadline < today
            block["hazards"].append(
                (
                    n + 1, unit, grid, rng.choice(("maintenance", "inspection", "public_report", "inspector")), None,
                    "major" if major else "general", "red" if major else "yellow", "曳引钢丝绳磨损，需更换",
                    maintainer, deadline.isoformat(), status, False, 0, opened_seq, updated,
                    updated if closed else None,
                )
            )  # fmt: skip
        for n in range(self.plant.incidents):
            unit, _, _, _ = rng.choice(self.in_use)
            entrapment = rng.random() < 0.4
            reported = self.now - timedelta(minutes=rng.randint(60, 300 * 24 * 60))
            dispatched = reported + timedelta(minutes=rng.randint(1, 4))
            late = entrapment and rng.random() < LATE_ARRIVAL
            arrived = reported + timedelta(minutes=rng.randint(31, 90) if late else rng.randint(8, 29))
            released = arrived + timedelta(minutes=rng.randint(5, 40))
            self.planted["late arrivals at entrapments"] += late
            block["incidents"].append(
                (
                    n + 1, unit, "entrapment" if entrapment else "fault", rng.choice(("96333", "phone", "app")),
                    self.stamp(reported), self.next_seq(), rng.randint(1, 4) if entrapment else 0,
                    self.stamp(dispatched), self.stamp(arrived), self.stamp(released), "门锁回路故障", 30, late,
                    self.next_seq(),
                )
            )  # fmt: skip
        return block


# --- loading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Size:
    """The sizes loaded at one scale."""

    scale: float
    units: int
    records: int
    batches: int
    scans: int

    @property
    def shape(self) -> Shape:
        return Shape(self.batches, self.scans, fanout=max(2, round(math.sqrt(self.batches / 100))), hops=1)

    @property
    def plant(self) -> Plant:
        return Plant(self.units, self.records)

    def describe(self) -> str:
        return (
            f"{self.units:,} units, {self.records:,} records, {self.batches:,} batches, {self.scans:,} scans "
            f"(scale {self.scale:g})"
        )


def _blocks(cold: ColdChain, plant: Plant, seed: int, stamp: Callable[[datetime], str],
            planted: Counter[str]) -> Iterator[Block]:  # fmt: skip
    yield cold.roster()
    yield from cold.regular()
    elevators = Elevators(plant, seed + 1, stamp, cold.grids, NOW)
    yield from elevators.blocks()
    planted.update(cold.planted)
    planted.update(elevators.planted)


def load(target: Target, size: Size, seed: int) -> tuple[float, Counter[str]]:
    """Create, migrate and fill the database; the seconds it took and what was planted."""
    target.create()
    planted: Counter[str] = Counter()
    cold = ColdChain(size.shape, seed, target.stamp, NOW)
    started = perf_counter()
    target.load(_blocks(cold, size.plant, seed, target.stamp, planted))
    return perf_counter() - started, planted


def table_sizes(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: int(conn.execute(select(func.count()).select_from(Base.metadata.tables[table])).scalar_one())
            for table in COLUMNS
        }


# --- measuring ------------------------------------------------------------------------------------


@dataclass
class Timed:
    """One rule or baseline: seconds per run, findings, and memory (bytes)."""

    label: str
    seconds: list[float]
    findings: int | None = None
    python_peak: int = 0  # tracemalloc's peak during one call
    rss_peak: int = 0  # the largest growth of resident memory during a timed call
    colours: dict[str, int] = field(default_factory=dict)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def max_ms(self) -> float:
        return max(self.seconds) * 1000


def _status_bytes(key: str) -> int:
    """A line of /proc/self/status in bytes (``VmRSS``, ``VmHWM``); the rusage peak elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak_rss() -> int:
    """Set the kernel's resident high-water mark back to the current size; return that size."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status_bytes("VmRSS")


def rule_call(find: RuleFunction) -> Callable[[Session], list[Finding]]:
    return lambda session: find(session, TODAY, NOW, ZONE)


def time_call(engine: Engine, label: str, call: Callable[[Session], Any], runs: int, warmup: int,
              memory: bool) -> Timed:  # fmt: skip
    """``warmup`` then ``runs`` calls, each in its own read transaction.  With ``memory``: the
    growth of resident memory from before the first call to its peak over all of them (the
    kernel's high-water mark, reset first), and the tracemalloc peak of one more call."""
    gc.collect()
    before = _reset_peak_rss() if memory else 0
    for _ in range(warmup):
        with transaction(engine, readonly=True) as session:
            call(session)
    seconds, result = [], None
    for _ in range(runs):
        result = None
        started = perf_counter()
        with transaction(engine, readonly=True) as session:
            result = call(session)
        seconds.append(perf_counter() - started)
    timed = Timed(label, seconds)
    if isinstance(result, list):
        timed.findings = len(result)
        timed.colours = dict(Counter(getattr(finding, "colour", "?") for finding in result))
    if memory:
        timed.rss_peak = _status_bytes("VmHWM") - before
        result = None
        gc.collect()
        tracemalloc.start()
        with transaction(engine, readonly=True) as session:
            call(session)
        timed.python_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return timed


def _baseline_calls(engine: Engine) -> dict[str, Callable[[Session], Any]]:
    """A full count of maintenance_records and of scans, and a primary-key lookup of a batch."""
    with engine.connect() as conn:
        middle = conn.execute(select(func.max(Batch.id))).scalar_one() // 2 or 1
    count_records = select(func.count()).select_from(MaintenanceRecord)
    count_scans = select(func.count()).select_from(Scan)
    lookup = select(Batch.__table__).where(Batch.id == middle)
    return {
        "count(*) maintenance_records": lambda session: session.execute(count_records).one(),
        "count(*) scans": lambda session: session.execute(count_scans).one(),
        "PK lookup of one batch": lambda session: session.execute(lookup).one(),
    }


BASELINES = ("count(*) maintenance_records", "count(*) scans", "PK lookup of one batch")


def measure_child(url: str, labels: Sequence[str], runs: int, warmup: int) -> list[dict[str, Any]]:
    """Run in a fresh process, so that its memory is the rule's and not the loader's: the
    baselines, or one rule, after one ORM query has configured the mappers."""
    engine = make_engine(url)
    configure_mappers()
    with transaction(engine, readonly=True) as session:
        session.execute(select(Batch).limit(1)).all()
    calls = _baseline_calls(engine) if labels[0] in BASELINES else {}
    measured = []
    for label in labels:
        call = calls[label] if label in calls else rule_call(finder(label))
        measured.append(asdict(time_call(engine, label, call, runs, warmup, memory=label not in calls)))
    engine.dispose()
    return measured


def measure(url: str, names: Sequence[str], runs: int, warmup: int) -> tuple[list[Timed], list[Timed]]:
    """The baselines in one fresh process, then each rule in a fresh process of its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context, max_tasks_per_child=1) as pool:
        base = [Timed(**t) for t in pool.submit(measure_child, url, BASELINES, runs, warmup).result()]
        measured = []
        for name in names:
            timed = Timed(**pool.submit(measure_child, url, [name], runs, warmup).result()[0])
            print(
                f"     {name:<26} median {timed.median_ms:9.1f} ms, max {timed.max_ms:9.1f} ms, "
                f"{timed.findings or 0:>7,} findings, {timed.rss_peak / 2**20:6.1f} MiB resident",
                flush=True,
            )
            measured.append(timed)
    return base, measured


# --- plans ----------------------------------------------------------------------------------------


_PG_NODE = re.compile(
    r"(?:Parallel )?(Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan)(?: Backward)?(?: using (\w+))? on (\w+)"
    r".*?actual time=\S+ rows=(\d+) loops=(\d+)"
)
_PG_REMOVED = re.compile(r"Rows Removed by (?:Filter|Index Recheck): (\d+)")


def pg_reads(plan: Sequence[str]) -> dict[str, tuple[int, str]]:
    """Rows each table's scan nodes read (returned plus removed by their filter, times loops)."""
    reads: dict[str, int] = {}
    how: dict[str, set[str]] = {}
    current: tuple[str, int] | None = None
    for line in plan:
        node = _PG_NODE.search(line)
        if node:
            kind, index, table, rows, loops = node.groups()
            current = (table, int(loops))
            reads[table] = reads.get(table, 0) + int(rows) * int(loops)
            how.setdefault(table, set()).add(f"{kind} using {index}" if index else kind)
            continue
        removed = _PG_REMOVED.search(line)
        if removed and current:
            reads[current[0]] += int(removed.group(1)) * current[1]
        elif "->" in line:
            current = None
    return {table: (rows, ", ".join(sorted(how[table]))) for table, rows in reads.items()}


def partial_indexes(engine: Engine) -> set[str]:
    """The names of the database's partial indexes: reading one whole reads only its rows."""
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'index' AND instr(sql, ' WHERE ') > 0"
        if engine.dialect.name == "sqlite"
        else "SELECT indexname FROM pg_indexes WHERE strpos(indexdef, ' WHERE ') > 0"
    )
    with engine.connect() as conn:
        return set(conn.exec_driver_sql(query).scalars())


def verdict(dialect: str, plan: Sequence[str], sizes: dict[str, int], partial: set[str]) -> str:
    """Which large tables the statement reads whole (SQLite; a partial index read whole is only
    its own rows) or reads more than BIG rows of (PostgreSQL); "indexed" otherwise."""
    if dialect == "sqlite":
        whole = [line for line in plan if not any(f"INDEX {name}" in line for name in partial)]
        found = full_scans(whole, sizes)
        found += [f"builds a temporary index: {line.strip()}" for line in plan if "AUTOMATIC" in line]
        found += [f"reads partial index {name} whole" for name in sorted(partial)
                  for line in plan if re.search(rf"^\s*SCAN \w+ USING (COVERING )?INDEX {name}\b", line)]  # fmt: skip
        return "; ".join(found) or "indexed: no large table read whole"
    heavy = [
        f"{table} {rows:,} rows read ({how})"
        for table, (rows, how) in pg_reads(plan).items()
        if rows > BIG and sizes.get(table, 0) > BIG
    ]
    return "; ".join(heavy) or "indexed: no large table read past 100,000 rows"


def _shown(statement: str) -> str:
    """The statement on one line, each run of four or more columns of one table as ``table.<n columns>``."""
    flat = " ".join(statement.split())
    return _COLUMN_RUN.sub(lambda m: f"{m.group(1)}.<{m.group(0).count(',') + 1} columns>", flat)


_COLUMN_RUN = re.compile(r"\b(\w+)\.\w+(?:, \1\.\w+){3,}")


def _first_table(statement: str) -> str:
    match = re.search(r"\bFROM (\w+)", " ".join(statement.split()))
    return match.group(1) if match else "?"


def report_plans(engine: Engine, measured: list[Timed], sizes: dict[str, int], top: int) -> list[dict[str, Any]]:
    """Explain every statement every rule sends (each shape once); print in full the plans of the
    ``top`` slowest rules and of every rule that missed the goal, and a verdict for every statement."""
    capture = Capture(engine)
    partial = partial_indexes(engine)
    slowest = {t.label for t in sorted(measured, key=lambda t: t.median_ms, reverse=True)[:top]}
    slowest |= {t.label for t in measured if t.max_ms >= GOAL_SECONDS * 1000}
    verdicts = []
    for timed in measured:
        seen: set[str] = set()
        statements = capture.run(engine, rule_call(finder(timed.label)))
        for number, (statement, parameters) in enumerate(statements, 1):
            shape = re.sub(r"\s+", " ", re.sub(r"\b\d+\b|\?|%\(\w+\)s", "N", statement))
            if shape in seen:
                continue
            seen.add(shape)
            started = perf_counter()
            plan = explain(engine, statement, parameters)
            seconds = perf_counter() - started
            said = verdict(engine.dialect.name, plan, sizes, partial)
            name = f"{timed.label} #{number} (FROM {_first_table(statement)})"
            verdicts.append({"rule": timed.label, "statement": name, "verdict": said, "explain_ms": seconds * 1000})
            if timed.label in slowest:
                print(f"\n  -- {name}: {said}")
                print("     " + _shown(statement))
                for line in plan:
                    print(f"       {line}")
    return verdicts


# --- proposals ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexProposal:
    """An index for ``ledger/db/tables.py``: the rules it is for and its ``Index(...)`` line for
    the table's ``__table_args__``; built here on a copy of the table, never on the app's metadata."""

    rules: tuple[str, ...]
    table: str
    name: str
    columns: tuple[str, ...]
    sqlite_where: str | None = None
    postgresql_where: str | None = None

    @property
    def line(self) -> str:
        parts = [f'"{self.name}"', *(f'"{column}"' for column in self.columns)]
        if self.sqlite_where:
            parts.append(f'sqlite_where=text("{self.sqlite_where}")')
        if self.postgresql_where:
            parts.append(f'postgresql_where=text("{self.postgresql_where}")')
        return f"Index({', '.join(parts)})"

    def build(self, metadata: MetaData) -> Index:
        table = metadata.tables.get(self.table)
        if table is None:
            table = Base.metadata.tables[self.table].to_metadata(metadata)
        where: dict[str, Any] = {}
        if self.sqlite_where:
            where["sqlite_where"] = text(self.sqlite_where)
        if self.postgresql_where:
            where["postgresql_where"] = text(self.postgresql_where)
        return Index(self.name, *(table.c[column] for column in self.columns), **where)


MAINTENANCE_RULES = {
    "maintenance_half_monthly": "half_monthly",
    "maintenance_quarterly": "quarterly",
    "maintenance_half_yearly": "half_yearly",
    "maintenance_yearly": "yearly",
}
VARIANT_OF = {f"{rule} (proposed query)": rule for rule in MAINTENANCE_RULES}
IN_TRANSIT = "action = 'ship' AND matched_scan_id IS NULL"
UNCONFIRMED = "confirmed_seq IS NULL AND amended_by_seq IS NULL"
PROPOSED = (
    IndexProposal(("shipment_unreceived",), "scans", "ix_scans_in_transit", ("event_time",), IN_TRANSIT, IN_TRANSIT),
    IndexProposal(
        ("custody_gap",), "scans", "ix_scans_custody_gaps", ("event_time",),
        "uncoded IS 1 OR unexpected IS 1", "uncoded IS true OR unexpected IS true",
    ),
    IndexProposal(("silent",), "scans", "ix_scans_code_org_time", ("gtin", "lot", "org_id", "event_time")),
    IndexProposal(
        ("silent", "expired_held"), "holdings", "ix_holdings_in_stock", ("org_id", "gtin", "lot"),
        "quantity > 0", "quantity > 0",
    ),
    IndexProposal(
        ("maintenance_unconfirmed",), "maintenance_records", "ix_maintenance_records_unconfirmed", ("check_out",),
        UNCONFIRMED, UNCONFIRMED,
    ),
    IndexProposal(
        ("excursion", "reading_gap"), "temperature_readings", "ix_temperature_readings_at_batch",
        ("at", "batch_id", "celsius"),
    ),
    IndexProposal(
        tuple(VARIANT_OF), "maintenance_records", "ix_maintenance_records_valid_visits",
        ("equipment_id", "tier", "check_out"), "amended_by_seq IS NULL", "amended_by_seq IS NULL",
    ),
)  # fmt: skip


def create_proposed(engine: Engine) -> None:
    scratch = MetaData()
    with engine.begin() as conn:
        for proposal in PROPOSED:
            # Proposals the migrations have since adopted exist already.
            conn.execute(CreateIndex(proposal.build(scratch), if_not_exists=True))
        if engine.dialect.name == "postgresql":
            for table in sorted({proposal.table for proposal in PROPOSED}):
                conn.execute(text(f"ANALYZE {table}"))


def maintenance_proposed(rule: str, tier: str) -> RuleFunction:
    """``ledger.rules.equipment``'s maintenance rule with its query changed: ONE query for all
    units instead of one per on-demand interval; a unit is kept when it has NO valid visit of the
    tier or higher since the cutoff (``NOT EXISTS``, a few index seeks per unit with
    ``ix_maintenance_records_valid_visits``) instead of comparing a ``GROUP BY`` over every
    record; its last visit is read (correlated ``max``) only for the units kept.  SQL uses the
    cutoff of the shortest interval (15 days); each unit's own interval then decides, in Python,
    exactly as the rule does."""

    def find(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
        tiers = TIERS[TIERS.index(tier) :]
        lead = DUE_SOON_DAYS - 1 if tier == "half_monthly" else -1
        flag_from = today + timedelta(days=lead)
        shortest = min(intervals(days)[tier] for days in (None, ON_DEMAND_RANGE[0]))
        cutoff = day_start(flag_from - timedelta(days=shortest - 1), zone)
        valid = (
            MaintenanceRecord.equipment_id == Equipment.id,
            MaintenanceRecord.tier.in_(tiers),
            MaintenanceRecord.amended_by_seq.is_(None),
        )
        recent = exists().where(*valid, MaintenanceRecord.check_out >= cutoff)
        last = select(func.max(MaintenanceRecord.check_out)).where(*valid).correlate(Equipment).scalar_subquery()
        query = (
            select(Equipment, last.label("last"), LedgerEntry.recorded_at)
            .join(LedgerEntry, LedgerEntry.seq == Equipment.created_seq)
            .where(Equipment.category == "3000", Equipment.status == "in_use", ~recent)
        )
        findings = []
        for unit, last_out, registered in session.execute(query):
            interval = intervals(unit.on_demand_max_days)[tier]
            day = flag_from - timedelta(days=interval - 1)
            if last_out is not None:
                if last_out >= day_start(day, zone):
                    continue
            elif not (unit.installed_on < day if unit.installed_on else registered < day_start(day, zone)):
                continue
            base = local_date(last_out, zone) if last_out else unit.installed_on or local_date(registered, zone)
            due = base + timedelta(days=interval)
            overdue = (today - due).days
            colour = alerts.half_monthly_colour(overdue) if tier == "half_monthly" else alerts.tier_colour(overdue)
            label = f"{unit.code} {TIER_NAMES[tier]}维保{'将到期' if overdue <= 0 else f'超期 {overdue} 天'}"
            findings.append(rule_equipment._unit_finding(rule, unit, due, colour, overdue, label))
        return findings

    return find


VARIANTS: dict[str, tuple[str, RuleFunction]] = {
    label: (rule, maintenance_proposed(rule, MAINTENANCE_RULES[rule])) for label, rule in VARIANT_OF.items()
}


def finder(label: str) -> RuleFunction:
    """The function timed under ``label``: a rule of ``RULES`` or a proposed variant."""
    return RULES[label].find if label in RULES else VARIANTS[label][1]


def same_findings(engine: Engine, label: str) -> bool:
    """Whether a variant finds exactly what its rule finds (untimed)."""
    rule, variant = VARIANTS[label]
    with transaction(engine, readonly=True) as session:
        expected = sorted(RULES[rule].find(session, TODAY, NOW, ZONE), key=lambda f: f.key)
    with transaction(engine, readonly=True) as session:
        found = sorted(variant(session, TODAY, NOW, ZONE), key=lambda f: f.key)
    return expected == found


# --- running --------------------------------------------------------------------------------------


def run_size(target: Target, size: Size, args: argparse.Namespace, last: bool) -> dict[str, Any]:
    print(f"\n== {target.name}: loading {size.describe()}", flush=True)
    load_seconds, planted = load(target, size, args.seed)
    engine = make_engine(target.url)
    sizes = table_sizes(engine)
    print(f"   loaded in {load_seconds:.0f} s: " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()))
    print("   planted: " + ", ".join(f"{what} {n:,}" for what, n in sorted(planted.items())), flush=True)
    version = target.version(engine)
    print(f"\n   {version}; now = {NOW.isoformat()} ({TODAY} in {ZONE}); {args.runs} runs after {args.warmup} warm-up")
    base, measured = measure(target.url, list(RULES), args.runs, args.warmup)
    print_table(base, measured)
    result: dict[str, Any] = {
        "size": size.__dict__,
        "version": version,
        "load_seconds": round(load_seconds, 1),
        "rows": sizes,
        "planted": dict(planted),
        "baselines": {b.label: {"median_ms": round(b.median_ms, 3), "max_ms": round(b.max_ms, 3)} for b in base},
        "rules": {m.label: _as_json(m) for m in measured},
    }
    if last:
        print(f"\n   PLANS (every statement of every rule; in full for the {args.top} slowest rules)")
        result["plans"] = report_plans(engine, measured, sizes, args.top)
        print("\n   verdict per statement:")
        for v in result["plans"]:
            print(f"     {v['statement']:<58} {v['verdict']}")
        if args.proposed and PROPOSED:
            result["proposed"] = run_proposed(engine, base, measured, sizes, args)
    engine.dispose()
    return result


def run_proposed(engine: Engine, base: list[Timed], before: list[Timed], sizes: dict[str, int],
                 args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    """Create the proposed indexes in this scratch database, time the rules they are for and the
    proposed query variants, and explain them again."""
    print("\n   WITH THE PROPOSED INDEXES (in this scratch database only):")
    for proposal in PROPOSED:
        print(f"     {proposal.table}: {proposal.line}")
    started = perf_counter()
    create_proposed(engine)
    print(f"   created in {perf_counter() - started:.1f} s", flush=True)
    names = [name for name in RULES if any(name in p.rules for p in PROPOSED)] + list(VARIANTS)
    _, after = measure(engine.url.render_as_string(hide_password=False), names, args.runs, args.warmup)
    previous = {t.label: t for t in before} | {label: by for label, (rule, _) in VARIANTS.items()
                                                for by in before if by.label == rule}  # fmt: skip
    print_table(base, after, previous)
    same = {label: same_findings(engine, label) for label in VARIANTS}
    for label, equal in same.items():
        print(f"   {label}: {'the same findings as the rule' if equal else 'DIFFERENT findings from the rule'}")
    verdicts = report_plans(engine, after, sizes, top=len(after))
    print("\n   verdict per statement, with the proposed indexes and queries:")
    for v in verdicts:
        print(f"     {v['statement']:<70} {v['verdict']}")
    return {
        "indexes": [p.line for p in PROPOSED],
        "rules": {m.label: _as_json(m) for m in after},
        "same_findings": same,
        "plans": verdicts,
    }


def _as_json(timed: Timed) -> dict[str, Any]:
    return {
        "median_ms": round(timed.median_ms, 2),
        "max_ms": round(timed.max_ms, 2),
        "findings": timed.findings,
        "python_peak_mib": round(timed.python_peak / 2**20, 2),
        "rss_peak_mib": round(timed.rss_peak / 2**20, 2),
        "colours": timed.colours,
    }


def print_table(base: list[Timed], measured: list[Timed], before: dict[str, Timed] | None = None) -> None:
    count_mr, count_scans, pk = base
    print(f"\n   {'baseline':<34} {'median ms':>10} {'max ms':>10}")
    for b in base:
        print(f"   {b.label:<34} {b.median_ms:10.2f} {b.max_ms:10.2f}")
    head = f"{'rule':<26} {'median ms':>10} {'max ms':>10} {'x cnt(mr)':>9} {'x cnt(sc)':>9} {'x PK':>9}"
    head += f" {'findings':>9} {'py MiB':>8} {'rss MiB':>8} {'< 1 s':>6}" + (" median before" if before else "")
    print(f"\n   {head}")
    for m in measured:
        line = (
            f"{m.label:<26} {m.median_ms:10.1f} {m.max_ms:10.1f} {m.median_ms / count_mr.median_ms:9.2f} "
            f"{m.median_ms / count_scans.median_ms:9.2f} {m.median_ms / pk.median_ms:9.0f} {m.findings or 0:9,} "
            f"{m.python_peak / 2**20:8.1f} {m.rss_peak / 2**20:8.1f} {_meets(m):>6}"
        )
        if before and m.label in before:
            line += f" {before[m.label].median_ms:10.1f}"
        print(f"   {line}")
    print(
        "   x cnt(mr), x cnt(sc), x PK: the median over the median of a full count of maintenance_records, of scans,"
        " and of a primary-key lookup; py MiB: tracemalloc peak of one call; rss MiB: peak resident growth"
        " during a timed call; < 1 s: the slowest run under the goal"
    )


def _meets(timed: Timed) -> str:
    return "yes" if timed.max_ms < GOAL_SECONDS * 1000 else "NO"


def _memory_verdict(small: dict[str, Any], large: dict[str, Any]) -> str:
    """How a rule's tracemalloc peak grew from the small size to the large one."""
    before, after = small["python_peak_mib"], large["python_peak_mib"]
    if after <= 1.5 * before + 0.1:
        return "flat"
    if small["findings"] and large["findings"]:
        per_small, per_large = before / small["findings"], after / large["findings"]
        if per_large <= 1.5 * per_small:
            return "∝ findings"
    return "∝ rows read"


def compare_sizes(name: str, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Findings and memory of every rule at the smallest and the largest size."""
    small, large = results[0], results[-1]
    factor = large["size"]["scale"] / small["size"]["scale"]
    print(f"\n== {name}: scale {small['size']['scale']:g} → {large['size']['scale']:g} (data × {factor:g})")
    print(f"   {'rule':<26} {'findings':>19} {'py peak MiB':>17} {'KiB/finding':>15} {'median ms':>19} {'memory':>10}")
    rows = []
    for rule in large["rules"]:
        a, b = small["rules"][rule], large["rules"][rule]
        per = [f"{r['python_peak_mib'] * 1024 / r['findings']:.1f}" if r["findings"] else "-" for r in (a, b)]
        grows = _memory_verdict(a, b)
        print(
            f"   {rule:<26} {a['findings']:>8,} → {b['findings']:>8,} {a['python_peak_mib']:7.1f} → "
            f"{b['python_peak_mib']:7.1f} {per[0]:>6} / {per[1]:>6} {a['median_ms']:8.1f} → {b['median_ms']:8.1f} "
            f"{grows:>10}"
        )
        rows.append({"rule": rule, "findings": [a["findings"], b["findings"]],
                     "python_peak_mib": [a["python_peak_mib"], b["python_peak_mib"]], "memory": grows})  # fmt: skip
    print(
        "   memory: 'flat' when the peak grew less than 1.5 times; '∝ findings' when it grew with the findings"
        " (KiB per finding within 1.5 times); else '∝ rows read': it grew faster than the findings"
    )
    return rows


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0], epilog="See bench/README.md.")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres", default=DEFAULT_PG_URL, help="a PostgreSQL URL allowed to CREATE DATABASE")
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--batches", type=int, default=1_000_000)
    parser.add_argument("--scans", type=int, default=5_000_000)
    parser.add_argument("--scales", default="0.1,1", help="comma-separated fractions of the sizes, smallest first")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--top", type=int, default=5, help="print the full plans of this many slowest rules")
    parser.add_argument("--proposed", action="store_true", help="then time again with the proposed indexes")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the databases of the largest size")
    parser.add_argument("--out-dir", type=Path, default=BENCH_DIR / "out", help="SQLite file and jobs-last.json")
    args = parser.parse_args(argv)
    args.scale_list = sorted(float(s) for s in args.scales.split(","))
    if args.units < 100 or args.batches < 1000 or args.records < args.units or args.scans < args.batches:
        parser.error("needs --units >= 100, --batches >= 1000, --records >= --units and --scans >= --batches")
    if any(not 0 < s <= 1 for s in args.scale_list):
        parser.error("--scales are fractions in (0, 1]")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    names = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    summary: dict[str, Any] = {
        "bench": "jobs",
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "postgres"},
        "now": NOW.isoformat(),
        "env": {
            "python": platform.python_version(),
            "sqlalchemy": sqlalchemy.__version__,
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
            "loadavg_at_start": os.getloadavg(),
        },
        "results": {},
        "memory": {},
    }
    for name in names:
        target: Target = (
            SqliteTarget(args.out_dir / "jobs.sqlite", COLUMNS)
            if name == "sqlite"
            else PostgresTarget(args.postgres, PG_DATABASE, COLUMNS)
        )
        results = []
        try:
            for index, scale in enumerate(args.scale_list):
                size = Size(
                    scale,
                    max(100, round(args.units * scale)),
                    max(100, round(args.records * scale)),
                    max(1000, round(args.batches * scale)),
                    max(1000, round(args.scans * scale)),
                )
                last = index == len(args.scale_list) - 1
                results.append(run_size(target, size, args, last))
                if not (last and args.keep):
                    target.drop()
        except BaseException:
            if not args.keep:
                target.drop()
            raise
        summary["results"][name] = results
        if len(results) > 1:
            summary["memory"][name] = compare_sizes(name, results)
    summary["env"]["loadavg_at_end"] = os.getloadavg()
    line = json.dumps(summary, ensure_ascii=False, separators=(",", ":"), default=str)
    (args.out_dir / "jobs-last.json").write_text(line + "\n", encoding="utf-8")
    print("JSON " + line)


if __name__ == "__main__":
    main()
