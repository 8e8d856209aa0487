"""Recall lists in the shape of the FDA FSMA 204 electronic sortable spreadsheet: one row per
critical tracking event with its key data elements (traceability lot code, product description,
quantity and unit, where it happened, the immediate previous source and subsequent recipient,
the date, and a reference document), so a recall list can be handed over within hours.

The reference document of every row is its ledger entry: anyone can fetch its inclusion proof.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ledger.exports import xlsx_table

COLUMNS = [
    "Traceability Lot Code",
    "Product Description",
    "Quantity",
    "Unit of Measure",
    "Critical Tracking Event",
    "Event Date",
    "Event Time",
    "Location Description",
    "Immediate Previous Source Location",
    "Immediate Subsequent Recipient Location",
    "Traceability Lot Code Source",
    "Input Traceability Lot Codes",
    "Reference Document Type",
    "Reference Document Number",
    "Holder Contact",
]
EVENT_NAMES = {
    "registered": "Initial Packing",
    "transformed": "Transformation",
    "ship": "Shipping",
    "receive": "Receiving",
    "store": "Storing",
    "sell": "Sale",
    "dispose": "Disposal",
}
REFERENCE_TYPE = "Anlian ledger entry (seq)"


@dataclass(frozen=True)
class TrackingEvent:
    """One critical tracking event, already resolved to names."""

    event: str  # a key of EVENT_NAMES
    lot_code: str
    product: str
    quantity: float
    unit: str
    time: datetime  # aware, in the event's own offset
    location: str
    previous_source: str = ""
    subsequent_recipient: str = ""
    lot_code_source: str = ""
    inputs: str = ""
    seq: int = 0
    contact: str = ""


def lot_code(gtin: str, lot: str) -> str:
    """The traceability lot code as GS1 prints it under a barcode: ``(01)…(10)…``."""
    return f"(01){gtin}(10){lot}"


def local_time(moment: datetime, offset: str) -> datetime:
    """``moment`` shown in the ``±HH:MM`` offset the event was recorded with."""
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    return moment.astimezone(timezone(sign * timedelta(hours=hours, minutes=minutes)))


def rows(events: Iterable[TrackingEvent]) -> list[dict[str, str]]:
    """Spreadsheet rows, sorted by time then ledger order (the spreadsheet stays sortable)."""
    ordered = sorted(events, key=lambda e: (e.time, e.seq))
    return [
        {
            "Traceability Lot Code": e.lot_code,
            "Product Description": e.product,
            "Quantity": f"{e.quantity:g}",
            "Unit of Measure": e.unit,
            "Critical Tracking Event": EVENT_NAMES[e.event],
            "Event Date": e.time.date().isoformat(),
            "Event Time": e.time.isoformat(timespec="seconds"),
            "Location Description": e.location,
            "Immediate Previous Source Location": e.previous_source,
            "Immediate Subsequent Recipient Location": e.subsequent_recipient,
            "Traceability Lot Code Source": e.lot_code_source,
            "Input Traceability Lot Codes": e.inputs,
            "Reference Document Type": REFERENCE_TYPE,
            "Reference Document Number": str(e.seq),
            "Holder Contact": e.contact,
        }
        for e in ordered
    ]


def to_xlsx(table: Sequence[dict[str, str]], title: str) -> bytes:
    """The same rows as an Excel workbook, quantities as numbers so the sheet sorts them."""
    return xlsx_table(
        COLUMNS, ([float(row[c]) if c == "Quantity" else row[c] for c in COLUMNS] for row in table), title
    )
