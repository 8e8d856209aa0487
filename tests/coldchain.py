"""A small cold chain for API tests: an importer, a carrier, a cold store, a central kitchen,
a supermarket and an inspector in Hangzhou's grids, talking to the app as businesses do."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import Grid
from ledger.services import orgs

GRIDS = [
    ("330100", "杭州市市场监督管理局", "city", None),
    ("330106", "西湖区市场监督管理局", "district", "330100"),
    ("33010601", "西溪市场监管所", "station", "330106"),
    ("3301060101", "西溪第一网格", "grid", "33010601"),
    ("330109", "萧山区市场监督管理局", "district", "330100"),
    ("33010901", "宁围市场监管所", "station", "330109"),
    ("3301090101", "宁围第二网格", "grid", "33010901"),
]
LAMB = {
    "gtin": "9506000134352",
    "name_zh": "新西兰冷冻羊肉卷",
    "name_en": "Frozen lamb rolls",
    "category": "meat",
    "storage_class": "frozen",
    "origin_country": "NZ",
}
DUMPLINGS = {
    "gtin": "6901234567892",
    "name_zh": "羊肉水饺",
    "name_en": "Lamb dumplings",
    "category": "prepared food",
    "storage_class": "frozen",
}
START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))


class ColdChain:
    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.client = client
        self.engine = app.extensions["ledger.engine"]
        self._clock = itertools.count()
        with transaction(self.engine) as session:
            session.add_all(Grid(code=c, name=n, level=lvl, parent_code=p, updated_seq=0) for c, n, lvl, p in GRIDS)
        with transaction(self.engine) as session:
            contact = {"person": "王经理", "phone": "0571-87000000"}
            self.importer = orgs.create_organisation(
                session, orgs.OrgSpec("宁波进口肉类有限公司", ["producer"], contact=contact)
            )
            self.carrier = orgs.create_organisation(session, orgs.OrgSpec("浙江冷链运输有限公司", ["carrier"]))
            self.store = orgs.create_organisation(session, orgs.OrgSpec("萧山冷链中心", ["cold_store"]))
            self.kitchen = orgs.create_organisation(session, orgs.OrgSpec("西溪中央厨房", ["processor", "canteen"]))
            self.market = orgs.create_organisation(session, orgs.OrgSpec("联华超市西溪店", ["retailer"]))
            self.inspector = orgs.create_organisation(
                session, orgs.OrgSpec("西湖区市场监管局", ["inspector"], scopes=["330106"])
            )
            self.sites = {
                who.org_id: orgs.register_site(
                    session,
                    {"org_id": who.org_id, "name": f"{who.name}仓库", "address": f"杭州市{grid}", "grid_code": grid},
                    {"org": who.org_id},
                ).id
                for who, grid in [
                    (self.importer, "3301090101"),
                    (self.carrier, "3301090101"),
                    (self.store, "3301090101"),
                    (self.kitchen, "3301060101"),
                    (self.market, "3301060101"),
                ]
            }
        for product in (LAMB,):
            assert self.post(self.importer, "/api/v1/products", product).status_code == 201

    def post(self, who: orgs.CreatedOrg, url: str, body: Any) -> TestResponse:
        return self.client.post(url, json=body, headers={"Authorization": f"Bearer {who.api_key}"})

    def get(self, who: orgs.CreatedOrg | None, url: str, **headers: str) -> TestResponse:
        auth = {"Authorization": f"Bearer {who.api_key}"} if who else {}
        return self.client.get(url, headers={**auth, **headers})

    def size(self) -> int:
        with transaction(self.engine, readonly=True) as session:
            return store.tree_size(session)

    def tick(self) -> str:
        """Event times a minute apart, in Beijing time as a phone would send them."""
        moment = START + timedelta(minutes=next(self._clock))
        return moment.astimezone(BEIJING).isoformat()

    def batch(
        self, lot: str = "NZ-2026/11-A", quantity: float = 400, product: dict[str, Any] = LAMB, **changes: Any
    ) -> dict[str, Any]:
        body = {
            "gtin": product["gtin"],
            "lot": lot,
            "site_id": self.sites[self.importer.org_id],
            "origin": {"country": "NZ", "place": "Canterbury plant 27"},
            "production_date": "2026-10-01",
            "expiry_date": "2027-10-01",
            "quantity": quantity,
            "unit": "箱",
            "documents": [{"type": "inspection_quarantine", "number": "IQ3301202611001"}],
        }
        body.update(changes)
        response = self.post(self.importer, "/api/v1/batches", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def scan_body(self, action: str, lot: str = "NZ-2026/11-A", quantity: float = 100, **fields: Any) -> dict[str, Any]:
        body = {
            "client_event_id": str(uuid.uuid4()),
            "action": action,
            "gtin": fields.pop("gtin", LAMB["gtin"]),
            "lot": lot,
            "quantity": quantity,
            "unit": "箱",
            "event_time": self.tick(),
            "temperature_c": -19.5,
        }
        body.update(fields)
        return body

    def scan(
        self, who: orgs.CreatedOrg, action: str, lot: str = "NZ-2026/11-A", quantity: float = 100, **fields: Any
    ) -> TestResponse:
        return self.post(who, "/api/v1/scans", self.scan_body(action, lot, quantity, **fields))

    def hand_over(
        self,
        sender: orgs.CreatedOrg,
        receiver: orgs.CreatedOrg,
        lot: str = "NZ-2026/11-A",
        quantity: float = 100,
        **fields: Any,
    ) -> None:
        """A shipment and its receipt: one cold-chain hand-off (``fields``: gtin, unit...)."""
        at_sender, at_receiver = self.sites[sender.org_id], self.sites[receiver.org_id]
        shipped = self.scan(sender, "ship", lot, quantity, to_org_id=receiver.org_id, site_id=at_sender, **fields)
        assert shipped.status_code == 201, shipped.get_json()
        received = self.scan(
            receiver, "receive", lot, quantity, from_org_id=sender.org_id, site_id=at_receiver, **fields
        )
        assert received.status_code == 201 and not received.get_json()["unexpected_receipt"], received.get_json()
