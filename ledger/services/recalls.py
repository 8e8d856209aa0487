"""Recalls (召回): from one batch, every downstream batch and every past and present holder with
quantities, contacts and dates, in one trace-forward query; and the ``recall.opened`` entry
that makes the recall itself part of the tamper-evident record."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import Batch, Holding, Organisation, Recall, Scan, Site
from ledger.domain import fsma
from ledger.domain.orgs import validate_text
from ledger.services.food import batch_subject
from ledger.services.lineage import CustodyEvent, Trace, TracedBatch, lineage_query, trace
from ledger.services.orgs import AlreadyExists


def open_recall(
    session: Session, batch: Batch, reason: Any, actor: dict[str, str], client_event_id: str | None = None
) -> Recall:
    text = validate_text(reason, "reason", 2000)
    payload = {"gtin": batch.gtin, "lot": batch.lot, "reason": text}
    event = store.NewEvent("recall.opened", batch_subject(batch.gtin, batch.lot), actor, payload, client_event_id)
    (appended,) = store.append(session, [event])
    if appended.replayed:
        found = session.scalars(select(Recall).where(Recall.opened_seq == appended.seq)).first()
        if found is not None:
            return found
    earlier = session.scalars(select(Recall.opened_seq).where(Recall.batch_id == batch.id)).first()
    if earlier is not None:
        raise AlreadyExists(f"batch {batch.lot} is already under recall (entry {earlier})")
    recall = Recall(
        batch_id=batch.id, reason=text, opened_by=actor["org"], opened_at=datetime.now(UTC), opened_seq=appended.seq
    )
    session.add(recall)
    session.flush()
    return recall


def recalls_of(session: Session, batch_ids: Any) -> list[Recall]:
    """Open recalls on any of these batches (ids, or a subquery of them): a recall of an input
    reaches every output."""
    return list(session.scalars(select(Recall).where(Recall.batch_id.in_(batch_ids)).order_by(Recall.opened_seq)))


@dataclass
class Holder:
    org_id: str
    name: str
    contact: dict[str, str]
    lots: list[str] = field(default_factory=list)
    received: float = 0.0
    holds_now: float = 0.0
    unit: str = ""
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    def saw(self, moment: datetime) -> None:
        self.first_seen = moment if self.first_seen is None else min(self.first_seen, moment)
        self.last_seen = moment if self.last_seen is None else max(self.last_seen, moment)

    def as_dict(self) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "name": self.name,
            "contact": self.contact,
            "lots": self.lots,
            "received": self.received,
            "holds_now": self.holds_now,
            "unit": self.unit,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
        }


@dataclass(frozen=True)
class RecallView:
    trace: Trace
    holders: list[Holder]
    recalls: list[Recall]
    fsma_rows: list[dict[str, str]]


def _holders(session: Session, traced: Trace, reached: Any) -> list[Holder]:
    """Every holder with contact, lots, quantities received and held now.  The organisations
    and holdings are selected through the trace's subquery of batch ids, never as a list of
    bound parameters (a recall can reach tens of thousands of holders)."""
    involved = select(Batch.producer_org_id).where(Batch.id.in_(reached)).union(
        select(Scan.org_id).where(Scan.batch_id.in_(reached), Scan.action == "receive")
    )
    rows = session.execute(
        select(Organisation.id, Organisation.name, Organisation.contact).where(Organisation.id.in_(involved))
    )
    orgs = {org_id: (name, contact) for org_id, name, contact in rows}
    holders = {oid: Holder(oid, orgs[oid][0], orgs[oid][1] or {}) for oid in traced.holders()}
    by_id = {b.batch_id: b for b in traced.batches}
    for batch in traced.batches:
        producer = holders[batch.producer_org_id]
        producer.lots.append(batch.lot)
        producer.unit = producer.unit or batch.unit
    for event in traced.events:
        holder = holders.get(event.org_id)
        if holder is None:
            continue
        holder.saw(event.event_time)
        lot = by_id[event.batch_id].lot
        if event.action == "receive":
            holder.received += event.quantity
            holder.unit = holder.unit or event.unit
            if lot not in holder.lots:
                holder.lots.append(lot)
    stock = (
        select(Holding.org_id, Holding.quantity)
        .join(Batch, (Batch.gtin == Holding.gtin) & (Batch.lot == Holding.lot))
        .where(Batch.id.in_(reached), Holding.quantity > 0)
    )
    for org_id, quantity in session.execute(stock):
        if org_id in holders:
            holders[org_id].holds_now += quantity
    return list(holders.values())


def _place(org_name: str, site: Site | None) -> str:
    return f"{org_name}, {site.name}, {site.address}" if site else org_name


def tracking_events(session: Session, traced: Trace, holders: list[Holder]) -> list[fsma.TrackingEvent]:
    """The FSMA 204 critical tracking events of a trace: packing, transformation, shipping,
    receiving (and storing, sale, disposal, which a recall also needs)."""
    names = {h.org_id: h.name for h in holders}
    contacts = {h.org_id: " ".join(v for v in (h.contact.get("person"), h.contact.get("phone")) if v) for h in holders}
    batches = {b.batch_id: b for b in traced.batches}
    site_ids = {b.site_id for b in traced.batches}
    sites = {s.id: s for s in session.scalars(select(Site).where(Site.id.in_(site_ids)))}
    inputs_of: dict[int, list[str]] = {}
    for edge in traced.edges:
        source = batches[edge.input_batch_id]
        inputs_of.setdefault(edge.output_batch_id, []).append(fsma.lot_code(source.gtin, source.lot))
    events = [_packing(b, names, contacts, sites.get(b.site_id), inputs_of) for b in traced.batches]
    events += [_custody(e, batches[e.batch_id], names, contacts) for e in traced.events]
    return events


def _packing(
    batch: TracedBatch,
    names: dict[str, str],
    contacts: dict[str, str],
    site: Site | None,
    inputs_of: dict[int, list[str]],
) -> fsma.TrackingEvent:
    place = _place(names.get(batch.producer_org_id, batch.producer_name), site)
    inputs = inputs_of.get(batch.batch_id, [])
    return fsma.TrackingEvent(
        event="transformed" if inputs else "registered",
        lot_code=fsma.lot_code(batch.gtin, batch.lot),
        product=batch.product_name,
        quantity=batch.quantity,
        unit=batch.unit,
        time=datetime.fromisoformat(batch.production_date).replace(tzinfo=UTC),
        location=place,
        lot_code_source=place,
        inputs="; ".join(inputs),
        seq=batch.created_seq,
        contact=contacts.get(batch.producer_org_id, ""),
    )


def _custody(
    event: CustodyEvent, batch: TracedBatch, names: dict[str, str], contacts: dict[str, str]
) -> fsma.TrackingEvent:
    here = f"{event.org_name}, {event.site_name}, {event.site_address}" if event.site_name else event.org_name
    other = event.counterparty_name or ""
    return fsma.TrackingEvent(
        event=event.action,
        lot_code=fsma.lot_code(batch.gtin, batch.lot),
        product=batch.product_name,
        quantity=event.quantity,
        unit=event.unit,
        time=fsma.local_time(event.event_time, event.utc_offset),
        location=here,
        previous_source=other if event.action == "receive" else "",
        subsequent_recipient=other if event.action == "ship" else "",
        lot_code_source=batch.producer_name,
        seq=event.seq,
        contact=contacts.get(event.org_id, ""),
    )


def recall_view(session: Session, batch: Batch) -> RecallView:
    traced = trace(session, batch.id, "forward")
    holders = _holders(session, traced, select(lineage_query(batch.id, "forward").subquery().c.batch_id))
    rows = fsma.rows(tracking_events(session, traced, holders))
    return RecallView(traced, holders, recalls_of(session, [batch.id]), rows)
