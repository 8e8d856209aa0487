"""Trace back and trace forward (来源可查、去向可追): the batches a batch came from or went into,
found by a recursive query over the lineage edges on the database (SQLite and PostgreSQL
alike), and every custody event of those batches, each with its ledger ``seq``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, func, literal, select
from sqlalchemy.orm import Session, aliased

from ledger.db.tables import Batch, BatchInput, Organisation, Product, Scan, Site

MAX_DEPTH = 64  # a lineage deeper than this is a data error, not a supply chain
DIRECTIONS = ("back", "forward")


@dataclass(frozen=True)
class TracedBatch:
    batch_id: int
    gtin: str
    lot: str
    product_name: str
    producer_org_id: str
    producer_name: str
    depth: int
    created_seq: int
    unit: str
    quantity: float
    production_date: str
    expiry_date: str | None
    site_id: int


@dataclass(frozen=True)
class Edge:
    output_batch_id: int
    input_batch_id: int
    quantity: float
    unit: str
    seq: int
    event_time: datetime
    org_id: str


@dataclass(frozen=True)
class CustodyEvent:
    scan_id: int
    seq: int
    batch_id: int
    action: str
    org_id: str
    org_name: str
    counterparty_org_id: str | None
    counterparty_name: str | None
    quantity: float
    unit: str
    event_time: datetime
    utc_offset: str
    site_name: str | None
    site_address: str | None
    site_grid: str | None
    unexpected: bool


@dataclass(frozen=True)
class Trace:
    direction: str
    start: int
    batches: list[TracedBatch]
    edges: list[Edge]
    events: list[CustodyEvent]

    def holders(self) -> list[str]:
        """Every organisation that held any traced batch: the producers, then receivers in time order."""
        seen: dict[str, None] = {}
        for batch in self.batches:
            seen.setdefault(batch.producer_org_id)
        for event in self.events:
            if event.action == "receive":
                seen.setdefault(event.org_id)
        return list(seen)


def lineage_query(start: int, direction: str, max_depth: int = MAX_DEPTH) -> Select[Any]:
    """``(batch_id, depth)`` of every batch reachable from ``start`` (depth 0), by a recursive CTE.

    Forward follows input → output (what it went into); back follows output → input (what it
    was made from).  UNION keeps a batch reached along several paths to one row per depth,
    and the outer query keeps its shortest distance.
    """
    src, dst = (
        (BatchInput.input_batch_id, BatchInput.output_batch_id)
        if direction == "forward"
        else (BatchInput.output_batch_id, BatchInput.input_batch_id)
    )
    anchor = select(Batch.id.label("batch_id"), literal(0, Integer).label("depth")).where(Batch.id == start)
    lineage = anchor.cte("lineage", recursive=True)
    step = select(dst.label("batch_id"), (lineage.c.depth + 1).label("depth")).where(
        src == lineage.c.batch_id, lineage.c.depth < max_depth
    )
    lineage = lineage.union(step)
    return select(lineage.c.batch_id, func.min(lineage.c.depth).label("depth")).group_by(lineage.c.batch_id)


def _batches(session: Session, reach: Any) -> list[TracedBatch]:
    producer = aliased(Organisation)
    rows = session.execute(
        select(Batch, reach.c.depth, Product.name_zh, producer.name)
        .join(reach, reach.c.batch_id == Batch.id)
        .join(Product, Product.gtin == Batch.gtin)
        .join(producer, producer.id == Batch.producer_org_id)
        .order_by(reach.c.depth, Batch.id)
    )
    return [
        TracedBatch(
            batch.id,
            batch.gtin,
            batch.lot,
            name,
            batch.producer_org_id,
            producer_name,
            depth,
            batch.created_seq,
            batch.unit,
            batch.quantity,
            batch.production_date.isoformat(),
            batch.expiry_date.isoformat() if batch.expiry_date else None,
            batch.site_id,
        )
        for batch, depth, name, producer_name in rows
    ]


def _edges(session: Session, reached: Any) -> list[Edge]:
    """The lineage edges between the batches reached (a subquery of ids: a pallet split into
    tens of thousands of batches must not become a bound parameter list)."""
    query = select(BatchInput).where(BatchInput.output_batch_id.in_(reached), BatchInput.input_batch_id.in_(reached))
    return [
        Edge(e.output_batch_id, e.input_batch_id, e.quantity, e.unit, e.seq, e.event_time, e.org_id)
        for e in session.scalars(query.order_by(BatchInput.seq))
    ]


def custody_events(session: Session, batch_ids: Any) -> list[CustodyEvent]:
    """Every scan of the given batches (a list or a subquery of ids), oldest first.  Plain
    columns, not ORM entities: a recall reaching ten thousand holders reads twenty thousand
    scans, and building an entity for each would cost several times the query."""
    holder, other = aliased(Organisation), aliased(Organisation)
    query = (
        select(
            Scan.id,
            Scan.seq,
            func.coalesce(Scan.batch_id, 0),
            Scan.action,
            Scan.org_id,
            holder.name,
            Scan.counterparty_org_id,
            other.name,
            Scan.quantity,
            Scan.unit,
            Scan.event_time,
            Scan.utc_offset,
            Site.name,
            Site.address,
            Site.grid_code,
            Scan.unexpected,
        )  # fmt: skip
        .join(holder, holder.id == Scan.org_id)
        .outerjoin(other, other.id == Scan.counterparty_org_id)
        .outerjoin(Site, Site.id == Scan.site_id)
        .where(Scan.batch_id.in_(batch_ids))
        .order_by(Scan.event_time, Scan.seq)
    )
    rows: list[Any] = list(session.execute(query))
    return [CustodyEvent(*row) for row in rows]


def trace(session: Session, batch_id: int, direction: str) -> Trace:
    """The whole lineage of one batch in one direction, with every custody event on it."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}")
    reach = lineage_query(batch_id, direction).subquery()
    reached = select(reach.c.batch_id)
    batches = _batches(session, reach)
    return Trace(direction, batch_id, batches, _edges(session, reached), custody_events(session, reached))
