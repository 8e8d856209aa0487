"""The inspector desk page: logged-in inspectors see their grids' alerts worst first, filter
them, page through them and export them; others are sent to log in or turned away."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ledger.db.engine import transaction
from ledger.services import users
from tests.api.test_inspect_api import FAR_UNIT
from tests.api.test_rules import run
from tests.coldchain import ColdChain
from tests.elevators import OTHER_UNIT, UNIT, Elevators, local_today

PASSWORD = "西溪 巡查 2026 冬"  # noqa: S105 (test data)


@pytest.fixture
def lifts(app: Flask, client: FlaskClient) -> Elevators:
    lifts = Elevators(app, client)
    lifts.register(OTHER_UNIT, "3301060101", "10002")
    lifts.register(FAR_UNIT, "3301090101", "10003")
    lifts.visit("half_monthly", days_ago=40)
    lifts.visit("half_monthly", days_ago=20, code=OTHER_UNIT)
    lifts.visit("half_monthly", days_ago=25, code=FAR_UNIT)
    run(lifts.engine, "maintenance_half_monthly", local_today())
    with transaction(lifts.engine) as session:
        users.create_user(session, "inspector@xihu.example.cn", lifts.inspector.org_id, PASSWORD)
        users.create_user(session, "manager@property.example.cn", lifts.owner.org_id, PASSWORD)
    return lifts


def log_in(client: FlaskClient, email: str) -> None:
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token[1], "next": "/desk"}
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)


def test_the_desk_lists_the_grids_alerts_worst_first(lifts: Elevators, client: FlaskClient) -> None:
    assert client.get("/desk").status_code == 302  # log in first
    log_in(client, "inspector@xihu.example.cn")
    page = client.get("/desk").get_data(as_text=True)
    order = [page.index(f"{UNIT} 半月维保"), page.index(f"{OTHER_UNIT} 半月维保")]
    assert order == sorted(order) and FAR_UNIT not in page
    assert 'id="total-open">2<' in page and "<polyline" in page
    yellow = client.get("/desk?colour=yellow").get_data(as_text=True)
    assert OTHER_UNIT in yellow and f"{UNIT} 半月维保" not in yellow
    assert "/api/v1/inspect/alerts?colour=yellow&amp;format=csv" in yellow
    export = client.get("/api/v1/inspect/alerts?colour=yellow&format=csv")
    assert export.status_code == 200 and OTHER_UNIT in export.get_data(as_text=True)


def test_a_business_cannot_use_the_desk(lifts: Elevators, client: FlaskClient) -> None:
    log_in(client, "manager@property.example.cn")
    assert client.get("/desk").status_code == 403


def test_a_units_and_a_batchs_full_history(lifts: Elevators, client: FlaskClient) -> None:
    log_in(client, "inspector@xihu.example.cn")
    page = client.get("/desk/history", query_string={"code": UNIT}).get_data(as_text=True)
    assert "equipment.registered" in page and "maintenance.recorded" in page and "half_monthly" in page
    assert page.index("maintenance.recorded") < page.index("equipment.registered")  # newest first
    missing = client.get("/desk/history", query_string={"code": "99999"})
    assert missing.status_code == 422


def test_a_batch_history_lists_every_holder_with_exports(app: Flask, client: FlaskClient) -> None:
    chain = ColdChain(app, client)
    chain.batch("NZ-2026/11-A", quantity=100)
    chain.hand_over(chain.importer, chain.carrier, quantity=60)
    with transaction(chain.engine) as session:
        users.create_user(session, "desk@xihu.example.cn", chain.inspector.org_id, PASSWORD)
    log_in(client, "desk@xihu.example.cn")
    page = client.get("/desk/history", query_string={"code": "(01)09506000134352(10)NZ-2026/11-A"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "浙江冷链运输有限公司" in html and "scan.receive" in html
    assert "/api/v1/batches/09506000134352/NZ-2026%2F11-A/recall.csv" in html
