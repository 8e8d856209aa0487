"""Cold-chain rules: shipments never received, batches coded but never scanned, custody gaps,
silent holders, temperature excursions and expired goods still held.

Like the equipment rules, each is a set-based query returning only what is flagged; limits are
turned into UTC instants and dates first so the comparisons use the indexes.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from ledger.db.tables import (
    Batch,
    Holding,
    LedgerEntry,
    Organisation,
    Product,
    Scan,
    Site,
    TemperatureReading,
    UTCDateTime,
)
from ledger.domain import alerts
from ledger.domain.alerts import Finding
from ledger.domain.clock import local_date
from ledger.domain.food import CANONICAL_HOST
from ledger.domain.gs1 import digital_link

COLD = ("frozen", "chilled")
ROUTE_LIMIT = {"cold": timedelta(hours=24), "other": timedelta(hours=48)}
NEVER_SCANNED_AFTER = timedelta(days=7)  # 未扫码: coded a week ago and no scan since
SILENT_AFTER = timedelta(days=3)  # a carrier or cold store that has not scanned what it holds
EXCURSION_WINDOW = timedelta(days=30)  # readings older than this have had their alert already
NON_FINAL_ROLES = ("carrier", "cold_store")


def _link(gtin: str, lot: str) -> str:
    return digital_link(CANONICAL_HOST, gtin, lot)


def _org_grids(session: Session) -> dict[str, str]:
    """Each organisation's first site's grid: where an inspector finds it."""
    return {
        org: grid for org, grid in session.execute(select(Site.org_id, func.min(Site.grid_code)).group_by(Site.org_id))
    }


def shipment_unreceived(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
    """Shipped but not received within the route's limit (24 h chilled and frozen, 48 h
    otherwise): orange, red past twice the limit."""
    findings = []
    grids = _org_grids(session)
    for family, limit in ROUTE_LIMIT.items():
        cold = Product.storage_class.in_(COLD)
        kind = cold if family == "cold" else or_(~cold, Product.storage_class.is_(None))
        rows = session.execute(
            select(Scan, Site.grid_code, Batch.grid_code)
            .outerjoin(Product, Product.gtin == Scan.gtin)
            .outerjoin(Site, Site.id == Scan.site_id)
            .outerjoin(Batch, Batch.id == Scan.batch_id)
            .where(Scan.action == "ship", Scan.matched_scan_id.is_(None), Scan.event_time < now - limit, kind)
        )
        hours = limit.total_seconds() / 3600
        for scan, site_grid, batch_grid in rows:
            late = (now - scan.event_time - limit).total_seconds() / 3600
            label = f"批次 {scan.lot} 发出后 {hours:g} 小时内未签收（{scan.quantity:g} {scan.unit}）"
            findings.append(
                Finding(
                    rule="shipment_unreceived",
                    subject=f"shipment:{scan.seq}",
                    due_date=local_date(scan.event_time + limit, zone),
                    colour=alerts.shipment_colour(late, hours),
                    days_overdue=int(late // 24),
                    label=label,
                    grid_code=site_grid or grids.get(scan.org_id) or batch_grid,
                    org_id=scan.org_id,
                    evidence=(scan.seq,),
                )  # fmt: skip
            )
    return findings


def never_scanned(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
    """未扫码: batches coded more than a week ago that nobody has scanned."""
    scanned = exists().where(Scan.batch_id == Batch.id)
    rows = session.execute(
        select(Batch, LedgerEntry.recorded_at)
        .join(LedgerEntry, LedgerEntry.seq == Batch.created_seq)
        .where(LedgerEntry.recorded_at < now - NEVER_SCANNED_AFTER, ~scanned)
    )
    return [
        Finding(
            rule="never_scanned",
            subject=_link(batch.gtin, batch.lot),
            due_date=local_date(registered + NEVER_SCANNED_AFTER, zone),
            colour="orange",
            days_overdue=(now - registered - NEVER_SCANNED_AFTER).days,
            label=f"批次 {batch.lot} 赋码后未扫码",
            grid_code=batch.grid_code,
            org_id=batch.producer_org_id,
            evidence=(batch.created_seq,),
        )  # fmt: skip
        for batch, registered in rows
    ]


def custody_gap(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
    """未赋码 and custody gaps: receipts of goods never coded, or never shipped to the receiver."""
    grids = _org_grids(session)
    rows = session.execute(
        select(Scan, Site.grid_code)
        .outerjoin(Site, Site.id == Scan.site_id)
        .where(Scan.action == "receive", or_(Scan.uncoded.is_(True), Scan.unexpected.is_(True)))
    )
    findings = []
    for scan, site_grid in rows:
        what = "未赋码货物入库" if scan.uncoded else "无发货记录的收货"
        findings.append(
            Finding(
                rule="custody_gap",
                subject=f"receipt:{scan.seq}",
                due_date=local_date(scan.event_time, zone),
                colour="orange",
                days_overdue=0,
                label=f"{what}：批次 {scan.lot}（GTIN {scan.gtin}）",
                grid_code=site_grid or grids.get(scan.org_id),
                org_id=scan.org_id,
                evidence=(scan.seq,),
            )  # fmt: skip
        )
    return findings


def silent(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
    """Goods held by a carrier or cold store with no scan by it for three days, not expired."""
    holders = [org for org, roles in session.execute(select(Organisation.id, Organisation.roles))
               if set(roles) & set(NON_FINAL_ROLES)]  # fmt: skip
    if not holders:
        return []
    last_scan = (
        select(func.max(Scan.event_time))
        .where(Scan.gtin == Holding.gtin, Scan.lot == Holding.lot, Scan.org_id == Holding.org_id)
        .correlate(Holding)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Holding, last_scan.label("last"), Batch.expiry_date)
        .outerjoin(Batch, (Batch.gtin == Holding.gtin) & (Batch.lot == Holding.lot))
        .where(Holding.org_id.in_(holders), Holding.quantity > 0)
        .where(or_(Batch.expiry_date.is_(None), Batch.expiry_date >= today))
        .where(last_scan < now - SILENT_AFTER)
    )
    grids = _org_grids(session)
    return [
        Finding(
            rule="silent",
            subject=f"{_link(holding.gtin, holding.lot)}#holder={holding.org_id}",
            due_date=local_date(last + SILENT_AFTER, zone),
            colour="yellow",
            days_overdue=(now - last - SILENT_AFTER).days,
            label=f"批次 {holding.lot} 在库 3 天以上无扫码",
            grid_code=grids.get(holding.org_id),
            org_id=holding.org_id,
            evidence=(holding.updated_seq,),
        )  # fmt: skip
        for holding, last, _ in rows
    ]


def excursion(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
    """Readings outside the product's band (last 30 days): red for frozen and chilled goods,
    orange otherwise; one alert per batch and day of its first excursion."""
    first = (
        select(
            TemperatureReading.batch_id,
            func.min(TemperatureReading.at).label("first"),
            func.max(TemperatureReading.celsius).label("warmest"),
            func.min(TemperatureReading.celsius).label("coldest"),
            func.count().label("readings"),
        )
        .join(Batch, Batch.id == TemperatureReading.batch_id)
        .join(Product, Product.gtin == Batch.gtin)
        .where(TemperatureReading.at >= now - EXCURSION_WINDOW)
        .where(or_(TemperatureReading.celsius > Product.temp_max_c, TemperatureReading.celsius < Product.temp_min_c))
        .group_by(TemperatureReading.batch_id)
        .subquery()
    )
    rows = session.execute(
        select(Batch, Product, first.c.first, first.c.warmest, first.c.coldest, first.c.readings)
        .join(first, first.c.batch_id == Batch.id)
        .join(Product, Product.gtin == Batch.gtin)
    )
    findings = []
    for batch, product, at, warmest, coldest, count in rows:
        colour = "red" if product.storage_class in COLD else "orange"
        extreme = warmest if product.temp_max_c is not None and warmest > product.temp_max_c else coldest
        findings.append(
            Finding(
                rule="excursion",
                subject=_link(batch.gtin, batch.lot),
                due_date=local_date(at, zone),
                colour=colour,
                days_overdue=0,
                label=f"批次 {batch.lot} 温度超标 {extreme:g} °C（{count} 次读数）",
                grid_code=batch.grid_code,
                org_id=batch.producer_org_id,
                evidence=(batch.created_seq,),
            )  # fmt: skip
        )
    return findings


def reading_gap(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
    """Gaps between readings longer than a product allows (only products that set a limit,
    only the last 30 days): the window function pairs each reading with the one before."""
    previous = func.lag(TemperatureReading.at, type_=UTCDateTime()).over(
        partition_by=TemperatureReading.batch_id, order_by=TemperatureReading.at
    )
    paired = (
        select(TemperatureReading.batch_id, TemperatureReading.at, previous.label("before"))
        .join(Batch, Batch.id == TemperatureReading.batch_id)
        .join(Product, Product.gtin == Batch.gtin)
        .where(Product.max_reading_gap_minutes.is_not(None), TemperatureReading.at >= now - EXCURSION_WINDOW)
        .subquery()
    )
    rows = session.execute(
        select(Batch, Product.max_reading_gap_minutes, Product.storage_class, paired.c.at, paired.c.before)
        .join(paired, paired.c.batch_id == Batch.id)
        .join(Product, Product.gtin == Batch.gtin)
        .where(paired.c.before.is_not(None))
    )
    first_gap: dict[int, Finding] = {}
    for batch, gap, storage, at, before in rows:
        if at - before <= timedelta(minutes=gap) or batch.id in first_gap:
            continue
        first_gap[batch.id] = Finding(
            rule="reading_gap", subject=_link(batch.gtin, batch.lot), due_date=local_date(before, zone),
            colour="red" if storage in COLD else "orange", days_overdue=0,
            label=f"批次 {batch.lot} 温度记录中断 {int((at - before).total_seconds() // 60)} 分钟",
            grid_code=batch.grid_code, org_id=batch.producer_org_id, evidence=(batch.created_seq,),
        )  # fmt: skip
    return list(first_gap.values())


def expired_held(session: Session, today: date, now: datetime, zone: str) -> list[Finding]:
    """Goods past their expiry date still held (not sold, consumed or disposed): red."""
    grids = _org_grids(session)
    rows = session.execute(
        select(Holding, Batch)
        .join(Batch, (Batch.gtin == Holding.gtin) & (Batch.lot == Holding.lot))
        .where(Holding.quantity > 0, Batch.expiry_date < today)
    )
    return [
        Finding(
            rule="expired_held",
            subject=f"{_link(holding.gtin, holding.lot)}#holder={holding.org_id}",
            due_date=batch.expiry_date,
            colour="red",
            days_overdue=(today - batch.expiry_date).days,
            label=f"批次 {holding.lot} 已过保质期仍在库 {holding.quantity:g} {holding.unit}",
            grid_code=grids.get(holding.org_id) or batch.grid_code,
            org_id=holding.org_id,
            evidence=(holding.updated_seq,),
        )  # fmt: skip
        for holding, batch in rows
        if batch.expiry_date is not None
    ]
