"""EPCIS 2.0 through the API: partners capture documents as our scans (all or nothing, by
event index), and our events come back as documents GS1's schema accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft7Validator
from sqlalchemy import select

from ledger.db.engine import transaction
from ledger.db.tables import Holding
from ledger.domain.epcis import GS1_CONTEXT, event_hash
from tests.coldchain import DUMPLINGS, ColdChain

pytestmark = pytest.mark.filterwarnings("ignore:open_text is deprecated:DeprecationWarning")
SCHEMA = Draft7Validator(
    json.loads((Path(__file__).parent.parent / "vectors" / "epcis" / "EPCIS-JSON-Schema.json").read_text()),
    format_checker=Draft7Validator.FORMAT_CHECKER,
)
LOT = "NZ-2026/11-A"
LINK = "https://id.gs1.org/01/09506000134352/10/NZ-2026%2F11-A"


def document(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [GS1_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-20T00:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def object_event(step: str, when: str, quantity: float, **extra: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "bizStep": step,
        "eventTime": when,
        "eventTimeZoneOffset": "+08:00",
        "quantityList": [{"epcClass": extra.pop("epc", LINK), "quantity": quantity, "uom": "CT"}],
        "sensorElementList": [{"sensorReport": [{"type": "Temperature", "value": -19.2, "uom": "CEL"}]}],
        **extra,
    }


def to(org_id: str) -> dict[str, Any]:
    return {"destinationList": [{"type": "possessing_party", "destination": f"urn:anlian:org:{org_id}"}]}


@pytest.fixture
def chain(app: Flask, client: FlaskClient) -> ColdChain:
    chain = ColdChain(app, client)
    chain.batch(LOT, quantity=400, unit="carton")
    return chain


def capture(chain: ColdChain, who: Any, doc: dict[str, Any]) -> Any:
    return chain.client.post(
        "/api/v1/epcis/capture",
        data=json.dumps(doc),
        content_type="application/ld+json",
        headers={"Authorization": f"Bearer {who.api_key}"},
    )


def holdings(chain: ColdChain) -> dict[str, float]:
    with transaction(chain.engine, readonly=True) as session:
        return {h.org_id: h.quantity for h in session.scalars(select(Holding).where(Holding.lot == LOT))}


def test_partners_capture_a_journey_and_a_retry_records_nothing(chain: ColdChain) -> None:
    shipped = document(
        object_event("shipping", "2026-11-20T09:00:00+08:00", 300, eventID="urn:uuid:1", **to(chain.carrier.org_id))
    )
    first = capture(chain, chain.importer, shipped)
    assert first.status_code == 201, first.get_json()
    size = chain.size()
    again = capture(chain, chain.importer, shipped)
    assert again.status_code == 200 and again.get_json()["seqs"] == first.get_json()["seqs"] and chain.size() == size
    received = document(
        object_event("receiving", "2026-11-20T15:00:00+08:00", 300, eventID="urn:uuid:2"),
        object_event("storing", "2026-11-20T15:05:00+08:00", 300, eventID="urn:uuid:3"),
    )
    assert capture(chain, chain.carrier, received).status_code == 201
    assert holdings(chain) == {chain.importer.org_id: 100, chain.carrier.org_id: 300}
    entry = chain.client.get(f"/api/v1/ledger/entries/{first.get_json()['seqs'][0]}").get_json()["entry"]
    assert entry["kind"] == "scan.ship" and entry["payload"]["readings"][0]["celsius"] == -19.2
    assert entry["payload"]["epcis_event_id"] == "urn:uuid:1"


def test_one_bad_event_refuses_the_document_and_names_it(chain: ColdChain) -> None:
    before = chain.size()
    unknown_step = document(
        object_event("storing", "2026-11-20T09:00:00+08:00", 1, eventID="urn:uuid:a"),
        object_event("inspecting", "2026-11-20T09:10:00+08:00", 1, eventID="urn:uuid:b"),
    )
    refused = capture(chain, chain.importer, unknown_step)
    assert refused.status_code == 422 and refused.get_json()["index"] == 1
    assert refused.get_json()["detail"].startswith("eventList[1]")
    too_much = document(
        object_event("storing", "2026-11-20T09:00:00+08:00", 1, eventID="urn:uuid:c"),
        object_event("retail_selling", "2026-11-20T09:10:00+08:00", 100, eventID="urn:uuid:d"),
        object_event("retail_selling", "2026-11-20T09:20:00+08:00", 301, eventID="urn:uuid:e"),
    )
    custody = capture(chain, chain.importer, too_much)
    assert custody.status_code == 409 and custody.get_json()["index"] == 2, custody.get_json()
    assert chain.size() == before and holdings(chain)[chain.importer.org_id] == 400


def test_a_transformation_event_codes_the_output_batch(chain: ColdChain) -> None:
    chain.hand_over(chain.importer, chain.kitchen, LOT, 100, unit="carton")
    assert chain.post(chain.kitchen, "/api/v1/products", DUMPLINGS).status_code == 201
    output = f"https://id.gs1.org/01/0{DUMPLINGS['gtin']}/10/JZ-1"
    made = {
        "type": "TransformationEvent",
        "eventID": "urn:uuid:t1",
        "eventTime": "2026-11-21T08:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "bizStep": "commissioning",
        "inputQuantityList": [{"epcClass": LINK, "quantity": 40, "uom": "CT"}],
        "outputQuantityList": [{"epcClass": output, "quantity": 900, "uom": "H87"}],
        "bizLocation": {"id": f"urn:anlian:site:{chain.sites[chain.kitchen.org_id]}"},
        "ilmd": {"cbvmda:countryOfOrigin": "CN", "cbvmda:itemExpirationDate": "2027-05-21"},
    }
    response = capture(chain, chain.kitchen, document(made))
    assert response.status_code == 201, response.get_json()
    public = chain.client.get(f"/api/v1/public/batches/0{DUMPLINGS['gtin']}/JZ-1").get_json()
    assert public["made_from"][0]["lot"] == LOT and public["expiry_date"] == "2027-05-21"


def test_our_events_export_as_schema_valid_epcis_with_cbv_hash_ids(chain: ColdChain) -> None:
    chain.hand_over(chain.importer, chain.carrier, LOT, 300, unit="carton")
    chain.scan(chain.carrier, "store", LOT, 300, unit="carton", readings=[
        {"time": "2026-11-20T10:00:00+08:00", "celsius": -18.4}])  # fmt: skip
    exported = chain.get(chain.inspector, "/api/v1/epcis/events?" + urlencode({"MATCH_epc": LINK}))
    assert exported.status_code == 200 and exported.mimetype == "application/ld+json"
    doc = exported.get_json()
    assert list(SCHEMA.iter_errors(doc)) == []
    events = doc["epcisBody"]["eventList"]
    assert [e["bizStep"] for e in events] == ["shipping", "receiving", "storing"]
    for event in events:
        hashed = event.get("anlian:eventHash", event["eventID"])
        plain = {k: v for k, v in event.items() if k not in ("eventID", "anlian:eventHash")}
        assert hashed == event_hash(plain, doc["@context"])
    storing = chain.get(chain.inspector, "/api/v1/epcis/events?EQ_bizStep=storing").get_json()
    assert [e["bizStep"] for e in storing["epcisBody"]["eventList"]] == ["storing"]


def test_a_business_queries_only_its_own_events_a_page_at_a_time(chain: ColdChain) -> None:
    chain.hand_over(chain.importer, chain.carrier, LOT, 300, unit="carton")
    for _ in range(3):
        chain.scan(chain.carrier, "store", LOT, 1, unit="carton")
    mine = chain.get(chain.carrier, "/api/v1/epcis/events?perPage=2")
    assert len(mine.get_json()["epcisBody"]["eventList"]) == 2 and 'rel="next"' in mine.headers["Link"]
    following = mine.headers["Link"].split(">")[0].lstrip("<").split("/api/v1/epcis/events")[1]
    rest = chain.get(chain.carrier, "/api/v1/epcis/events" + following).get_json()["epcisBody"]["eventList"]
    assert [e["bizStep"] for e in rest] == ["storing", "storing"]
    importer = chain.get(chain.importer, "/api/v1/epcis/events").get_json()["epcisBody"]["eventList"]
    assert [e["bizStep"] for e in importer] == ["shipping"]
    assert chain.get(chain.carrier, "/api/v1/epcis/events?EQ_bizStep=juggling").status_code == 422
    assert chain.get(chain.carrier, "/api/v1/epcis/events?GE_eventTime=yesterday").status_code == 422
