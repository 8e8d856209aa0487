"""Cold-chain scans through the API: custody rules, retries, all-or-nothing lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from ledger.db.engine import transaction
from ledger.db.tables import Holding, Scan, TemperatureReading
from tests.coldchain import BEIJING, ColdChain

LOT = "NZ-2026/11-A"


@pytest.fixture
def chain(app: Flask, client: FlaskClient) -> ColdChain:
    chain = ColdChain(app, client)
    chain.batch(LOT, quantity=400)
    return chain


def holdings(chain: ColdChain) -> dict[str, float]:
    with transaction(chain.engine, readonly=True) as session:
        return {h.org_id: h.quantity for h in session.scalars(select(Holding).where(Holding.lot == LOT))}


def test_a_batch_travels_the_cold_chain_and_stock_follows_it(chain: ColdChain, client: FlaskClient) -> None:
    chain.hand_over(chain.importer, chain.carrier, quantity=300)
    chain.hand_over(chain.carrier, chain.store, quantity=300)
    assert chain.scan(chain.store, "store", quantity=300, site_id=chain.sites[chain.store.org_id]).status_code == 201
    chain.hand_over(chain.store, chain.market, quantity=120)
    sold = chain.scan(chain.market, "sell", quantity=20)
    assert sold.status_code == 201
    assert holdings(chain) == {
        chain.importer.org_id: 100,
        chain.carrier.org_id: 0,
        chain.store.org_id: 180,
        chain.market.org_id: 100,
    }
    entry = client.get(f"/api/v1/ledger/entries/{sold.get_json()['seq']}").get_json()["entry"]
    assert entry["kind"] == "scan.sell"
    assert entry["subject"] == "https://id.gs1.org/01/09506000134352/10/NZ-2026%2F11-A"
    assert entry["payload"]["readings"] == [{"time": entry["payload"]["event_time"], "celsius": -19.5}]
    assert entry["payload"]["event_time"].endswith("+08:00")


def test_only_the_holder_ships_sells_or_stores(chain: ColdChain) -> None:
    before = chain.size()
    for action, fields in [("ship", {"to_org_id": chain.market.org_id}), ("sell", {}), ("store", {})]:
        refused = chain.scan(chain.carrier, action, **fields)
        assert refused.status_code == 409, refused.get_json()
        assert refused.get_json()["type"] == "urn:anlian:problem:custody-violation"
        assert "do not hold" in refused.get_json()["detail"] or "hold none" in refused.get_json()["detail"]
    assert chain.size() == before


def test_no_holder_goes_below_zero(chain: ColdChain) -> None:
    before = chain.size()
    too_much = chain.scan(chain.importer, "ship", quantity=401, to_org_id=chain.carrier.org_id)
    assert too_much.status_code == 409 and "you hold 400" in too_much.get_json()["detail"]
    assert chain.scan(chain.importer, "dispose", quantity=400, reason="包装破损").status_code == 201
    assert chain.scan(chain.importer, "dispose", quantity=1, reason="包装破损").status_code == 409
    assert chain.size() == before + 1
    assert holdings(chain)[chain.importer.org_id] == 0


def test_a_receipt_without_a_shipment_is_recorded_and_flagged(chain: ColdChain) -> None:
    surprise = chain.scan(chain.store, "receive", quantity=50, from_org_id=chain.carrier.org_id)
    assert surprise.status_code == 201
    assert surprise.get_json()["unexpected_receipt"] is True
    uncoded = chain.scan(chain.store, "receive", lot="UNKNOWN-7", quantity=5)
    assert uncoded.status_code == 201 and uncoded.get_json()["uncoded"] is True
    with transaction(chain.engine, readonly=True) as session:
        flagged = session.scalars(select(Scan).where(Scan.unexpected.is_(True)).order_by(Scan.id)).all()
        assert [(s.lot, s.uncoded, s.counterparty_org_id) for s in flagged] == [
            (LOT, False, chain.carrier.org_id),
            ("UNKNOWN-7", True, None),
        ]
    # What was received can be moved on: the receiver holds it now.
    assert chain.scan(chain.store, "sell", lot="UNKNOWN-7", quantity=5).status_code == 201


def test_a_receipt_closes_the_oldest_open_shipment_to_the_receiver(chain: ColdChain) -> None:
    first = chain.scan(chain.importer, "ship", quantity=10, to_org_id=chain.store.org_id).get_json()["seq"]
    second = chain.scan(chain.importer, "ship", quantity=20, to_org_id=chain.store.org_id).get_json()["seq"]
    elsewhere = chain.scan(chain.importer, "ship", quantity=5, to_org_id=chain.market.org_id).get_json()["seq"]
    assert chain.scan(chain.store, "receive", quantity=10).get_json()["unexpected_receipt"] is False
    with transaction(chain.engine, readonly=True) as session:
        open_ships = session.scalars(
            select(Scan.seq).where(Scan.action == "ship", Scan.matched_scan_id.is_(None)).order_by(Scan.seq)
        ).all()
    assert first not in open_ships and open_ships == [second, elsewhere]


def test_event_times_beyond_five_minutes_ahead_are_refused(chain: ColdChain) -> None:
    before = chain.size()
    now = datetime.now(UTC)
    late = chain.scan(chain.importer, "store", event_time=(now + timedelta(minutes=6)).astimezone(BEIJING).isoformat())
    assert late.status_code == 422 and "future" in late.get_json()["detail"]
    naive = chain.scan(chain.importer, "store", event_time="2026-11-20T09:00:00")
    assert naive.status_code == 422 and "offset" in naive.get_json()["detail"]
    assert chain.size() == before
    ahead = (now + timedelta(minutes=4)).astimezone(BEIJING).isoformat()
    assert chain.scan(chain.importer, "store", event_time=ahead).status_code == 201


def test_a_retried_scan_records_once_even_after_the_stock_moved(chain: ColdChain) -> None:
    body = chain.scan_body("ship", quantity=400, to_org_id=chain.carrier.org_id)
    first = chain.post(chain.importer, "/api/v1/scans", body)
    size = chain.size()
    again = chain.post(chain.importer, "/api/v1/scans", body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json()["seq"] == first.get_json()["seq"] and again.get_json()["replayed"] is True
    assert chain.size() == size and holdings(chain)[chain.importer.org_id] == 0
    changed = chain.post(chain.importer, "/api/v1/scans", {**body, "quantity": 1})
    assert changed.status_code == 409 and changed.get_json()["type"] == "urn:anlian:problem:idempotency-conflict"


def test_a_list_of_a_thousand_lands_whole_and_a_retry_adds_nothing(chain: ColdChain) -> None:
    chain.hand_over(chain.importer, chain.market, quantity=400)
    scans = [chain.scan_body("sell", quantity=0.25) for _ in range(1000)]
    size = chain.size()
    response = chain.post(chain.market, "/api/v1/scans", {"scans": scans})
    assert response.status_code == 201, response.get_json()
    seqs = [s["seq"] for s in response.get_json()["scans"]]
    assert seqs == list(range(size, size + 1000))
    assert holdings(chain)[chain.market.org_id] == pytest.approx(150)
    retry = chain.post(chain.market, "/api/v1/scans", {"scans": scans})
    assert retry.status_code == 200 and [s["seq"] for s in retry.get_json()["scans"]] == seqs
    assert chain.size() == size + 1000


@pytest.mark.parametrize(
    "index, bad, status, message",
    [
        (537, {"quantity": -1}, 422, "scans[537]: quantity must be positive"),
        (999, {"gtin": "9506000134353"}, 422, "scans[999]: GTIN 9506000134353 check digit"),
        (3, {"unit": "kg"}, 422, "scans[3]: batch NZ-2026/11-A is counted in 箱"),
        (250, {"quantity": 500}, 409, "scans[250]: you hold"),
    ],
)
def test_one_bad_scan_in_a_thousand_appends_nothing_and_is_named(
    chain: ColdChain, index: int, bad: dict, status: int, message: str
) -> None:
    scans = [chain.scan_body("store", quantity=1) for _ in range(1000)]
    scans[index].update(bad)
    size = chain.size()
    response = chain.post(chain.importer, "/api/v1/scans", {"scans": scans})
    assert response.status_code == status
    problem = response.get_json()
    assert problem["index"] == index and problem["detail"].startswith(message), problem
    assert chain.size() == size


def test_a_list_is_checked_in_order_against_the_stock_it_moves(chain: ColdChain) -> None:
    scans = [chain.scan_body("sell", quantity=100) for _ in range(5)]
    response = chain.post(chain.importer, "/api/v1/scans", {"scans": scans})
    assert response.status_code == 409 and response.get_json()["index"] == 4
    assert holdings(chain)[chain.importer.org_id] == 400


def test_scanned_codes_of_every_form_name_the_batch(chain: ColdChain) -> None:
    codes = [
        "https://id.gs1.org/01/09506000134352/10/NZ-2026%2F11-A?17=271001",
        "HTTPS://SCAN.EXAMPLE.CN/01/09506000134352/10/NZ-2026%2F11-A",
        "(01)09506000134352(10)NZ-2026/11-A(17)271001",
        "]Q3010950600013435210NZ-2026/11-A\x1d17271001",
    ]
    for code in codes:
        body = chain.scan_body("store", quantity=1)
        del body["gtin"], body["lot"]
        response = chain.post(chain.importer, "/api/v1/scans", {**body, "code": code})
        assert response.status_code == 201, (code, response.get_json())
        assert response.get_json()["lot"] == LOT and response.get_json()["uncoded"] is False
    no_lot = chain.scan_body("store", quantity=1)
    del no_lot["gtin"], no_lot["lot"]
    refused = chain.post(chain.importer, "/api/v1/scans", {**no_lot, "code": "09506000134352"})
    assert refused.status_code == 422 and "no lot" in refused.get_json()["detail"]


def test_temperature_readings_are_kept_in_time_order(chain: ColdChain) -> None:
    readings = [
        {"time": "2026-11-20T10:30:00+08:00", "celsius": -17.0},
        {"time": "2026-11-20T10:00:00+08:00", "celsius": -19.0},
    ]
    body = chain.scan_body("store", quantity=1, readings=readings)
    del body["temperature_c"]
    seq = chain.post(chain.importer, "/api/v1/scans", body).get_json()["seq"]
    with transaction(chain.engine, readonly=True) as session:
        stored = session.execute(
            select(TemperatureReading.at, TemperatureReading.celsius).order_by(TemperatureReading.at)
        )
        assert [(at.isoformat(), c) for at, c in stored] == [
            ("2026-11-20T02:00:00+00:00", -19.0),
            ("2026-11-20T02:30:00+00:00", -17.0),
        ]
    entry = chain.client.get(f"/api/v1/ledger/entries/{seq}").get_json()["entry"]
    assert [r["celsius"] for r in entry["payload"]["readings"]] == [-19.0, -17.0]


@pytest.mark.parametrize(
    "changes, status, message",
    [
        ({"action": "ship"}, 422, "to_org_id"),
        ({"action": "ship", "to_org_id": "org_nobody"}, 404, "no organisation org_nobody"),
        ({"action": "dispose"}, 422, "reason"),
        ({"reason": "过期"}, 422, "reason belongs to a disposal"),
        ({"site_id": 10_000}, 422, "not one of your registered sites"),
        ({"gln": "6901234567891"}, 422, "GLN 6901234567891 check digit"),
        ({"temperature_c": 120}, 422, "sensor fault"),
        ({"latitude": 30.2}, 422, "longitude"),
        ({"client_event_id": None}, 422, "client_event_id is required"),
        ({"price": 9.9}, 422, "unknown field"),
        ({"lot": "批次"}, 422, "character set 82"),
    ],
)
def test_bad_scans_get_a_clear_problem_and_append_nothing(
    chain: ColdChain, changes: dict, status: int, message: str
) -> None:
    before = chain.size()
    response = chain.post(chain.importer, "/api/v1/scans", {**chain.scan_body("store", quantity=1), **changes})
    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert message in response.get_json()["detail"], response.get_json()
    assert chain.size() == before


def test_only_food_businesses_scan(chain: ColdChain, client: FlaskClient) -> None:
    body = chain.scan_body("store", quantity=1)
    assert client.post("/api/v1/scans", json=body).status_code == 401
    assert chain.post(chain.inspector, "/api/v1/scans", body).status_code == 403
    assert chain.post(chain.importer, "/api/v1/scans", {"scans": []}).status_code == 422
    too_many = {"scans": [body] * 1001}
    assert chain.post(chain.importer, "/api/v1/scans", too_many).status_code == 422


def test_a_shipment_to_another_organisations_site_must_be_theirs(chain: ColdChain) -> None:
    mine = chain.sites[chain.importer.org_id]
    theirs = chain.sites[chain.carrier.org_id]
    wrong = chain.scan(chain.importer, "ship", to_org_id=chain.carrier.org_id, to_site_id=mine)
    assert wrong.status_code == 422 and "not a site of" in wrong.get_json()["detail"]
    right = chain.scan(chain.importer, "ship", to_org_id=chain.carrier.org_id, to_site_id=theirs)
    assert right.status_code == 201


def test_a_business_sees_its_stock_and_what_is_on_its_way(chain: ColdChain) -> None:
    chain.scan(chain.importer, "ship", quantity=150, to_org_id=chain.store.org_id)
    chain.scan(chain.store, "receive", lot="NO-CODE-1", quantity=3)
    stock = chain.get(chain.importer, "/api/v1/holdings").get_json()["holdings"]
    assert [(s["lot"], s["quantity"], s["coded"], s["expiry_date"]) for s in stock] == [
        (LOT, 250, True, "2027-10-01")
    ]
    store_stock = chain.get(chain.store, "/api/v1/holdings").get_json()["holdings"]
    assert [(s["lot"], s["coded"]) for s in store_stock] == [("NO-CODE-1", False)]
    sheet = chain.get(chain.importer, "/api/v1/holdings?format=csv")
    assert sheet.mimetype == "text/csv" and "NZ-2026/11-A,新西兰冷冻羊肉卷,250" in sheet.get_data(as_text=True)

    incoming = chain.get(chain.store, "/api/v1/shipments").get_json()["shipments"]
    assert [(s["lot"], s["quantity"], s["from"]) for s in incoming] == [(LOT, 150, "宁波进口肉类有限公司")]
    outgoing = chain.get(chain.importer, "/api/v1/shipments?direction=outgoing").get_json()["shipments"]
    assert [(s["to_org_id"], s["quantity"]) for s in outgoing] == [(chain.store.org_id, 150)]
    chain.scan(chain.store, "receive", quantity=150)
    assert chain.get(chain.store, "/api/v1/shipments").get_json()["shipments"] == []
    assert chain.get(chain.store, "/api/v1/shipments?direction=sideways").status_code == 422
    assert chain.get(chain.inspector, "/api/v1/holdings").status_code == 403
