"""Transformations: input batches consumed, one new coded batch made (splitting a pallet,
cutting, repacking, cooking in a central kitchen).  The output's lineage names every input, so
a recall of any input reaches it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.domain.food import BatchSpec, batch_spec
from ledger.domain.gs1 import normalize_gtin, parse_scan, validate_lot
from ledger.domain.orgs import validate_text
from ledger.domain.scans import client_event_id, format_time, parse_time
from ledger.errors import InvalidEntry, list_item

MAX_INPUTS = 100
FIELDS = {"client_event_id", "event_time", "inputs", "output", "device", "epcis_event_id", "signature"}


@dataclass(frozen=True)
class InputSpec:
    gtin: str
    lot: str
    quantity: float
    unit: str

    def payload(self) -> dict[str, Any]:
        return {"gtin": self.gtin, "lot": self.lot, "quantity": self.quantity, "unit": self.unit}


@dataclass(frozen=True)
class TransformationSpec:
    client_event_id: str
    event_time: datetime
    inputs: list[InputSpec]
    output: BatchSpec
    device: str | None
    epcis_event_id: str | None

    def payload(self) -> dict[str, Any]:
        """The ``transformation.recorded`` entry: what went in and what came out."""
        return {
            "event_time": format_time(self.event_time),
            "inputs": [i.payload() for i in self.inputs],
            "output": {
                "gtin": self.output.gtin,
                "lot": self.output.lot,
                "quantity": self.output.quantity,
                "unit": self.output.unit,
            },
            "site_id": self.output.site_id,
            "device": self.device,
            "epcis_event_id": self.epcis_event_id,
        }


def _input(value: Any, now: datetime) -> InputSpec:
    if not isinstance(value, dict) or set(value) - {"code", "gtin", "lot", "quantity", "unit"}:
        raise InvalidEntry("an input is an object with code (or gtin and lot), quantity and unit")
    if value.get("code") is not None:
        scanned = parse_scan(str(value["code"]), now.date())
        if scanned.lot is None:
            raise InvalidEntry(f"code {value['code']!r} names no lot (AI 10)")
        gtin, lot = scanned.gtin14, scanned.lot
    else:
        gtin, lot = normalize_gtin(str(value.get("gtin", ""))), validate_lot(str(value.get("lot", "")))
    quantity = value.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int | float) or not 0 < quantity <= 1e9:
        raise InvalidEntry("quantity must be positive")
    return InputSpec(gtin, lot, float(quantity), validate_text(value.get("unit"), "unit", 20))


def transformation_spec(body: dict[str, Any], now: datetime) -> TransformationSpec:
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidEntry(f"unknown field(s): {', '.join(unknown)}")
    raw = body.get("inputs")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_INPUTS:
        raise InvalidEntry(f"inputs must be a list of 1 to {MAX_INPUTS} batches")
    inputs = []
    for index, value in enumerate(raw):
        with list_item("inputs", index):
            inputs.append(_input(value, now))
    if len({(i.gtin, i.lot) for i in inputs}) != len(inputs):
        raise InvalidEntry("each input batch may appear once; add up its quantities")
    if not isinstance(body.get("output"), dict):
        raise InvalidEntry("output must be the new batch: gtin, lot, site_id, origin, dates, quantity, unit")
    try:
        output = batch_spec(body["output"])
    except InvalidEntry as exc:
        raise InvalidEntry(f"output: {exc}") from exc
    if (output.gtin, output.lot) in {(i.gtin, i.lot) for i in inputs}:
        raise InvalidEntry("the output must be a new batch, not one of the inputs")
    device = body.get("device")
    epcis_id = body.get("epcis_event_id")
    return TransformationSpec(
        client_event_id=client_event_id(body.get("client_event_id")),
        event_time=parse_time(body.get("event_time"), "event_time", now),
        inputs=inputs,
        output=output,
        device=None if device in (None, "") else validate_text(device, "device", 100),
        epcis_event_id=None if epcis_id in (None, "") else validate_text(epcis_id, "epcis_event_id", 500),
    )
