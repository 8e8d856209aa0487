"""Recording a transformation: the inputs leave the processor's stock, the output batch is
coded (its own ``batch.registered`` entry and QR code), and a ``transformation.recorded`` entry
names every input; one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import Batch, BatchInput, Holding
from ledger.domain.custody import Custody, CustodyViolation, Stock
from ledger.domain.transformation import InputSpec, TransformationSpec
from ledger.errors import list_item
from ledger.services import food


@dataclass(frozen=True)
class RecordedTransformation:
    seq: int
    output: Batch
    replayed: bool


def output_event_id(client_event_id: str) -> str:
    """The output's ``batch.registered`` entry has its own retry key, derived from the event's."""
    return f"{client_event_id}#output"


def record_transformation(
    session: Session,
    spec: TransformationSpec,
    org: str,
    actor: dict[str, str],
    output_actor: dict[str, str],
    output_payload: dict[str, Any] | None = None,
) -> RecordedTransformation:
    store.lock(session)
    previous = store.previous_appends(session, {(org, spec.client_event_id)})
    if previous:
        (appended,) = store.append(session, [_event(spec, actor)])  # raises if the content differs
        return RecordedTransformation(appended.seq, food.get_batch(session, spec.output.gtin, spec.output.lot), True)
    inputs = _consume_inputs(session, spec, org)
    payload = output_payload or food.batch_payload(session, spec.output, org)
    output = food.register_batch(session, spec.output, payload, output_actor, output_event_id(spec.client_event_id))
    (appended,) = store.append(session, [_event(spec, actor)])
    session.add_all(
        BatchInput(
            output_batch_id=output.id,
            input_batch_id=batch.id,
            quantity=item.quantity,
            unit=item.unit,
            seq=appended.seq,
            event_time=spec.event_time,
            org_id=org,
        )
        for item, batch, _ in inputs
    )
    for _, _, holding in inputs:
        holding.updated_seq = appended.seq
    session.flush()
    return RecordedTransformation(appended.seq, output, False)


def _event(spec: TransformationSpec, actor: dict[str, str]) -> store.NewEvent:
    subject = food.batch_subject(spec.output.gtin, spec.output.lot)
    return store.NewEvent("transformation.recorded", subject, actor, spec.payload(), spec.client_event_id)


def _consume_inputs(session: Session, spec: TransformationSpec, org: str) -> list[tuple[InputSpec, Batch, Holding]]:
    """Every input must be a registered batch the processor holds enough of; take it out of stock."""
    custody = Custody()
    consumed: list[tuple[InputSpec, Batch, Holding]] = []
    for index, item in enumerate(spec.inputs):
        with list_item("inputs", index):
            batch = food.get_batch(session, item.gtin, item.lot)
            holding = session.scalars(
                select(Holding).where(Holding.gtin == item.gtin, Holding.lot == item.lot, Holding.org_id == org)
            ).first()
            if holding is None:
                raise CustodyViolation(f"you do not hold batch {item.lot} of GTIN {item.gtin}, so you cannot use it")
            custody.stock[(item.gtin, item.lot, org)] = Stock(holding.quantity, holding.unit)
            custody.take((item.gtin, item.lot), org, item.quantity, item.unit, "use")
            holding.quantity = custody.stock[(item.gtin, item.lot, org)].quantity
            consumed.append((item, batch, holding))
    return consumed
