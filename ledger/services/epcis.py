"""EPCIS 2.0 capture and query on the store: a captured document is recorded through the same
scan and transformation services as the JSON API (one transaction, all or nothing), and a query
reads the matching entries, found through the scan and lineage rows' indexes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from ledger.db.tables import Batch, BatchInput, LedgerEntry, Scan
from ledger.domain.access import Principal
from ledger.domain.canonical import decode_entry
from ledger.domain.epcis import ACTION_OF_BIZ_STEP, TRANSFORMATION_BIZ_STEP, cbv_word, parse_epc
from ledger.domain.epcis_capture import CapturedEvent
from ledger.domain.scans import scan_spec
from ledger.domain.transformation import transformation_spec
from ledger.errors import InvalidEntry, list_item
from ledger.services import food, transformations
from ledger.services.scans import ScanRequest, record_scans

EVENT_LIST = "eventList"


@dataclass(frozen=True)
class Captured:
    seqs: list[int]
    replayed: bool


def record_captured(
    session: Session, org: str, actor: dict[str, str], events: Sequence[CapturedEvent], now: datetime
) -> Captured:
    """Record the commands of a captured document in document order.  Consecutive scans go
    through one ``record_scans`` call (checked in order against the stock they move); errors
    name the event's index in ``eventList``."""
    seqs: list[int] = []
    replayed = True
    pending: list[tuple[int, ScanRequest]] = []

    def flush_scans() -> None:
        nonlocal replayed
        if pending:
            recorded = record_scans(session, org, [r for _, r in pending], EVENT_LIST, [i for i, _ in pending])
            seqs.extend(r.seq for r in recorded)
            replayed = replayed and all(r.replayed for r in recorded)
            pending.clear()

    for event in events:
        with list_item(EVENT_LIST, event.index):
            if event.kind == "scan":
                pending.append((event.index, ScanRequest(scan_spec(event.command, now), actor)))
                continue
            flush_scans()
            spec = transformation_spec(event.command, now)
            done = transformations.record_transformation(session, spec, org, actor, actor)
        seqs.append(done.seq)
        replayed = replayed and done.replayed
    flush_scans()
    return Captured(seqs, replayed)


@dataclass(frozen=True)
class EventQuery:
    epc: str | None = None
    biz_step: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int = -1
    limit: int = 100


def _action(biz_step: str | None) -> str | None:
    """The scan action of a bizStep, "transformation" for commissioning (how transformations
    export), or None for no filter; an unknown step is a clear error, not an empty page."""
    if biz_step is None:
        return None
    word = cbv_word(biz_step, "BizStep")
    if word == TRANSFORMATION_BIZ_STEP:
        return "transformation"
    if word not in ACTION_OF_BIZ_STEP:
        raise InvalidEntry(f"EQ_bizStep {biz_step!r} is not a business step we record")
    return ACTION_OF_BIZ_STEP[word]


def candidate_seqs(session: Session, query: EventQuery, principal: Principal, today: Any) -> list[int]:
    """Seqs of scan and transformation entries that may match, in ledger order, from the
    indexed rows (the exact EPCIS matching is done on the entries themselves)."""
    action = _action(query.biz_step)
    batch = parse_epc(query.epc, "MATCH_epc", today)[:2] if query.epc else None
    everyone = principal.has_any(("admin", "inspector"))
    scans = select(Scan.seq.label("seq")).where(Scan.seq > query.after_seq)
    made = select(BatchInput.seq.label("seq")).join(Batch, Batch.id == BatchInput.output_batch_id)
    made = made.where(BatchInput.seq > query.after_seq)
    if batch is not None:
        gtin, lot = batch
        scans = scans.where(Scan.gtin == gtin, *([Scan.lot == lot] if lot else []))
        made = made.where(Batch.gtin == gtin, *([Batch.lot == lot] if lot else []))
    if query.since is not None:
        scans, made = scans.where(Scan.event_time >= query.since), made.where(BatchInput.event_time >= query.since)
    if query.until is not None:
        scans, made = scans.where(Scan.event_time < query.until), made.where(BatchInput.event_time < query.until)
    if not everyone:
        scans, made = scans.where(Scan.org_id == principal.org_id), made.where(BatchInput.org_id == principal.org_id)
    parts = []
    if action != "transformation":
        parts.append(scans.where(Scan.action == action) if action else scans)
    if action in (None, "transformation"):
        parts.append(made.distinct())
    combined = union(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    rows = session.scalars(select(combined.c.seq).order_by(combined.c.seq).limit(query.limit))
    return list(rows)


def entries_for(session: Session, seqs: list[int]) -> list[dict[str, Any]]:
    """The decoded entries, plus the ``batch.registered`` entry of each transformation's
    output (its ILMD: origin and expiry), in ledger order."""
    if not seqs:
        return []
    rows = {row.seq: row for row in session.scalars(select(LedgerEntry).where(LedgerEntry.seq.in_(seqs)))}
    decoded = [decode_entry(rows[seq].entry).as_object() for seq in seqs if seq in rows]
    outputs = {(e["payload"]["output"]["gtin"], e["payload"]["output"]["lot"]) for e in decoded
               if e["kind"] == "transformation.recorded"}  # fmt: skip
    extra = []
    for gtin, lot in outputs:
        batch = food.get_batch(session, gtin, lot)
        row = session.get(LedgerEntry, batch.created_seq)
        if row is not None:
            extra.append(decode_entry(row.entry).as_object())
    return sorted(decoded + extra, key=lambda e: int(e["seq"]))
