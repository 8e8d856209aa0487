"""Bad input at every write endpoint: each is refused with an RFC 9457 problem and nothing is
appended to the ledger.

The endpoints' own tests check their rules field by field; this file checks what every write
shares: bodies too large (413), not JSON (415), not a JSON object, not UTF-8, NaN or nested too
deep (400), numbers no entry can hold (422), fields of the wrong JSON type (4xx, never a 500), GS1
check digits (422), references to nothing (404) and times beyond the allowed clock skew (422).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from api import create_app
from ledger import keys
from ledger.domain.epcis import GS1_CONTEXT
from tests.coldchain import DUMPLINGS, LAMB, ColdChain
from tests.conftest import ORIGIN
from tests.elevators import OTHER_UNIT, UNIT, Elevators, local_today

pytestmark = pytest.mark.filterwarnings("ignore:open_text is deprecated:DeprecationWarning")
LOT = "NZ-2026/11-A"
LINK = "https://id.gs1.org/01/09506000134352/10/NZ-2026%2F11-A"
BAD_GTIN = "9506000134353"  # LAMB's GTIN with its check digit changed
BAD_GLN = "6901234567891"  # a GLN whose check digit should be 2
PHOTO = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SITE = {"name": "二号冷库", "address": "宁波市北仑区", "grid_code": "3301090101"}
MAX_BODY = 2 * 1024 * 1024  # LEDGER_MAX_BODY_BYTES's default
World = ColdChain | Elevators


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Flask:
    """The suite's app without rate limits: the public report endpoint allows five a minute, and
    this file sends it dozens of bad bodies."""
    key_path = tmp_path / "signing-key.pem"
    keys.create_signing_key(key_path)
    return create_app({"LEDGER_DATABASE_URL": database_url, "LEDGER_SIGNING_KEY_PATH": key_path,
                       "LEDGER_ORIGIN": ORIGIN, "RATELIMIT_ENABLED": "false"})  # fmt: skip


def cold_chain(app: Flask, client: FlaskClient) -> ColdChain:
    """A batch the importer coded and handed part of to the kitchen, which makes dumplings."""
    chain = ColdChain(app, client)
    chain.batch(LOT, quantity=400, unit="carton")  # EPCIS counts it in CT
    chain.hand_over(chain.importer, chain.kitchen, quantity=100, unit="carton")
    assert chain.post(chain.kitchen, "/api/v1/products", DUMPLINGS).status_code == 201
    return chain


def elevators(app: Flask, client: FlaskClient) -> Elevators:
    return Elevators(app, client)


@pytest.fixture
def chain(app: Flask, client: FlaskClient) -> ColdChain:
    return cold_chain(app, client)


@pytest.fixture
def lifts(app: Flask, client: FlaskClient) -> Elevators:
    return elevators(app, client)


def ago(minutes: int = 0) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def ahead(minutes: int = 10) -> str:
    """Further ahead than the five minutes of clock skew a device may have."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def batch(chain: ColdChain) -> dict[str, Any]:
    return {"gtin": LAMB["gtin"], "lot": "NZ-2026/12-B", "site_id": chain.sites[chain.importer.org_id],
            "origin": {"country": "NZ"}, "production_date": "2026-10-01", "expiry_date": "2027-10-01",
            "quantity": 10, "unit": "箱"}  # fmt: skip


def scan(chain: ColdChain, **changes: Any) -> dict[str, Any]:
    where = {"site_id": chain.sites[chain.importer.org_id], "latitude": 29.87, "longitude": 121.55, "device": "PDA-7"}
    return chain.scan_body("store", quantity=1, unit="carton", event_time=ago(1), **{**where, **changes})


def scanned(chain: ColdChain, code: str) -> dict[str, Any]:
    """A scan naming its batch by the code read off the label, as a scanner sends it."""
    body = scan(chain, code=code)
    del body["gtin"], body["lot"]
    return body


def transformation(chain: ColdChain, **changes: Any) -> dict[str, Any]:
    body = {
        "client_event_id": str(uuid.uuid4()),
        "event_time": ago(1),
        "inputs": [{"gtin": LAMB["gtin"], "lot": LOT, "quantity": 10, "unit": "carton"}],
        "output": {"gtin": DUMPLINGS["gtin"], "lot": "JZ20261121", "site_id": chain.sites[chain.kitchen.org_id],
                   "origin": {"country": "CN"}, "production_date": date.today().isoformat(),
                   "quantity": 200, "unit": "袋"},
    }  # fmt: skip
    body.update(changes)
    return body


def epcis(chain: ColdChain, **changes: Any) -> dict[str, Any]:
    event = {
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "bizStep": "storing",
        "eventTime": ago(1),
        "eventTimeZoneOffset": "+08:00",
        "quantityList": [{"epcClass": LINK, "quantity": 1, "uom": "CT"}],
    }
    event.update(changes)
    return {"@context": [GS1_CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": ago(), "epcisBody": {"eventList": [event]}}  # fmt: skip


def record(lifts: Elevators, **changes: Any) -> dict[str, Any]:
    return {**lifts.record_body("half_monthly", datetime.now(UTC) - timedelta(minutes=90)), **changes}


def visit(lifts: Elevators) -> dict[str, Any]:
    """The record at check-out of a visit checked in now."""
    body = record(lifts)
    assert lifts.check_in(datetime.fromisoformat(body["check_in"])).status_code == 201
    return body


def inspection(**changes: Any) -> dict[str, Any]:
    return {"kind": "periodic", "inspected_on": local_today().isoformat(), "result": "pass",
            "report_number": "TS7110-2026-0456", "next_due": (local_today() + timedelta(days=365)).isoformat(),
            **changes}  # fmt: skip


def incident(**changes: Any) -> dict[str, Any]:
    return {"kind": "fault", "reported_via": "user", "reported_at": ago(30), "people_trapped": 0,
            "description": "门不关", **changes}  # fmt: skip


def hazard(lifts: Elevators) -> dict[str, Any]:
    return {"description": "底坑积水", "level": "general", "colour": "orange", "responsible_org_id": lifts.owner.org_id,
            "deadline": (local_today() + timedelta(days=10)).isoformat(), "evidence": [PHOTO]}  # fmt: skip


def registry_change(lifts: Elevators) -> dict[str, Any]:
    """The unit's whole record (a change sends all of it), moved to another address."""
    body = lifts.unit_body(UNIT, "3301060101", "10001", address="杭州市西湖区文二西路5号")
    del body["code"]
    return body


@dataclass(frozen=True)
class Write:
    """A write endpoint, who may call it (an attribute of the world, None: anyone) and a body it
    accepts."""

    url: str
    world: str
    who: str | None
    body: Callable[[Any], dict[str, Any]]
    method: str = "POST"

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


WRITES = [
    Write("/api/v1/products", "chain", "importer", lambda c: {**LAMB, "gtin": "4006381333931"}),
    Write("/api/v1/batches", "chain", "importer", batch),
    Write("/api/v1/scans", "chain", "importer", scan),
    Write("/api/v1/transformations", "chain", "kitchen", transformation),
    Write("/api/v1/epcis/capture", "chain", "importer", epcis),
    Write(f"/api/v1/batches/{LAMB['gtin']}/{LOT}/recalls", "chain", "inspector", lambda c: {"reason": "检出沙门氏菌"}),
    Write("/api/v1/orgs/{importer}/sites", "chain", "importer", lambda c: dict(SITE)),
    Write("/api/v1/equipment", "lifts", "owner", lambda lf: lf.unit_body(OTHER_UNIT, "3301090101", "10009")),
    Write(f"/api/v1/equipment/{UNIT}", "lifts", "owner", registry_change, "PUT"),
    Write(f"/api/v1/equipment/{UNIT}/check-in", "lifts", "maintainer", lambda lf: {"at": ago(5)}),
    Write(f"/api/v1/equipment/{UNIT}/maintenance", "lifts", "maintainer", visit),
    Write(f"/api/v1/equipment/{UNIT}/inspections", "lifts", "agency", lambda lf: inspection()),
    Write(f"/api/v1/equipment/{UNIT}/incidents", "lifts", "owner", lambda lf: incident()),
    Write(f"/api/v1/equipment/{UNIT}/hazards", "lifts", "inspector", hazard),
    Write("/api/v1/my/webhooks", "lifts", "owner", lambda lf: {"url": "https://iot.example.cn/alerts"}),
    Write(f"/api/v1/public/equipment/{UNIT}/reports", "lifts", None, lambda lf: {"description": "按钮不亮"}),
]


def send(world: World, write: Write, data: bytes | str, content_type: str) -> TestResponse:
    who = getattr(world, write.who) if write.who else None
    headers = {"Authorization": f"Bearer {who.api_key}"} if who else {}
    url = write.url.replace("{importer}", world.importer.org_id) if isinstance(world, ColdChain) else write.url
    return world.client.open(url, method=write.method, data=data, content_type=content_type, headers=headers)


def send_json(world: World, write: Write, body: Any) -> TestResponse:
    return send(world, write, json.dumps(body, ensure_ascii=False), "application/json")


def assert_problem(response: TestResponse, status: int | None = None) -> dict[str, Any]:
    """An RFC 9457 problem of ``status`` (any 4xx when None) with every member a client shows."""
    body = response.get_json(force=True, silent=True)
    assert response.mimetype == "application/problem+json", (response.status_code, response.get_data()[:300])
    assert (400 <= response.status_code < 500) if status is None else response.status_code == status, body
    assert body["status"] == response.status_code
    assert body["type"].startswith("urn:anlian:problem:") or body["type"] == "about:blank"
    assert body["title"] and body["detail"]
    return body


@pytest.fixture(params=WRITES, ids=str)
def write(request: pytest.FixtureRequest) -> Write:
    return request.param


@pytest.fixture
def world(write: Write, app: Flask, client: FlaskClient) -> World:
    return cold_chain(app, client) if write.world == "chain" else elevators(app, client)


def test_each_body_is_accepted_as_it_is(world: World, write: Write) -> None:
    """The bodies below are broken from these; each must be good to begin with."""
    before = world.size()
    response = send_json(world, write, write.body(world))
    assert response.status_code in (200, 201), response.get_json()
    assert world.size() > before


JSON = "application/json"
# How a good body is broken, the type it is sent as, and the problem it must get.
BROKEN: dict[str, tuple[Callable[[dict[str, Any]], str | bytes], str, int, str, str]] = {
    "too large": (lambda body: json.dumps({**body, "note": "x" * MAX_BODY}), JSON, 413, "body-too-large", "larger"),
    "text/plain": (lambda body: json.dumps(body), "text/plain", 415, "unsupported-media-type", JSON),
    "form": (lambda body: "description=x&quantity=1", "application/x-www-form-urlencoded", 415,
             "unsupported-media-type", JSON),
    "truncated": (lambda body: json.dumps(body)[:-2], JSON, 400, "bad-request", "JSON"),
    "an array": (lambda body: json.dumps([body]), JSON, 400, "bad-request", "JSON object"),
    "not UTF-8": (lambda body: json.dumps(body).encode().replace(b"{", b"{\xff", 1), JSON, 400, "bad-request",
                  "utf-8"),
    "NaN": (lambda body: json.dumps({**body, "note": float("nan")}), JSON, 400, "bad-request", "NaN"),
    "nested deep": (lambda body: json.dumps({**body, "note": nested(200)}), JSON, 400, "bad-request", "nests"),
    "huge integer": (lambda body: json.dumps({**body, "note": 2**64}), JSON, 422, "invalid-entry", "out of range"),
}  # fmt: skip


def nested(depth: int) -> Any:
    value: Any = "底"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("broken", BROKEN, ids=str)
def test_a_body_we_cannot_read_is_refused(world: World, write: Write, broken: str) -> None:
    encode, content_type, status, slug, words = BROKEN[broken]
    data = encode(write.body(world))
    before = world.size()
    problem = assert_problem(send(world, write, data, content_type), status)
    assert problem["type"] == f"urn:anlian:problem:{slug}" and words in problem["detail"], problem
    assert world.size() == before


# Beside the other JSON types: numbers no column holds, text longer than any field, empty containers.
WRONG_TYPES = [None, True, -1, 2**64, 1e308, "", "x" * 5000, [], [None], {}, {"": None}]


def test_a_field_of_the_wrong_json_type_is_a_problem_never_a_server_error(world: World, write: Write) -> None:
    """Every field of a good body, one at a time, replaced by values of every other JSON type."""
    body = write.body(world)
    for name in body:
        for wrong in WRONG_TYPES:
            before = world.size()
            response = send_json(world, write, {**body, name: wrong})
            assert response.status_code < 500, (name, wrong, response.get_json())
            # Some values are still good (an empty optional field, say): only refusals are checked.
            if response.status_code >= 400:
                assert_problem(response)
                assert world.size() == before, (name, wrong)


# -- GS1 check digits, unknown references and future times -----------------------------------------

Case = tuple[str, Callable[[Any], TestResponse], int, str]


def _post(who: str, url: str, body: Callable[[Any], Any]) -> Callable[[Any], TestResponse]:
    def call(world: Any) -> TestResponse:
        return world.post(getattr(world, who), url.format(unit=UNIT), body(world))

    return call


FOOD: list[Case] = [
    # GS1 check digits
    ("scan gtin", _post("importer", "/api/v1/scans", lambda c: scan(c, gtin=BAD_GTIN)), 422, "check digit"),
    ("scan digital link", _post("importer", "/api/v1/scans", lambda c: scanned(
        c, f"https://id.gs1.org/01/0{BAD_GTIN}/10/X1")), 422, "check digit"),
    ("scan element string", _post("importer", "/api/v1/scans", lambda c: scanned(c, f"(01)0{BAD_GTIN}(10)X1")), 422,
     "check digit"),
    ("product gtin", _post("importer", "/api/v1/products", lambda c: {**LAMB, "gtin": "4006381333932"}), 422,
     "check digit"),
    ("transformation input", _post("kitchen", "/api/v1/transformations", lambda c: transformation(
        c, inputs=[{"gtin": BAD_GTIN, "lot": LOT, "quantity": 1, "unit": "箱"}])), 422, "check digit"),
    ("transformation output", _post("kitchen", "/api/v1/transformations", lambda c: transformation(
        c, output={**transformation(c)["output"], "gtin": "6901234567893"})), 422, "check digit"),
    ("epcis epcClass", _post("importer", "/api/v1/epcis/capture", lambda c: epcis(
        c, quantityList=[{"epcClass": LINK.replace("09506000134352", "0" + BAD_GTIN), "quantity": 1,
                          "uom": "CT"}])), 422, "check digit"),
    ("epcis bizLocation", _post("importer", "/api/v1/epcis/capture", lambda c: epcis(
        c, bizLocation={"id": f"https://id.gs1.org/414/{BAD_GLN}"})), 422, "check digit"),
    # References to nothing
    ("recall of no batch", _post("inspector", f"/api/v1/batches/{LAMB['gtin']}/NOPE/recalls",
                                 lambda c: {"reason": "抽检不合格"}), 404, "no batch"),
    ("scan from no org", _post("importer", "/api/v1/scans", lambda c: chain_receive(c)), 404, "org_nobody"),
    ("transformation of no batch", _post("kitchen", "/api/v1/transformations", lambda c: transformation(
        c, inputs=[{"gtin": LAMB["gtin"], "lot": "NOPE", "quantity": 1, "unit": "箱"}])), 404, "no batch"),
    ("epcis to no org", _post("importer", "/api/v1/epcis/capture", lambda c: epcis(
        c, bizStep="shipping", destinationList=[{"type": "possessing_party",
                                                 "destination": "urn:anlian:org:org_nobody"}])), 404, "org_nobody"),
    # Times beyond the clock skew
    ("scan reading", _post("importer", "/api/v1/scans", lambda c: scan(
        c, temperature_c=None, readings=[{"time": ahead(), "celsius": -19}])), 422, "future"),
    ("transformation time", _post("kitchen", "/api/v1/transformations", lambda c: transformation(
        c, event_time=ahead())), 422, "future"),
    ("epcis eventTime", _post("importer", "/api/v1/epcis/capture", lambda c: epcis(c, eventTime=ahead())), 422,
     "future"),
]  # fmt: skip


def chain_receive(chain: ColdChain) -> dict[str, Any]:
    return chain.scan_body("receive", quantity=1, unit="carton", event_time=ago(1), from_org_id="org_nobody")


EQUIPMENT: list[Case] = [
    # References to nothing
    ("check-in at no unit", _post("maintainer", "/api/v1/equipment/31103301062019000998/check-in",
                                  lambda lf: {}), 404, "31103301062019000998"),
    ("record for no unit", _post("maintainer", "/api/v1/equipment/31103301062019000998/maintenance", record), 404,
     "31103301062019000998"),
    ("inspection of no unit", _post("agency", "/api/v1/equipment/31103301062019000998/inspections",
                                    lambda lf: inspection()), 404, "31103301062019000998"),
    ("confirmation of no record", _post("owner", "/api/v1/equipment/{unit}/maintenance/999999/confirmation",
                                        lambda lf: {"safety_manager": "赵安全"}), 404, "999999"),
    ("move of no hazard", _post("inspector", "/api/v1/hazards/999999/transitions", lambda lf: {"to": "issued"}), 404,
     "999999"),
    ("step of no incident", _post("maintainer", "/api/v1/equipment/{unit}/incidents/999999/dispatched",
                                  lambda lf: {}), 404, "999999"),
    ("unit with no maintainer", _post("owner", "/api/v1/equipment", lambda lf: lf.unit_body(
        "31103301062019000999", "3301060101", "10009", maintenance_org_id="org_nobody")), 404, "org_nobody"),
    # Times beyond the clock skew
    ("check-in time", _post("maintainer", "/api/v1/equipment/{unit}/check-in", lambda lf: {"at": ahead()}), 422,
     "future"),
    ("incident time", _post("owner", "/api/v1/equipment/{unit}/incidents", lambda lf: incident(
        reported_at=ahead())), 422, "future"),
    ("incident step time", lambda lf: step_ahead(lf), 422, "future"),
]  # fmt: skip


def step_ahead(lifts: Elevators) -> TestResponse:
    reported = lifts.post(lifts.owner, f"/api/v1/equipment/{UNIT}/incidents", incident())
    assert reported.status_code == 201, reported.get_json()
    seq = reported.get_json()["incident_seq"]
    return lifts.post(lifts.maintainer, f"/api/v1/equipment/{UNIT}/incidents/{seq}/dispatched", {"at": ahead()})


@pytest.mark.parametrize("name, call, status, words", FOOD, ids=[case[0] for case in FOOD])
def test_food_writes_refuse_what_names_nothing_real(
    chain: ColdChain, name: str, call: Callable[[Any], TestResponse], status: int, words: str
) -> None:
    before = chain.size()
    problem = assert_problem(call(chain), status)
    assert words in problem["detail"], problem
    assert chain.size() == before


@pytest.mark.parametrize("name, call, status, words", EQUIPMENT, ids=[case[0] for case in EQUIPMENT])
def test_equipment_writes_refuse_what_names_nothing_real(
    lifts: Elevators, name: str, call: Callable[[Any], TestResponse], status: int, words: str
) -> None:
    before = lifts.size()
    response = call(lifts)
    if name == "incident step time":
        before += 1  # the incident reported first
    problem = assert_problem(response, status)
    assert words in problem["detail"], problem
    assert lifts.size() == before
