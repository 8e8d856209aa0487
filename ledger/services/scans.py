"""Recording cold-chain scans: one entry per scan and the rows that keep custody, all in the
caller's transaction, all or nothing.

The append lock is taken first, so that the custody state read here cannot change before the
entries land: two carriers cannot both ship the last ten cartons.  Scans already recorded
under their ``client_event_id`` are answered from the ledger and skip the custody check, so a
retried list never records twice and never fails on stock it already moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import Batch, Holding, Organisation, Product, Scan, Site, TemperatureReading
from ledger.domain.canonical import decode_entry, parse_recorded_at
from ledger.domain.custody import EPSILON, BatchKey, Custody, Outcome, Shipment, Stock
from ledger.domain.scans import ScanSpec
from ledger.errors import InvalidEntry, NotFound, list_item
from ledger.services.food import batch_subject


@dataclass(frozen=True)
class ScanRequest:
    spec: ScanSpec
    actor: dict[str, str]


@dataclass(frozen=True)
class RecordedScan:
    seq: int
    spec: ScanSpec
    replayed: bool
    unexpected: bool = False
    uncoded: bool = False


def _pairs_filter(columns: Any, keys: Iterable[BatchKey]) -> Any:
    """``gtin IN (...) AND lot IN (...)``: answered from the (gtin, lot) indexes on both
    databases; it may match a few extra pairs, which callers drop."""
    wanted = set(keys)
    gtin, lot = columns
    return gtin.in_({g for g, _ in wanted}) & lot.in_({lt for _, lt in wanted})


@dataclass
class _State:
    custody: Custody
    holdings: dict[tuple[str, str, str], Holding]
    shipment_rows: dict[int, Scan]
    batches: dict[BatchKey, int]


def _load_state(session: Session, org: str, keys: set[BatchKey]) -> _State:
    """The organisation's stock of these batches, the open shipments of them to it, and which
    of them are registered batches."""
    custody = Custody()
    holdings: dict[tuple[str, str, str], Holding] = {}
    shipment_rows: dict[int, Scan] = {}
    batches: dict[BatchKey, int] = {}
    if not keys:
        return _State(custody, holdings, shipment_rows, batches)
    for holding in session.scalars(
        select(Holding).where(Holding.org_id == org, _pairs_filter((Holding.gtin, Holding.lot), keys))
    ):
        if (holding.gtin, holding.lot) in keys:
            holdings[(holding.gtin, holding.lot, org)] = holding
            custody.stock[(holding.gtin, holding.lot, org)] = Stock(holding.quantity, holding.unit)
    open_shipments = (
        select(Scan)
        .where(
            Scan.action == "ship",
            Scan.counterparty_org_id == org,
            Scan.matched_scan_id.is_(None),
            _pairs_filter((Scan.gtin, Scan.lot), keys),
        )
        .order_by(Scan.event_time, Scan.id)
    )
    for row in session.scalars(open_shipments):
        if (row.gtin, row.lot) in keys:
            shipment_rows[row.id] = row
            custody.shipments.append(Shipment(row.id, row.gtin, row.lot, row.org_id, org, row.quantity, row.unit))
    found = session.execute(select(Batch.gtin, Batch.lot, Batch.id).where(_pairs_filter((Batch.gtin, Batch.lot), keys)))
    batches = {(gtin, lot): batch_id for gtin, lot, batch_id in found if (gtin, lot) in keys}
    return _State(custody, holdings, shipment_rows, batches)


def _check_references(session: Session, org: str, specs: Sequence[tuple[int, ScanSpec]], name: str | None) -> None:
    """Sites must be the scanner's own (or, for ``to_site_id``, the receiver's), and the
    organisations named must exist: a typo must not send goods to nobody."""
    site_ids = {s.site_id for _, s in specs if s.site_id} | {s.to_site_id for _, s in specs if s.to_site_id}
    org_ids = {s.to_org_id for _, s in specs if s.to_org_id} | {s.from_org_id for _, s in specs if s.from_org_id}
    site_owner = {
        site: owner for site, owner in session.execute(select(Site.id, Site.org_id).where(Site.id.in_(site_ids)))
    }
    known = set(session.scalars(select(Organisation.id).where(Organisation.id.in_(org_ids)))) if org_ids else set()
    for index, spec in specs:
        with list_item(name, index):
            if spec.site_id is not None and site_owner.get(spec.site_id) != org:
                raise InvalidEntry(f"site {spec.site_id} is not one of your registered sites")
            for other in (spec.to_org_id, spec.from_org_id):
                if other is not None and other not in known:
                    raise NotFound(f"there is no organisation {other}")
            if spec.to_site_id is not None and site_owner.get(spec.to_site_id) != spec.to_org_id:
                raise InvalidEntry(f"site {spec.to_site_id} is not a site of {spec.to_org_id}")


def _scan_row(spec: ScanSpec, org: str, seq: int, outcome: Outcome, batch_id: int | None, recorded: Any) -> Scan:
    offset = spec.event_time.strftime("%z")
    return Scan(
        seq=seq,
        action=spec.action,
        gtin=spec.gtin,
        lot=spec.lot,
        batch_id=batch_id,
        org_id=org,
        site_id=spec.site_id,
        gln=spec.gln,
        counterparty_org_id=outcome.counterparty,
        to_site_id=spec.to_site_id,
        quantity=spec.quantity,
        unit=spec.unit,
        event_time=spec.event_time,
        utc_offset=f"{offset[:3]}:{offset[3:]}",
        recorded_at=recorded,
        unexpected=outcome.unexpected,
        uncoded=batch_id is None,
    )


def record_scans(
    session: Session,
    org: str,
    requests: Sequence[ScanRequest],
    name: str | None = "scans",
    positions: Sequence[int] | None = None,
) -> list[RecordedScan]:
    """Record the scans of ``org`` in order, all or nothing; errors name the item (``name[i]``,
    where ``i`` is the scan's place in the request, or ``positions[i]`` when the scans came as
    part of a larger list, such as the events of an EPCIS document)."""
    store.lock(session)
    keys = {(org, r.spec.client_event_id) for r in requests}
    previous = store.previous_appends(session, keys)
    fresh = [(i, r.spec) for i, r in enumerate(requests) if (org, r.spec.client_event_id) not in previous]
    place = list(positions) if positions is not None else list(range(len(requests)))
    _check_references(session, org, [(place[i], spec) for i, spec in fresh], name)
    state = _load_state(session, org, {(s.gtin, s.lot) for _, s in fresh})
    outcomes: dict[int, Outcome] = {}
    for index, spec in fresh:
        with list_item(name, place[index]):
            outcomes[index] = state.custody.apply(spec, org)
    events = [
        store.NewEvent(
            r.spec.kind, batch_subject(r.spec.gtin, r.spec.lot), r.actor, r.spec.payload(), r.spec.client_event_id
        )
        for r in requests
    ]
    appended = store.append(session, events)
    rows: dict[int, Scan] = {}
    for index, result in enumerate(appended):
        if result.replayed or index not in outcomes:
            continue
        spec = requests[index].spec
        batch_id = state.batches.get((spec.gtin, spec.lot))
        rows[index] = _scan_row(
            spec, org, result.seq, outcomes[index], batch_id, parse_recorded_at(decode_entry(result.entry).recorded_at)
        )
    session.add_all(rows.values())
    session.flush()  # assigns the scan ids the readings and matched shipments point to
    _link_shipments(state, outcomes, rows)
    _save_readings(session, requests, rows)
    _save_holdings(session, state, org, appended)
    results = []
    for index, result in enumerate(appended):
        row = rows.get(index)
        unexpected = bool(row and row.unexpected)
        results.append(
            RecordedScan(result.seq, requests[index].spec, result.replayed, unexpected, bool(row and row.uncoded))
        )
    return results


def _link_shipments(state: _State, outcomes: dict[int, Outcome], rows: dict[int, Scan]) -> None:
    for index, outcome in outcomes.items():
        if outcome.matched is not None and outcome.matched.ref is not None:
            shipment = state.shipment_rows[outcome.matched.ref]
            shipment.matched_scan_id = rows[index].id
            rows[index].matched_scan_id = shipment.id


def _save_readings(session: Session, requests: Sequence[ScanRequest], rows: dict[int, Scan]) -> None:
    readings = [
        {
            "scan_id": row.id,
            "batch_id": row.batch_id,
            "at": datetime.fromisoformat(reading["time"]),
            "celsius": reading["celsius"],
        }
        for index, row in rows.items()
        for reading in requests[index].spec.readings
    ]
    if readings:
        session.connection().execute(insert(TemperatureReading), readings)


def _save_holdings(session: Session, state: _State, org: str, appended: Sequence[store.Appended]) -> None:
    last_seq = max(a.seq for a in appended)
    for key, stock in state.custody.stock.items():
        row = state.holdings.get(key)
        if row is None:
            session.add(
                Holding(
                    gtin=key[0],
                    lot=key[1],
                    org_id=key[2],
                    quantity=stock.quantity,
                    unit=stock.unit,
                    updated_seq=last_seq,
                )
            )
        elif row.quantity != stock.quantity:
            row.quantity = stock.quantity
            row.updated_seq = last_seq


def stock_of(session: Session, org: str) -> list[dict[str, Any]]:
    """What an organisation holds now, soonest expiry first (uncoded goods last)."""
    query = (
        select(Holding, Product.name_zh, Batch.id, Batch.expiry_date)
        .outerjoin(Product, Product.gtin == Holding.gtin)
        .outerjoin(Batch, (Batch.gtin == Holding.gtin) & (Batch.lot == Holding.lot))
        .where(Holding.org_id == org, Holding.quantity > EPSILON)
        .order_by(Batch.expiry_date.is_(None), Batch.expiry_date, Holding.gtin, Holding.lot)
    )
    return [
        {
            "gtin": holding.gtin,
            "lot": holding.lot,
            "product": name,
            "quantity": holding.quantity,
            "unit": holding.unit,
            "expiry_date": expiry.isoformat() if expiry else None,
            "coded": batch_id is not None,
            "updated_seq": holding.updated_seq,
        }
        for holding, name, batch_id, expiry in session.execute(query)
    ]


def open_shipments(session: Session, org: str, incoming: bool) -> list[dict[str, Any]]:
    """Shipments not yet received: to ``org`` (incoming) or from it (outgoing), oldest first."""
    party = Scan.counterparty_org_id if incoming else Scan.org_id
    query = (
        select(Scan, Organisation.name)
        .join(Organisation, Organisation.id == (Scan.org_id if incoming else Scan.counterparty_org_id))
        .where(Scan.action == "ship", party == org, Scan.matched_scan_id.is_(None))
        .order_by(Scan.event_time, Scan.seq)
    )
    return [
        {
            "seq": scan.seq,
            "gtin": scan.gtin,
            "lot": scan.lot,
            "quantity": scan.quantity,
            "unit": scan.unit,
            "shipped_at": scan.event_time.isoformat(),
            "from_org_id" if incoming else "to_org_id": scan.org_id if incoming else scan.counterparty_org_id,
            "from" if incoming else "to": name,
        }
        for scan, name in session.execute(query)
    ]
