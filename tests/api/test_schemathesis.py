"""Every operation of our own ``/api/v1/openapi.json``, fuzzed by Schemathesis.

The document the app serves is the contract partners code against, so it is read from the app,
never from a copy.  Each generated request is sent as generated (without credentials, or with a
missing or malformed ``Authorization`` header) and again with the API key of each role the
operation is meant for.  Every answer must be no server error, with a status the operation
documents, in a content type it documents and a body its schema accepts; a request that breaks
the schema must be refused with a 4xx.

SQLite is enough here: what is fuzzed is request parsing, validation and the documents, which do
not depend on the database; the PostgreSQL behaviour is covered by the tests that run on both.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from requests.structures import CaseInsensitiveDict
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from api import context as app_context
from api import create_app
from ledger import keys
from ledger.db.engine import transaction
from ledger.db.tables import Grid
from ledger.domain import maintenance
from ledger.domain.orgs import ROLES
from ledger.services import checkpoints, orgs
from tests.coldchain import GRIDS, LAMB
from tests.conftest import ORIGIN
from tests.elevators import MEASURED, UNIT

DOCUMENT = "/api/v1/openapi.json"
# Examples per operation in the fuzzing phase; Schemathesis's coverage phase adds its boundary
# cases (each parameter missing, of the wrong type, out of its enum...) on top.  Twenty keep the
# file near half a minute on one core; ANLIAN_FUZZ_EXAMPLES=150 makes a deeper run.
MAX_EXAMPLES = int(os.environ.get("ANLIAN_FUZZ_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
LOT = "NZ-2026/11-A"

# Who is meant to call what: the first (method, path prefix) that matches wins.  Operations
# not listed are public.
CALLERS: list[tuple[str, str, tuple[str, ...]]] = [
    ("*", "/api/v1/orgs/{org_id}/sites", ("producer",)),
    ("*", "/api/v1/orgs", ("admin",)),
    ("POST", "/api/v1/grids/import", ("admin",)),
    ("POST", "/api/v1/ledger/witnesses", ("admin",)),
    ("GET", "/api/v1/sites", ("inspector", "producer")),
    ("POST", "/api/v1/products", ("producer",)),
    ("POST", "/api/v1/batches/{gtin}/{lot}/recalls", ("inspector",)),
    ("POST", "/api/v1/batches", ("producer",)),
    ("GET", "/api/v1/batches/{gtin}/{lot}/trace", ("inspector", "producer")),
    ("GET", "/api/v1/batches/{gtin}/{lot}/recall", ("inspector",)),
    ("*", "/api/v1/scans", ("producer",)),
    ("*", "/api/v1/holdings", ("producer",)),
    ("*", "/api/v1/shipments", ("carrier",)),
    ("*", "/api/v1/transformations", ("processor",)),
    ("POST", "/api/v1/epcis/capture", ("producer",)),
    ("GET", "/api/v1/epcis/events", ("inspector", "carrier")),
    ("*", "/api/v1/equipment/{code}/check-in", ("maintenance",)),
    ("*", "/api/v1/equipment/{code}/maintenance/{seq}", ("equipment_user",)),
    ("*", "/api/v1/equipment/{code}/maintenance", ("maintenance",)),
    ("*", "/api/v1/equipment/{code}/inspections", ("inspection_agency",)),
    ("*", "/api/v1/equipment/{code}/incidents", ("equipment_user",)),
    ("*", "/api/v1/equipment/{code}/hazards", ("inspector",)),
    ("GET", "/api/v1/equipment", ("inspector", "equipment_user")),
    ("*", "/api/v1/equipment", ("equipment_user",)),
    ("*", "/api/v1/hazards", ("inspector",)),
    ("*", "/api/v1/inspect", ("inspector",)),
    ("*", "/api/v1/my", ("maintenance",)),
    ("*", "/api/v1/risk/grades", ("inspector",)),
    ("*", "/api/v1/draws", ("inspector",)),
]


@dataclass
class World:
    keys: dict[str, str] = field(default_factory=dict)  # role -> API key of an organisation with that role only
    # Path parameter -> values that name something that exists, so that part of the requests
    # get past the lookup to the validation behind it.
    known: dict[str, list[Any]] = field(default_factory=dict)


WORLD = World()  # filled by the fixture; the path parameter hook below reads it while generating


def callers(method: str, path: str) -> tuple[str, ...]:
    for wanted, prefix, roles in CALLERS:
        if wanted in ("*", method) and path.startswith(prefix):
            return roles
    return ()


def _served_schema() -> schemathesis.BaseSchema:
    """The document as the app serves it.  Pytest needs the operations when it collects the
    tests, before any fixture runs, so this app only serves the document and never opens its
    database; the fuzzed app, built by the fixture, must serve the same one (checked there)."""
    app = create_app({"LEDGER_DATABASE_URL": "sqlite://", "LEDGER_SECRET_KEY": "d" * 32})
    return schemathesis.openapi.from_wsgi(DOCUMENT, app)


schema = _served_schema()


@schema.hook
def flatmap_path_parameters(
    context: Any, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    """The generated path parameters, or the same with the valid ones replaced by values that
    name something in the world.  An invalid one is left alone: it is what a negative case tests."""
    known = {
        name: st.sampled_from(WORLD.known[name])
        for name, value in (path_parameters or {}).items()
        if name in WORLD.known and _valid(context.operation, name, value)
    }
    if not known:
        return st.just(path_parameters)
    generated = {name: st.just(value) for name, value in (path_parameters or {}).items()}
    return st.one_of(st.just(path_parameters), st.fixed_dictionaries({**generated, **known}))


def _valid(operation: Any, name: str, value: Any) -> bool:
    parameters = schema.raw_schema["paths"][operation.path][operation.method.lower()]["parameters"]
    definition = next(p["schema"] for p in parameters if p["in"] == "path" and p["name"] == name)
    return Draft202012Validator(definition).is_valid(value)


@pytest.fixture(scope="module")
def fuzzed(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app and one world for every operation: building them per example would cost more
    than the fuzzing."""
    where = tmp_path_factory.mktemp("fuzz")
    shutil.copy(sqlite_template, where / "ledger.db")
    key_path = where / "signing-key.pem"
    keys.create_signing_key(key_path)
    app = create_app(
        {
            "LEDGER_DATABASE_URL": f"sqlite:///{where / 'ledger.db'}",
            "LEDGER_SIGNING_KEY_PATH": key_path,
            "LEDGER_ORIGIN": ORIGIN,
            # Thousands of requests a minute from one address are the point here.
            "RATELIMIT_ENABLED": "false",
        }
    )
    client = app.test_client()
    assert client.get(DOCUMENT).get_json() == schema.raw_schema
    _build_world(app, client)
    yield app
    WORLD.keys.clear()
    WORLD.known.clear()
    app.extensions["ledger.engine"].dispose()


def _build_world(app: Flask, client: FlaskClient) -> None:
    """An organisation per role, a coded batch, an elevator with a maintenance record, a hazard
    and an incident, a webhook and a signed checkpoint."""
    engine = app.extensions["ledger.engine"]
    with transaction(engine) as session:
        session.add_all(Grid(code=c, name=n, level=lvl, parent_code=p, updated_seq=0) for c, n, lvl, p in GRIDS)
    with transaction(engine) as session:
        scopes = {"inspector": ["330100"]}
        created = {
            role: orgs.create_organisation(session, orgs.OrgSpec(f"{role} 单位", [role], scopes=scopes.get(role, [])))
            for role in sorted(ROLES)
        }
        # The organisation the admin operations are fuzzed on: not one whose key the fuzzing uses.
        spare = orgs.create_organisation(session, orgs.OrgSpec("备用测试单位", ["retailer"]))
        site = orgs.register_site(
            session,
            {"org_id": created["producer"].org_id, "name": "宁波冷库", "address": "宁波市", "grid_code": "3301090101"},
            {"org": created["producer"].org_id},
        )
    WORLD.keys.update({role: org.api_key for role, org in created.items()})

    def post(role: str, url: str, body: dict[str, Any]) -> Any:
        response = client.post(url, json=body, headers={"Authorization": f"Bearer {WORLD.keys[role]}"})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    post("producer", "/api/v1/products", LAMB)
    batch = {"gtin": LAMB["gtin"], "lot": LOT, "site_id": site.id, "origin": {"country": "NZ"},
             "production_date": "2026-10-01", "expiry_date": "2027-10-01", "quantity": 400, "unit": "箱"}  # fmt: skip
    post("producer", "/api/v1/batches", batch)
    today = date.today()
    post("equipment_user", "/api/v1/equipment", {
        "code": UNIT, "category": "3000", "kind": "曳引驱动乘客电梯", "registration_number": "梯11浙A12345(19)",
        "emergency_code": "10001", "address": "杭州市西湖区文二西路", "grid_code": "3301060101",
        "user_org_id": created["equipment_user"].org_id, "maintenance_org_id": created["maintenance"].org_id,
        "contract_end": (today + timedelta(days=365)).isoformat(), "status": "in_use",
        "next_inspection_due": (today + timedelta(days=200)).isoformat(),
    })  # fmt: skip
    start = datetime.now(UTC) - timedelta(minutes=80)
    post("maintenance", f"/api/v1/equipment/{UNIT}/check-in", {"at": start.isoformat()})
    record = post("maintenance", f"/api/v1/equipment/{UNIT}/maintenance", {
        "client_event_id": str(uuid.uuid4()), "tier": "half_monthly", "check_in": start.isoformat(),
        "check_out": (start + timedelta(minutes=75)).isoformat(),
        "technicians": [{"name": "王芳", "certificate": "T3301000123"}, {"name": "李强", "certificate": "T3301000456"}],
        "items": [{"code": item.code, "result": "ok", **({"value": MEASURED[item.code]} if item.measured else {})}
                  for item in maintenance.checklist("half_monthly")],
    })  # fmt: skip
    hazard = post("inspector", f"/api/v1/equipment/{UNIT}/hazards", {"description": "轿厢应急照明不亮"})
    report = {"kind": "fault", "reported_via": "user", "reported_at": start.isoformat(), "description": "门不关"}
    incident = post("equipment_user", f"/api/v1/equipment/{UNIT}/incidents", report)
    hook = post("maintenance", "/api/v1/my/webhooks", {"url": "https://iot.example.cn/anlian/alerts"})
    with app.app_context(), transaction(engine) as session:
        checkpoints.sign_current(session, app_context.signer(), ORIGIN)
    WORLD.known.update(
        code=[UNIT],
        gtin=[LAMB["gtin"]],
        lot=[LOT],
        org_id=[spare.org_id],
        seq=[record["seq"], 1],
        hazard_seq=[hazard["hazard_seq"]],
        incident_seq=[incident["incident_seq"]],
        webhook_id=[hook["id"]],
    )


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_every_operation_keeps_its_contract(case: Case, fuzzed: Flask) -> None:
    case.call_and_validate(app=fuzzed, checks=CHECKS)
    for role in callers(case.method.upper(), case.path):
        # The same request with a valid key as its only header (no operation documents another;
        # the generated extra headers went with the call above).  A case that broke the schema
        # only in its headers is a valid request now, and Schemathesis judges it as one.
        headers = CaseInsensitiveDict({"Authorization": f"Bearer {WORLD.keys[role]}"})
        case.derive(headers=headers).call_and_validate(app=fuzzed, checks=CHECKS)
