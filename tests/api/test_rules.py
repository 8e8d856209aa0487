"""Every rule on both sides of its boundary, run twice (nothing new the second time), and
resolving itself when the satisfying event arrives.  The data comes in through the API as
businesses send it; the rules run as the jobs run them, with the clock set by the test."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from jobs import rules as rule_jobs
from jobs.runs import run_job
from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import Alert, Scan
from ledger.domain.clock import day_start
from ledger.services import alerts
from tests.coldchain import BEIJING, LAMB, ColdChain
from tests.elevators import UNIT, Elevators, local_today

ZONE = "Asia/Shanghai"
SYSTEM = {"org": "system"}
LOT = "NZ-2026/11-A"


def run(engine: Any, rule: str, today: date | None = None, now: datetime | None = None) -> alerts.Evaluation:
    moment = now or day_start(today or local_today(), ZONE) + timedelta(hours=10)
    with transaction(engine) as session:
        return alerts.evaluate(session, [rule], today or moment.astimezone(BEIJING).date(), moment, ZONE, SYSTEM)


def open_alerts(engine: Any, rule: str) -> list[Alert]:
    with transaction(engine, readonly=True) as session:
        return list(session.scalars(select(Alert).where(Alert.rule == rule, Alert.status != "resolved")))


def size(engine: Any) -> int:
    with transaction(engine, readonly=True) as session:
        return store.tree_size(session)


# --- elevators ---------------------------------------------------------------------------------


@pytest.fixture
def lifts(app: Flask, client: FlaskClient) -> Elevators:
    return Elevators(app, client)


def test_half_monthly_maintenance_is_due_soon_then_yellow_orange_red(lifts: Elevators) -> None:
    assert lifts.visit("half_monthly", days_ago=1).status_code == 201
    last = local_today() - timedelta(days=1)
    rule = "maintenance_half_monthly"
    assert run(lifts.engine, rule, last + timedelta(days=12)).raised == 0
    steps = [(13, "blue", 0), (15, "blue", 0), (16, "yellow", 1), (30, "yellow", 15), (31, "orange", 16),
             (45, "orange", 30), (46, "red", 31)]  # fmt: skip
    for day, colour, overdue in steps:
        run(lifts.engine, rule, last + timedelta(days=day))
        (alert,) = open_alerts(lifts.engine, rule)
        assert (alert.colour, alert.days_overdue) == (colour, overdue), day
        assert alert.due_date == last + timedelta(days=15)
    before = size(lifts.engine)
    again = run(lifts.engine, rule, last + timedelta(days=46))
    assert (again.raised, again.escalated, again.resolved) == (0, 0, 0) and size(lifts.engine) == before


def test_a_yearly_visit_resolves_every_maintenance_alert(lifts: Elevators) -> None:
    today = local_today()
    for rule in ("maintenance_half_monthly", "maintenance_quarterly", "maintenance_yearly"):
        assert run(lifts.engine, rule, today).raised == 1  # installed 2019, never maintained
    seq = lifts.visit("yearly", days_ago=0).get_json()["seq"]
    for rule in ("maintenance_half_monthly", "maintenance_quarterly", "maintenance_yearly"):
        assert run(lifts.engine, rule, today).resolved == 1
        assert open_alerts(lifts.engine, rule) == []
    with transaction(lifts.engine, readonly=True) as session:
        resolved = session.scalars(select(Alert).where(Alert.rule == "maintenance_quarterly")).one()
        assert resolved.satisfied_by_seq == seq and resolved.resolved_seq is not None


def test_a_quarterly_visit_leaves_the_yearly_clock_running(lifts: Elevators) -> None:
    lifts.visit("quarterly", days_ago=0)
    today = local_today()
    assert run(lifts.engine, "maintenance_quarterly", today).raised == 0
    assert run(lifts.engine, "maintenance_yearly", today).raised == 1


def test_periodic_inspection_notice_and_overdue(lifts: Elevators) -> None:
    due = date.fromisoformat(lifts.get(lifts.owner, f"/api/v1/equipment/{UNIT}").get_json()["next_inspection_due"])
    assert run(lifts.engine, "inspection_due", due - timedelta(days=31)).raised == 0
    run(lifts.engine, "inspection_due", due - timedelta(days=30))
    assert [a.colour for a in open_alerts(lifts.engine, "inspection_due")] == ["blue"]
    run(lifts.engine, "inspection_due", due)
    assert [a.colour for a in open_alerts(lifts.engine, "inspection_due")] == ["blue"]
    run(lifts.engine, "inspection_due", due + timedelta(days=1))
    assert [(a.colour, a.days_overdue) for a in open_alerts(lifts.engine, "inspection_due")] == [("red", 1)]


def test_an_unconfirmed_record_is_flagged_after_24_hours_and_resolves_on_confirmation(lifts: Elevators) -> None:
    record = lifts.visit("half_monthly", days_ago=3).get_json()
    check_out = datetime.fromisoformat(record["check_out"])
    assert run(lifts.engine, "maintenance_unconfirmed", now=check_out + timedelta(hours=24)).raised == 0
    assert run(lifts.engine, "maintenance_unconfirmed", now=check_out + timedelta(hours=24, seconds=1)).raised == 1
    confirm = lifts.post(lifts.owner, f"/api/v1/equipment/{UNIT}/maintenance/{record['seq']}/confirmation",
                         {"safety_manager": "赵安全"})  # fmt: skip
    assert run(lifts.engine, "maintenance_unconfirmed", now=check_out + timedelta(hours=30)).resolved == 1
    with transaction(lifts.engine, readonly=True) as session:
        alert = session.scalars(select(Alert).where(Alert.rule == "maintenance_unconfirmed")).one()
        assert alert.satisfied_by_seq == confirm.get_json()["confirmed_seq"]


def test_a_hazard_past_its_deadline_and_a_late_arrival_are_flagged(lifts: Elevators) -> None:
    deadline = local_today() + timedelta(days=5)
    hazard = lifts.post(lifts.inspector, f"/api/v1/equipment/{UNIT}/hazards",
                        {"description": "底坑积水", "level": "general", "deadline": deadline.isoformat()})  # fmt: skip
    assert hazard.status_code == 201
    assert run(lifts.engine, "hazard_overdue", deadline).raised == 0
    assert run(lifts.engine, "hazard_overdue", deadline + timedelta(days=1)).raised == 1
    (alert,) = open_alerts(lifts.engine, "hazard_overdue")
    assert alert.subject == f"hazard:{hazard.get_json()['hazard_seq']}" and alert.org_id == lifts.owner.org_id
    reported = datetime.now(UTC) - timedelta(hours=2)
    body = {"kind": "entrapment", "reported_via": "96333", "reported_at": reported.isoformat(), "people_trapped": 1,
            "description": "困人"}  # fmt: skip
    seq = lifts.post(lifts.owner, f"/api/v1/equipment/{UNIT}/incidents", body).get_json()["incident_seq"]
    for step, minutes in (("dispatched", 2), ("arrived", 30)):
        at = (reported + timedelta(minutes=minutes)).isoformat()
        lifts.post(lifts.maintainer, f"/api/v1/equipment/{UNIT}/incidents/{seq}/{step}", {"at": at})
    assert run(lifts.engine, "entrapment_late").raised == 0  # 30 minutes is on time
    other = lifts.post(lifts.owner, f"/api/v1/equipment/{UNIT}/incidents", body).get_json()["incident_seq"]
    for step, minutes in (("dispatched", 2), ("arrived", 31)):
        at = (reported + timedelta(minutes=minutes)).isoformat()
        lifts.post(lifts.maintainer, f"/api/v1/equipment/{UNIT}/incidents/{other}/{step}", {"at": at})
    assert run(lifts.engine, "entrapment_late").raised == 1
    assert [a.colour for a in open_alerts(lifts.engine, "entrapment_late")] == ["red"]


# --- cold chain -----------------------------------------------------------------------------------


@pytest.fixture
def chain(app: Flask, client: FlaskClient) -> ColdChain:
    chain = ColdChain(app, client)
    chain.batch(LOT, quantity=400)
    return chain


def event_time(chain: ColdChain, seq: int) -> datetime:
    with transaction(chain.engine, readonly=True) as session:
        return session.scalars(select(Scan.event_time).where(Scan.seq == seq)).one()


def test_a_frozen_shipment_is_untraced_after_24_hours_and_red_after_48(chain: ColdChain) -> None:
    shipped = chain.scan(chain.importer, "ship", quantity=100, to_org_id=chain.store.org_id).get_json()["seq"]
    sent = event_time(chain, shipped)
    rule = "shipment_unreceived"
    assert run(chain.engine, rule, now=sent + timedelta(hours=24)).raised == 0
    assert run(chain.engine, rule, now=sent + timedelta(hours=24, seconds=1)).raised == 1
    assert [a.colour for a in open_alerts(chain.engine, rule)] == ["orange"]
    run(chain.engine, rule, now=sent + timedelta(hours=48))
    assert [a.colour for a in open_alerts(chain.engine, rule)] == ["orange"]
    run(chain.engine, rule, now=sent + timedelta(hours=48, seconds=1))
    assert [a.colour for a in open_alerts(chain.engine, rule)] == ["red"]
    receipt = chain.scan(chain.store, "receive", quantity=100).get_json()["seq"]
    assert run(chain.engine, rule, now=sent + timedelta(hours=50)).resolved == 1
    with transaction(chain.engine, readonly=True) as session:
        assert session.scalars(select(Alert.satisfied_by_seq).where(Alert.rule == rule)).one() == receipt


def test_an_ambient_shipment_has_48_hours(chain: ColdChain) -> None:
    rice = {**LAMB, "gtin": "6920000000012", "name_zh": "东北大米", "storage_class": "ambient"}
    rice.pop("origin_country")
    assert chain.post(chain.importer, "/api/v1/products", rice).status_code == 201
    chain.batch("RICE-1", quantity=10, product=rice)
    shipped = chain.scan(chain.importer, "ship", "RICE-1", 5, gtin=rice["gtin"], to_org_id=chain.market.org_id)
    sent = event_time(chain, shipped.get_json()["seq"])
    assert run(chain.engine, "shipment_unreceived", now=sent + timedelta(hours=48)).raised == 0
    assert run(chain.engine, "shipment_unreceived", now=sent + timedelta(hours=48, seconds=1)).raised == 1


def test_a_batch_coded_a_week_ago_and_never_scanned(chain: ColdChain) -> None:
    registered = datetime.now(UTC)
    assert run(chain.engine, "never_scanned", now=registered + timedelta(days=6, hours=23)).raised == 0
    assert run(chain.engine, "never_scanned", now=registered + timedelta(days=7, minutes=5)).raised == 1
    chain.scan(chain.importer, "store", quantity=1)
    assert run(chain.engine, "never_scanned", now=registered + timedelta(days=8)).resolved == 1


def test_receipts_without_a_source_are_custody_gaps(chain: ColdChain) -> None:
    chain.scan(chain.store, "receive", quantity=3, from_org_id=chain.carrier.org_id)
    chain.scan(chain.store, "receive", lot="NO-CODE-9", quantity=2)
    chain.hand_over(chain.importer, chain.market, quantity=5)
    run(chain.engine, "custody_gap")
    labels = sorted(a.label for a in open_alerts(chain.engine, "custody_gap"))
    assert [label.split("：")[0] for label in labels] == ["无发货记录的收货", "未赋码货物入库"]


def test_goods_held_silently_by_a_cold_store(chain: ColdChain) -> None:
    chain.hand_over(chain.importer, chain.store, quantity=50)
    last = event_time(chain, chain.scan(chain.store, "store", quantity=50).get_json()["seq"])
    assert run(chain.engine, "silent", now=last + timedelta(days=3)).raised == 0
    assert run(chain.engine, "silent", now=last + timedelta(days=3, seconds=1)).raised == 1
    assert [(a.colour, a.org_id) for a in open_alerts(chain.engine, "silent")] == [("yellow", chain.store.org_id)]


@pytest.mark.parametrize(
    "storage, celsius, colour",
    [("frozen", -18.0, None), ("frozen", -17.9, "red"), ("chilled", 4.0, None), ("chilled", 4.1, "red"),
     ("chilled", -0.1, "red"), ("fresh", 8.0, None), ("fresh", 8.1, "orange"), ("ambient", 40.0, None)],
)  # fmt: skip
def test_temperature_excursions_by_storage_class(chain: ColdChain, storage: str, celsius: float, colour: str) -> None:
    product = {**LAMB, "gtin": "4006381333931", "name_zh": "测试品", "storage_class": storage}
    assert chain.post(chain.importer, "/api/v1/products", product).status_code == 201
    chain.batch("T-1", quantity=10, product=product)
    reading = chain.scan(chain.importer, "store", "T-1", 1, gtin=product["gtin"], temperature_c=celsius)
    assert reading.status_code == 201, reading.get_json()
    run(chain.engine, "excursion", now=event_time(chain, reading.get_json()["seq"]) + timedelta(hours=1))
    assert [a.colour for a in open_alerts(chain.engine, "excursion")] == ([colour] if colour else [])


def test_a_gap_between_readings_longer_than_the_product_allows(chain: ColdChain) -> None:
    product = {**LAMB, "gtin": "4006381333931", "name_zh": "冷链测试品", "max_reading_gap_minutes": 30}
    assert chain.post(chain.importer, "/api/v1/products", product).status_code == 201
    chain.batch("G-1", quantity=10, product=product)
    start = datetime(2026, 11, 21, 8, 0, tzinfo=BEIJING)
    readings = [{"time": (start + timedelta(minutes=m)).isoformat(), "celsius": -19.0} for m in (0, 30, 61)]
    body = chain.scan_body("store", "G-1", 1, gtin=product["gtin"], readings=readings, event_time=start.isoformat())
    del body["temperature_c"]
    assert chain.post(chain.importer, "/api/v1/scans", body).status_code == 201
    run(chain.engine, "reading_gap", now=start + timedelta(hours=2))
    (gap,) = open_alerts(chain.engine, "reading_gap")
    assert "31 分钟" in gap.label and gap.colour == "red"


def test_expired_goods_still_held_until_disposed(chain: ColdChain) -> None:
    chain.batch("OLD-1", quantity=10, production_date="2025-01-01", expiry_date="2026-01-01")
    now = datetime.combine(date(2026, 11, 26), time(10), BEIJING)
    assert run(chain.engine, "expired_held", now=now).raised == 1
    (alert,) = open_alerts(chain.engine, "expired_held")
    assert (alert.colour, alert.org_id, alert.days_overdue) == ("red", chain.importer.org_id, 329)
    chain.scan(chain.importer, "dispose", "OLD-1", 10, reason="过期销毁")
    assert run(chain.engine, "expired_held", now=now).resolved == 1


def test_the_rule_jobs_run_twice_raise_nothing_new(lifts: Elevators) -> None:
    lifts.visit("half_monthly", days_ago=40)
    equipment = rule_jobs.make_job("equipment", ZONE)
    first = run_job(lifts.engine, "rules-equipment", equipment, "runner-a")
    assert first.outcome == "ok" and first.detail is not None and "raised 0" not in first.detail
    before = size(lifts.engine)
    second = run_job(lifts.engine, "rules-equipment", equipment, "runner-a")
    assert second.outcome == "ok" and second.detail is not None and second.detail.startswith("raised 0, escalated 0")
    assert size(lifts.engine) == before
    coldchain = run_job(lifts.engine, "rules-coldchain", rule_jobs.make_job("coldchain", ZONE), "runner-a")
    assert coldchain.outcome == "ok"


def test_the_nightly_grading_job_publishes_once_a_day(lifts: Elevators) -> None:
    lifts.visit("half_monthly", days_ago=40)
    job = rule_jobs.make_grading_job(ZONE)
    first = run_job(lifts.engine, "risk-grades", job, "runner-a")
    assert first.outcome == "ok" and first.detail is not None and "entry" in first.detail
    again = run_job(lifts.engine, "risk-grades", job, "runner-a")
    assert again.outcome == "ok" and again.detail is not None and again.detail.endswith("unchanged")
