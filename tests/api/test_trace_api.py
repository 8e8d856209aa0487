"""Transformation, trace back and forward across a real journey, recalls and their FSMA 204
spreadsheets, and what the public sees of a batch."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from ledger.db.engine import transaction
from ledger.db.tables import Holding
from ledger.domain import fsma
from tests.coldchain import DUMPLINGS, ColdChain

LAMB_A, LAMB_B, DUMPLING_LOT = "NZ-2026/11-A", "NZ-2026/11-B", "JZ20261121"


@pytest.fixture
def chain(app: Flask, client: FlaskClient) -> ColdChain:
    """Two lamb lots imported, carried to a cold store and on to a central kitchen."""
    chain = ColdChain(app, client)
    for lot in (LAMB_A, LAMB_B):
        chain.batch(lot, quantity=400)
        chain.hand_over(chain.importer, chain.carrier, lot, 300)
        chain.hand_over(chain.carrier, chain.store, lot, 300)
        chain.hand_over(chain.store, chain.kitchen, lot, 200)
    assert chain.post(chain.kitchen, "/api/v1/products", DUMPLINGS).status_code == 201
    return chain


def transformation(chain: ColdChain, **changes: object) -> dict:
    body = {
        "client_event_id": str(uuid.uuid4()),
        "event_time": chain.tick(),
        "inputs": [
            {"gtin": "9506000134352", "lot": LAMB_A, "quantity": 50, "unit": "箱"},
            {"code": f"(01)09506000134352(10){LAMB_B}", "quantity": 30, "unit": "箱"},
        ],
        "output": {
            "gtin": DUMPLINGS["gtin"],
            "lot": DUMPLING_LOT,
            "site_id": chain.sites[chain.kitchen.org_id],
            "origin": {"country": "CN", "province": "浙江", "city": "杭州", "place": "西溪中央厨房"},
            "production_date": "2026-11-21",
            "expiry_date": "2027-05-21",
            "quantity": 2000,
            "unit": "袋",
        },
    }
    body.update(changes)
    return body


def stock(chain: ColdChain, org: str, lot: str) -> float:
    with transaction(chain.engine, readonly=True) as session:
        held = session.scalars(select(Holding.quantity).where(Holding.org_id == org, Holding.lot == lot)).first()
        return float(held or 0)


def test_a_central_kitchen_turns_two_lots_into_a_new_coded_batch(chain: ColdChain, client: FlaskClient) -> None:
    size = chain.size()
    body = transformation(chain)
    made = chain.post(chain.kitchen, "/api/v1/transformations", body)
    assert made.status_code == 201, made.get_json()
    assert chain.size() == size + 2
    entries = [client.get(f"/api/v1/ledger/entries/{seq}").get_json()["entry"] for seq in (size, size + 1)]
    assert [e["kind"] for e in entries] == ["batch.registered", "transformation.recorded"]
    assert [(i["lot"], i["quantity"]) for i in entries[1]["payload"]["inputs"]] == [(LAMB_A, 50), (LAMB_B, 30)]
    assert stock(chain, chain.kitchen.org_id, LAMB_A) == 150 and stock(chain, chain.kitchen.org_id, LAMB_B) == 170
    assert stock(chain, chain.kitchen.org_id, DUMPLING_LOT) == 2000
    again = chain.post(chain.kitchen, "/api/v1/transformations", body)
    assert again.status_code == 200 and again.get_json()["seq"] == made.get_json()["seq"]
    assert chain.size() == size + 2 and stock(chain, chain.kitchen.org_id, LAMB_A) == 150


@pytest.mark.parametrize(
    "change, status, message",
    [
        (
            {"inputs": [{"gtin": "9506000134352", "lot": LAMB_A, "quantity": 201, "unit": "箱"}]},
            409,
            "inputs[0]: you hold 200",
        ),
        (
            {"inputs": [{"gtin": "9506000134352", "lot": "NOPE", "quantity": 1, "unit": "箱"}]},
            404,
            "inputs[0]: there is no batch",
        ),
        ({"inputs": [{"gtin": "9506000134352", "lot": LAMB_A, "quantity": 1, "unit": "kg"}]}, 422, "counted in 箱"),
        ({"inputs": []}, 422, "inputs must be a list"),
        ({"output": {"gtin": "9506000134352", "lot": LAMB_A}}, 422, "output:"),
    ],
)
def test_bad_transformations_append_nothing(chain: ColdChain, change: dict, status: int, message: str) -> None:
    size = chain.size()
    refused = chain.post(chain.kitchen, "/api/v1/transformations", transformation(chain, **change))
    assert refused.status_code == status and message in refused.get_json()["detail"], refused.get_json()
    assert chain.size() == size and stock(chain, chain.kitchen.org_id, LAMB_A) == 200


def test_only_the_holder_transforms(chain: ColdChain) -> None:
    assert chain.post(chain.market, "/api/v1/transformations", transformation(chain)).status_code == 403
    chain.post(chain.importer, "/api/v1/products", DUMPLINGS)  # not its product: refused below either way
    refused = chain.post(chain.importer, "/api/v1/transformations", transformation(chain))
    assert refused.status_code in (409, 422)


def make_dumplings_and_sell_them(chain: ColdChain) -> None:
    assert chain.post(chain.kitchen, "/api/v1/transformations", transformation(chain)).status_code == 201
    dumplings = {"gtin": DUMPLINGS["gtin"], "unit": "袋"}
    chain.hand_over(chain.kitchen, chain.carrier, DUMPLING_LOT, 1000, **dumplings)
    chain.hand_over(chain.carrier, chain.market, DUMPLING_LOT, 1000, **dumplings)
    body = chain.scan_body("sell", DUMPLING_LOT, 10, gtin=DUMPLINGS["gtin"], unit="袋")
    assert chain.post(chain.market, "/api/v1/scans", body).status_code == 201


def test_trace_forward_and_back_cross_six_hops_and_a_transformation(chain: ColdChain) -> None:
    make_dumplings_and_sell_them(chain)
    forward = chain.get(chain.inspector, f"/api/v1/batches/09506000134352/{LAMB_A}/trace?direction=forward")
    assert forward.status_code == 200
    traced = forward.get_json()
    assert [(b["lot"], b["depth"]) for b in traced["batches"]] == [(LAMB_A, 0), (DUMPLING_LOT, 1)]
    org_ids = [chain.importer.org_id, chain.carrier.org_id, chain.store.org_id, chain.kitchen.org_id]
    assert sorted(traced["holders"]) == sorted([*org_ids, chain.market.org_id])
    actions = [
        (e["action"], e["org_id"]) for e in traced["events"] if e["batch_id"] == traced["batches"][1]["batch_id"]
    ]
    assert actions[-1] == ("sell", chain.market.org_id)

    back = chain.get(chain.inspector, f"/api/v1/batches/0{DUMPLINGS['gtin']}/{DUMPLING_LOT}/trace?direction=back")
    traced = back.get_json()
    assert [(b["lot"], b["depth"]) for b in traced["batches"]] == [(DUMPLING_LOT, 0), (LAMB_A, 1), (LAMB_B, 1)]
    assert {(e["input_batch_id"], e["quantity"]) for e in traced["edges"]} == {
        (traced["batches"][1]["batch_id"], 50),
        (traced["batches"][2]["batch_id"], 30),
    }
    lamb_a_receipts = [
        e["org_id"]
        for e in traced["events"]
        if e["action"] == "receive" and e["batch_id"] == traced["batches"][1]["batch_id"]
    ]
    assert lamb_a_receipts == [chain.carrier.org_id, chain.store.org_id, chain.kitchen.org_id]


def test_who_may_trace(chain: ColdChain, client: FlaskClient) -> None:
    url = f"/api/v1/batches/09506000134352/{LAMB_A}/trace"
    assert client.get(url).status_code == 401
    assert chain.get(chain.market, url).status_code == 403
    assert chain.get(chain.kitchen, url).status_code == 403  # a producer, but not of this batch
    assert chain.get(chain.importer, url).status_code == 200
    assert chain.get(chain.inspector, url + "?direction=sideways").status_code == 422
    assert chain.get(chain.inspector, "/api/v1/batches/09506000134352/NOPE/trace").status_code == 404


def test_a_recall_lists_every_holder_downstream_in_fsma_columns(chain: ColdChain, client: FlaskClient) -> None:
    make_dumplings_and_sell_them(chain)
    base = f"/api/v1/batches/09506000134352/{LAMB_A}"
    size = chain.size()
    opened = chain.client.post(
        f"{base}/recalls",
        json={"reason": "进口冷链食品外包装核酸检测阳性"},
        headers={"Authorization": f"Bearer {chain.inspector.api_key}"},
    )
    assert opened.status_code == 201 and opened.get_json()["seq"] == size
    again = chain.client.post(
        f"{base}/recalls", json={"reason": "再次召回"}, headers={"Authorization": f"Bearer {chain.inspector.api_key}"}
    )
    assert again.status_code == 409 and chain.size() == size + 1
    assert client.get(f"/api/v1/ledger/entries/{size}").get_json()["entry"]["kind"] == "recall.opened"

    view = chain.get(chain.inspector, f"{base}/recall").get_json()
    holders = {h["name"]: h for h in view["holders"]}
    assert set(holders) == {
        "宁波进口肉类有限公司",
        "浙江冷链运输有限公司",
        "萧山冷链中心",
        "西溪中央厨房",
        "联华超市西溪店",
    }
    assert holders["宁波进口肉类有限公司"]["contact"]["phone"] == "0571-87000000"
    assert holders["萧山冷链中心"]["holds_now"] == 100 and holders["萧山冷链中心"]["received"] == 300
    assert holders["联华超市西溪店"]["lots"] == [DUMPLING_LOT] and holders["联华超市西溪店"]["holds_now"] == 990

    sheet = chain.get(chain.inspector, f"{base}/recall.csv")
    assert sheet.mimetype == "text/csv" and "attachment" in sheet.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(sheet.get_data(as_text=True).lstrip("\ufeff"))))
    assert list(table[0]) == fsma.COLUMNS
    shipping = [r for r in table if r["Critical Tracking Event"] == "Shipping"]
    assert {r["Immediate Subsequent Recipient Location"] for r in shipping} == {
        "浙江冷链运输有限公司",
        "萧山冷链中心",
        "西溪中央厨房",
        "联华超市西溪店",
    }
    made = [r for r in table if r["Critical Tracking Event"] == "Transformation"]
    assert len(made) == 1 and made[0]["Traceability Lot Code"] == f"(01)0{DUMPLINGS['gtin']}(10){DUMPLING_LOT}"
    assert made[0]["Input Traceability Lot Codes"] == f"(01)09506000134352(10){LAMB_A}"
    assert [r["Event Time"] for r in table] == sorted(r["Event Time"] for r in table)

    workbook = chain.get(chain.inspector, f"{base}/recall.xlsx")
    rows = list(load_workbook(io.BytesIO(workbook.get_data())).active.iter_rows(values_only=True))
    assert list(rows[0]) == fsma.COLUMNS and len(rows) == len(table) + 1
    assert rows[1][0] == table[0]["Traceability Lot Code"] and float(rows[1][2]) == float(table[0]["Quantity"])


def test_the_public_sees_journey_temperatures_and_recall_but_no_private_data(
    chain: ColdChain, client: FlaskClient
) -> None:
    make_dumplings_and_sell_them(chain)
    warm = chain.scan_body("store", LAMB_A, 10, temperature_c=-12.5)
    assert chain.post(chain.kitchen, "/api/v1/scans", warm).status_code == 201
    chain.client.post(
        f"/api/v1/batches/09506000134352/{LAMB_A}/recalls",
        json={"reason": "温度超标"},
        headers={"Authorization": f"Bearer {chain.importer.api_key}"},
    )
    lamb = client.get(f"/api/v1/public/batches/09506000134352/{LAMB_A}")
    assert lamb.status_code == 200
    data = lamb.get_json()
    assert data["producer"] == {"name": "宁波进口肉类有限公司"} and data["origin"]["country"] == "NZ"
    assert [step["action"] for step in data["journey"]][:2] == ["ship", "receive"]
    assert data["journey"][1]["holder"] == "浙江冷链运输有限公司" and data["journey"][1]["city"] == "杭州市"
    assert data["journey"][0]["time"].endswith("+08:00")
    assert [(e["kind"], e["extreme_c"]) for e in data["excursions"]] == [("too_warm", -12.5)]
    assert data["recall"]["status"] == "recalled" and data["recall"]["of_an_input"] is False
    assert data["seqs"][0] == data["registered"]["seq"] and len(data["seqs"]) == len(data["journey"]) + 1
    text = json.dumps(data, ensure_ascii=False)
    for private in ("0571-87000000", "王经理", "api_key", "杭州市3301090101"):
        assert private not in text

    dumplings = client.get(f"/api/v1/public/batches/0{DUMPLINGS['gtin']}/{DUMPLING_LOT}").get_json()
    assert dumplings["recall"]["of_an_input"] is True
    assert [(m["lot"], m["depth"]) for m in dumplings["made_from"]] == [(LAMB_A, 1), (LAMB_B, 1)]
    assert client.get("/api/v1/public/batches/09506000134352/NOPE").status_code == 404
