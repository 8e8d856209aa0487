"""What the public may see of a batch: origin, journey, temperatures, recall status, and the
ledger ``seq`` of every fact so that a phone can check it against a signed checkpoint.

Never prices, people, phone numbers or exact private addresses: holders appear by business
name and city only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ledger.db.tables import Batch, Grid, LedgerEntry, Organisation, Product, TemperatureReading
from ledger.domain.clock import DEFAULT_ZONE
from ledger.domain.coldchain import Band, excursions
from ledger.domain.fsma import local_time
from ledger.services.lineage import custody_events, lineage_query
from ledger.services.recalls import recalls_of

# Grid nodes are named after their bureau (杭州市市场监督管理局); the public page wants the place.
BUREAU_SUFFIXES = ("市场监督管理局", "市场监管局")


def place_name(bureau: str) -> str:
    for suffix in BUREAU_SUFFIXES:
        if bureau.endswith(suffix) and len(bureau) > len(suffix):
            return bureau[: -len(suffix)]
    return bureau


def city_names(session: Session, grid_codes: set[str]) -> dict[str, str]:
    """For each grid code, the place name of the city-level node above it (or its top node)."""
    if not grid_codes:
        return {}
    # The nodes and all their ancestors in one recursive query (a page lists several holders).
    start = select(Grid.code, Grid.parent_code, Grid.level, Grid.name).where(Grid.code.in_(grid_codes))
    up = start.cte("up", recursive=True)
    parent = aliased(Grid)
    up = up.union(
        select(parent.code, parent.parent_code, parent.level, parent.name).join(up, parent.code == up.c.parent_code)
    )
    nodes = {row.code: row for row in session.execute(select(up))}
    names = {}
    for code in grid_codes:
        node = nodes.get(code)
        while node is not None and node.level != "city" and node.parent_code in nodes:
            node = nodes[node.parent_code]
        if node is not None:
            names[code] = place_name(node.name)
    return names


def _readings_by_scan(session: Session, batch_id: int) -> dict[int, list[tuple[Any, float]]]:
    query = select(TemperatureReading.scan_id, TemperatureReading.at, TemperatureReading.celsius).where(
        TemperatureReading.batch_id == batch_id
    )
    grouped: dict[int, list[tuple[Any, float]]] = {}
    for scan_id, at, celsius in session.execute(query.order_by(TemperatureReading.at)):
        grouped.setdefault(scan_id, []).append((at, celsius))
    return grouped


def _journey(session: Session, batch: Batch) -> tuple[list[dict[str, Any]], list[tuple[Any, float]]]:
    events = custody_events(session, [batch.id])
    cities = city_names(session, {e.site_grid for e in events if e.site_grid})
    readings = _readings_by_scan(session, batch.id)
    journey, all_readings = [], []
    for event in events:
        mine = readings.get(event.scan_id, [])
        all_readings.extend(mine)
        journey.append(
            {
                "seq": event.seq,
                "action": event.action,
                "time": local_time(event.event_time, event.utc_offset).isoformat(),
                "holder": event.org_name,
                "city": cities.get(event.site_grid or ""),
                "counterparty": event.counterparty_name,
                "quantity": event.quantity,
                "unit": event.unit,
                "temperatures": [
                    {"time": local_time(at, event.utc_offset).isoformat(), "celsius": c} for at, c in mine
                ],
            }
        )
    return journey, all_readings


def _made_from(session: Session, batch: Batch) -> list[dict[str, Any]]:
    reach = lineage_query(batch.id, "back").subquery()
    rows = session.execute(
        select(Batch.id, Batch.gtin, Batch.lot, Product.name_zh, reach.c.depth)
        .join(reach, reach.c.batch_id == Batch.id)
        .join(Product, Product.gtin == Batch.gtin)
        .order_by(reach.c.depth, Batch.id)
    ).all()
    return [
        {"gtin": gtin, "lot": lot, "product": name, "depth": depth} for _, gtin, lot, name, depth in rows if depth > 0
    ]


def _local(excursion: dict[str, Any], zone: str) -> dict[str, Any]:
    """Excursion times in the region's zone, like the journey beside them."""
    for key in ("from", "to"):
        excursion[key] = datetime.fromisoformat(excursion[key]).astimezone(ZoneInfo(zone)).isoformat()
    return excursion


def public_batch(session: Session, batch: Batch, zone: str = DEFAULT_ZONE) -> dict[str, Any]:
    product = session.get(Product, batch.gtin)
    producer = session.get(Organisation, batch.producer_org_id)
    if product is None or producer is None:
        raise LookupError("a batch without its product or producer")  # foreign keys forbid it
    journey, readings = _journey(session, batch)
    gap = timedelta(minutes=product.max_reading_gap_minutes) if product.max_reading_gap_minutes else None
    band = Band(product.temp_min_c, product.temp_max_c, gap)
    made_from = _made_from(session, batch)
    recalls = recalls_of(session, select(lineage_query(batch.id, "back").subquery().c.batch_id))
    registered_at = session.scalars(select(LedgerEntry.recorded_at).where(LedgerEntry.seq == batch.created_seq)).one()
    return {
        "gtin": batch.gtin,
        "lot": batch.lot,
        "product": {
            "name_zh": product.name_zh,
            "name_en": product.name_en,
            "brand": product.brand,
            "category": product.category,
            "storage_class": product.storage_class,
            "temp_min_c": product.temp_min_c,
            "temp_max_c": product.temp_max_c,
            "origin_country": product.origin_country,
        },
        "producer": {"name": producer.name},
        "origin": batch.origin,
        "production_date": batch.production_date.isoformat(),
        "expiry_date": batch.expiry_date.isoformat() if batch.expiry_date else None,
        "quantity": batch.quantity,
        "unit": batch.unit,
        "documents": sorted({d["type"] for d in batch.documents}),
        "registered": {"seq": batch.created_seq, "recorded_at": registered_at.isoformat()},
        "made_from": made_from,
        "journey": journey,
        "excursions": [_local(e.as_dict(), zone) for e in excursions(readings, band)],
        "recall": _recall_status(recalls, batch.id),
        "seqs": sorted({batch.created_seq, *(step["seq"] for step in journey)}),
    }


def _recall_status(recalls: list[Any], batch_id: int) -> dict[str, Any] | None:
    if not recalls:
        return None
    first = recalls[0]
    return {
        "status": "recalled",
        "reason": first.reason,
        "opened_at": first.opened_at.isoformat(),
        "seq": first.opened_seq,
        "of_an_input": first.batch_id != batch_id,
    }
