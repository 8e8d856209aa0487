"""Products and coded batches (赋码) through the API, and their QR codes read back by a real decoder."""

from __future__ import annotations

import io
from datetime import date

import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import Grid
from ledger.domain.food import product_spec
from ledger.domain.gs1 import parse_scan
from ledger.services import orgs
from tests.coldchain import GRIDS
from tests.coldchain import LAMB as PRODUCT


class Food:
    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.client = client
        self.engine = app.extensions["ledger.engine"]
        with transaction(self.engine) as session:
            session.add_all(Grid(code=c, name=n, level=lvl, parent_code=p, updated_seq=0) for c, n, lvl, p in GRIDS)
        with transaction(self.engine) as session:
            self.producer = orgs.create_organisation(session, orgs.OrgSpec("宁波进口肉类有限公司", ["producer"]))
            self.other = orgs.create_organisation(session, orgs.OrgSpec("另一家食品厂", ["producer"]))
            self.carrier = orgs.create_organisation(session, orgs.OrgSpec("冷链运输公司", ["carrier"]))
            self.site = orgs.register_site(
                session,
                {"org_id": self.producer.org_id, "name": "冷库", "address": "杭州市西湖区", "grid_code": "3301060101"},
                {"org": self.producer.org_id},
            ).id

    def post(self, who: orgs.CreatedOrg, url: str, body: dict, retry: str | None = None):  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"Bearer {who.api_key}", **({"Idempotency-Key": retry} if retry else {})}
        return self.client.post(url, json=body, headers=headers)

    def size(self) -> int:
        with transaction(self.engine, readonly=True) as session:
            return store.tree_size(session)

    def batch(self, **changes: object) -> dict:
        body = {
            "gtin": PRODUCT["gtin"],
            "lot": "NZ-2026/11-A",
            "site_id": self.site,
            "origin": {"country": "NZ", "place": "Canterbury plant 27"},
            "production_date": "2026-10-01",
            "expiry_date": "2027-10-01",
            "quantity": 400,
            "unit": "箱",
            "documents": [{"type": "inspection_quarantine", "number": "IQ3301202611001"}],
        }
        body.update(changes)
        return body


@pytest.fixture
def food(app: Flask, client: FlaskClient) -> Food:
    return Food(app, client)


def test_producer_registers_a_product_and_codes_a_batch(food: Food, client: FlaskClient) -> None:
    product = food.post(food.producer, "/api/v1/products", PRODUCT)
    assert product.status_code == 201, product.get_json()
    assert product.get_json()["gtin"] == "09506000134352" and product.get_json()["temp_max_c"] == -18.0
    batch = food.post(food.producer, "/api/v1/batches", food.batch())
    assert batch.status_code == 201, batch.get_json()
    body = batch.get_json()
    assert body["digital_link"].endswith("/01/09506000134352/10/NZ-2026%2F11-A?17=271001")
    entry = client.get(f"/api/v1/ledger/entries/{body['seq']}").get_json()["entry"]
    assert entry["kind"] == "batch.registered"
    assert entry["subject"] == "https://id.gs1.org/01/09506000134352/10/NZ-2026%2F11-A"
    assert entry["payload"]["grid_code"] == "3301060101"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"gtin": "9506000134353"}, "check digit"),
        ({"lot": "批次1"}, "lot"),
        ({"lot": "X" * 21}, "lot"),
        ({"expiry_date": "2026-09-01"}, "expiry_date"),
        ({"quantity": 0}, "quantity"),
        ({"origin": {"province": "浙江"}}, "origin"),
        ({"documents": [{"type": "selfie", "number": "1"}]}, "documents[0].type"),
        ({"price": 12}, "unknown field"),
    ],
)
def test_bad_batches_are_422_and_append_nothing(food: Food, changes: dict, message: str) -> None:
    assert food.post(food.producer, "/api/v1/products", PRODUCT).status_code == 201
    before = food.size()
    response = food.post(food.producer, "/api/v1/batches", food.batch(**changes))
    assert response.status_code == 422 and message in response.get_json()["detail"]
    assert food.size() == before


def test_only_the_product_owner_codes_its_batches_at_its_own_sites(food: Food) -> None:
    assert food.post(food.producer, "/api/v1/products", PRODUCT).status_code == 201
    before = food.size()
    assert food.post(food.carrier, "/api/v1/batches", food.batch()).status_code == 403
    assert food.post(food.carrier, "/api/v1/products", {**PRODUCT, "gtin": "4006381333931"}).status_code == 403
    assert food.post(food.other, "/api/v1/batches", food.batch()).status_code == 422  # not its GTIN
    assert food.post(food.producer, "/api/v1/batches", food.batch(site_id=food.site + 99)).status_code == 422
    assert food.size() == before


def test_duplicates_are_409_and_retries_append_once(food: Food) -> None:
    first = food.post(food.producer, "/api/v1/products", PRODUCT, retry="p-1")
    size = food.size()
    again = food.post(food.producer, "/api/v1/products", PRODUCT, retry="p-1")
    assert again.status_code == 201 and again.get_json() == first.get_json() and food.size() == size
    assert food.post(food.producer, "/api/v1/products", PRODUCT).status_code == 409
    assert food.post(food.producer, "/api/v1/batches", food.batch(), retry="b-1").status_code == 201
    size = food.size()
    assert food.post(food.producer, "/api/v1/batches", food.batch(), retry="b-1").status_code == 201
    assert food.post(food.producer, "/api/v1/batches", food.batch()).status_code == 409
    assert food.size() == size


def test_the_printed_qr_code_decodes_back_to_the_batch(food: Food, client: FlaskClient) -> None:
    food.post(food.producer, "/api/v1/products", PRODUCT)
    link = food.post(food.producer, "/api/v1/batches", food.batch()).get_json()["digital_link"]
    png = client.get("/api/v1/batches/09506000134352/NZ-2026%2F11-A/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.get_data())))
    assert decoded.text == link
    scanned = parse_scan(decoded.text, today=date(2026, 11, 26))
    assert (scanned.gtin14, scanned.lot, scanned.expiry) == ("09506000134352", "NZ-2026/11-A", date(2027, 10, 1))
    svg = client.get(f"/api/v1/batches/{scanned.gtin14}/{scanned.lot}/qr.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert client.get("/api/v1/batches/09506000134352/NOPE/qr.png").status_code == 404


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"storage_class": "warm"}, "storage_class"),
        ({"storage_class": "chilled", "temp_min_c": 5, "temp_max_c": 2}, "temp_min_c"),
        ({"origin_country": "nz"}, "origin_country"),
        ({"max_reading_gap_minutes": 0}, "max_reading_gap_minutes"),
        ({"name_zh": ""}, "name_zh"),
    ],
)
def test_bad_products_are_422_and_append_nothing(food: Food, changes: dict, message: str) -> None:
    before = food.size()
    response = food.post(food.producer, "/api/v1/products", {**PRODUCT, **changes})
    assert response.status_code == 422 and message in response.get_json()["detail"]
    assert food.size() == before


def test_a_product_keeps_its_storage_band() -> None:
    chilled = product_spec({**PRODUCT, "storage_class": "chilled"})
    assert (chilled.temp_min_c, chilled.temp_max_c) == (0.0, 4.0)
    narrowed = product_spec({**PRODUCT, "storage_class": "fresh", "temp_max_c": 6})
    assert (narrowed.temp_min_c, narrowed.temp_max_c) == (0.0, 6.0)
