"""A few elevators in Hangzhou's grids for API tests: a property company (使用单位), two
maintenance companies (维保单位), an inspection agency and two district inspectors."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import Grid
from ledger.domain import maintenance
from ledger.domain.clock import local_date
from ledger.services import orgs
from tests.coldchain import GRIDS

BEIJING = timezone(timedelta(hours=8))
MEASURED = {"A1-05": 0.3, "A1-23": 4, "A1-29": 9, "A3-11": 4.5, "A3-13": 250, "A4-05": 2.0}
UNIT = "31103301062019000123"
OTHER_UNIT = "31103301092020000456"


def local_today() -> date:
    """Today in Hangzhou, where maintenance days are counted."""
    return local_date(datetime.now(UTC))


class Elevators:
    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.client = client
        self.engine = app.extensions["ledger.engine"]
        with transaction(self.engine) as session:
            session.add_all(Grid(code=c, name=n, level=lvl, parent_code=p, updated_seq=0) for c, n, lvl, p in GRIDS)
        with transaction(self.engine) as session:

            def org(name: str, roles: list[str], scopes: tuple[str, ...] = ()) -> orgs.CreatedOrg:
                contact = {"person": "赵安全", "phone": "13800000000"}
                return orgs.create_organisation(session, orgs.OrgSpec(name, roles, contact=contact, scopes=scopes))

            self.owner = org("西溪花园物业管理有限公司", ["equipment_user"])
            self.maintainer = org("杭州快捷电梯维保有限公司", ["maintenance"])
            self.rival = org("另一家电梯维保公司", ["maintenance"])
            self.agency = org("浙江省特种设备科学研究院", ["inspection_agency"])
            self.inspector = org("西湖区市场监管局", ["inspector"], ("330106",))
            self.far_inspector = org("萧山区市场监管局", ["inspector"], ("330109",))
        self.unit = self.register(UNIT, "3301060101", "10001")

    def post(self, who: orgs.CreatedOrg | None, url: str, body: Any = None) -> TestResponse:
        headers = {"Authorization": f"Bearer {who.api_key}"} if who else {}
        return self.client.post(url, json=body if body is not None else {}, headers=headers)

    def get(self, who: orgs.CreatedOrg | None, url: str) -> TestResponse:
        headers = {"Authorization": f"Bearer {who.api_key}"} if who else {}
        return self.client.get(url, headers=headers)

    def size(self) -> int:
        with transaction(self.engine, readonly=True) as session:
            return store.tree_size(session)

    def unit_body(self, code: str, grid: str, emergency: str, **changes: Any) -> dict[str, Any]:
        body = {
            "code": code,
            "category": "3000",
            "kind": "曳引驱动乘客电梯",
            "registration_number": "梯11浙A12345(19)",
            "factory_number": "F2019-0042",
            "emergency_code": emergency,
            "address": "杭州市西湖区文二西路西溪花园3幢1单元",
            "grid_code": grid,
            "user_org_id": self.owner.org_id,
            "maintenance_org_id": self.maintainer.org_id,
            "contract_end": (date.today() + timedelta(days=365)).isoformat(),
            "status": "in_use",
            "installed_on": "2019-06-01",
            "next_inspection_due": (date.today() + timedelta(days=200)).isoformat(),
        }
        body.update(changes)
        return body

    def register(self, code: str, grid: str, emergency: str, **changes: Any) -> dict[str, Any]:
        response = self.post(self.owner, "/api/v1/equipment", self.unit_body(code, grid, emergency, **changes))
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def check_in(self, at: datetime, code: str = UNIT, who: orgs.CreatedOrg | None = None) -> TestResponse:
        return self.post(who or self.maintainer, f"/api/v1/equipment/{code}/check-in", {"at": at.isoformat()})

    def record_body(self, tier: str, check_in: datetime, minutes: int = 75, **changes: Any) -> dict[str, Any]:
        body = {
            "client_event_id": str(uuid.uuid4()),
            "tier": tier,
            "check_in": check_in.astimezone(BEIJING).isoformat(),
            "check_out": (check_in + timedelta(minutes=minutes)).astimezone(BEIJING).isoformat(),
            "technicians": [
                {"name": "王芳", "certificate": "330106198801011234"},
                {"name": "李强", "certificate": "T3301000456"},
            ],
            "items": [
                {"code": item.code, "result": "ok", **({"value": MEASURED[item.code]} if item.measured else {})}
                for item in maintenance.checklist(tier)
            ],
        }
        body.update(changes)
        return body

    def visit(self, tier: str, days_ago: int, code: str = UNIT, **changes: Any) -> TestResponse:
        """A whole visit: check in by scanning, then the record at check-out.  A visit some days
        ago ends at noon, Beijing time, that day: its local date is exact whatever the hour now."""
        if days_ago:
            noon = datetime.combine(local_today() - timedelta(days=days_ago), time(12), BEIJING)
            start = noon - timedelta(minutes=75)
        else:
            start = datetime.now(UTC) - timedelta(minutes=80)
        assert self.check_in(start, code).status_code == 201
        return self.post(
            self.maintainer, f"/api/v1/equipment/{code}/maintenance", self.record_body(tier, start, **changes)
        )
