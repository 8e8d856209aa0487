"""Registering products and coded batches: each one ledger entry plus its row, in one transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import Batch, Holding, Product, Site
from ledger.domain.food import CANONICAL_HOST, BatchSpec, ProductSpec
from ledger.domain.gs1 import digital_link
from ledger.errors import InvalidEntry, NotFound
from ledger.services.orgs import AlreadyExists


def product_subject(gtin: str) -> str:
    return f"{CANONICAL_HOST}/01/{gtin}"


def batch_subject(gtin: str, lot: str) -> str:
    """The batch's GS1 Digital Link on GS1's canonical host: the same subject whichever host
    prints the QR codes, so a deployment can move without its history changing names."""
    return digital_link(CANONICAL_HOST, gtin, lot)


def get_product(session: Session, gtin: str) -> Product:
    product = session.get(Product, gtin)
    if product is None:
        raise NotFound(f"there is no product with GTIN {gtin}")
    return product


def get_batch(session: Session, gtin: str, lot: str) -> Batch:
    batch = session.scalars(select(Batch).where(Batch.gtin == gtin, Batch.lot == lot)).first()
    if batch is None:
        raise NotFound(f"there is no batch {lot} of GTIN {gtin}")
    return batch


def register_product(
    session: Session, spec: ProductSpec, producer: str, actor: dict[str, str], client_event_id: str | None = None
) -> Product:
    """A ``product.registered`` entry and its row.  A retry with the same client_event_id returns
    the product; another registration of a known GTIN is refused (and its append rolled back)."""
    event = store.NewEvent(
        "product.registered", product_subject(spec.gtin), actor, spec.payload(producer), client_event_id
    )
    (appended,) = store.append(session, [event])
    if appended.replayed:
        return get_product(session, spec.gtin)
    if session.get(Product, spec.gtin) is not None:
        raise AlreadyExists(f"GTIN {spec.gtin} is already registered")
    product = Product(producer_org_id=producer, created_seq=appended.seq, **spec.__dict__)
    session.add(product)
    session.flush()
    return product


def batch_payload(session: Session, spec: BatchSpec, producer: str) -> dict[str, Any]:
    """The entry's payload, checked against the store: the product and the producer's own site."""
    product = get_product(session, spec.gtin)
    if product.producer_org_id != producer:
        raise InvalidEntry(f"GTIN {spec.gtin} belongs to another producer")
    site = session.get(Site, spec.site_id)
    if site is None or site.org_id != producer:
        raise InvalidEntry(f"site {spec.site_id} is not one of your registered sites")
    return spec.payload(producer, site.grid_code)


def register_batch(
    session: Session,
    spec: BatchSpec,
    payload: dict[str, Any],
    actor: dict[str, str],
    client_event_id: str | None = None,
) -> Batch:
    """Code a batch (赋码): a ``batch.registered`` entry and its row."""
    subject = batch_subject(spec.gtin, spec.lot)
    (appended,) = store.append(session, [store.NewEvent("batch.registered", subject, actor, payload, client_event_id)])
    if appended.replayed:
        return get_batch(session, spec.gtin, spec.lot)
    if session.scalars(select(Batch.id).where(Batch.gtin == spec.gtin, Batch.lot == spec.lot)).first():
        raise AlreadyExists(f"batch {spec.lot} of GTIN {spec.gtin} is already registered")
    batch = Batch(
        gtin=spec.gtin,
        lot=spec.lot,
        producer_org_id=payload["producer_org_id"],
        site_id=spec.site_id,
        grid_code=payload["grid_code"],
        origin=spec.origin,
        production_date=spec.production_date,
        expiry_date=spec.expiry_date,
        quantity=spec.quantity,
        unit=spec.unit,
        documents=spec.documents,
        created_seq=appended.seq,
    )
    session.add(batch)
    # The producer holds the whole batch until its first shipment.
    session.add(
        Holding(gtin=spec.gtin, lot=spec.lot, org_id=batch.producer_org_id, quantity=spec.quantity,
                unit=spec.unit, updated_seq=appended.seq)
    )
    session.flush()
    return batch
