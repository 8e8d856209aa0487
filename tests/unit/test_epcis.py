"""EPCIS 2.0: capturing documents into scan and transformation commands, exporting ledger
entries as documents (checked against GS1's JSON Schema and the reference hash generator), and
the query filter.  Pure: no database."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from ledger.domain.canonical import assemble_entry, decode_entry, encode_body
from ledger.domain.epcis import (
    BIZ_STEP_OF_ACTION,
    DISPOSITION_OF_ACTION,
    GS1_CONTEXT,
    GS1_CONTEXT_DRAFT,
    TRANSFORMATION_BIZ_STEP,
    EpcisEventError,
    event_hash,
)
from ledger.domain.epcis_capture import capture_document
from ledger.domain.epcis_export import export_document, filter_entries
from ledger.domain.scans import scan_spec
from ledger.domain.transformation import transformation_spec
from ledger.errors import InvalidEntry

# The generator's context loader uses importlib.resources.open_text, deprecated in Python 3.11 and 3.12.
pytestmark = pytest.mark.filterwarnings("ignore:open_text is deprecated:DeprecationWarning")

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
VECTORS = Path(__file__).parent.parent / "vectors" / "epcis"
SCHEMA = Draft7Validator(
    json.loads((VECTORS / "EPCIS-JSON-Schema.json").read_text()), format_checker=Draft7Validator.FORMAT_CHECKER
)
UUID_SHIP = "urn:uuid:0b9c3c32-8a3e-4c1e-9d3f-0a6f1f3e2d10"
UUID_MIX = "urn:uuid:5f1d2e4a-7b9c-4d21-8e3f-6a5b4c3d2e1f"
# The CBV 2.0 hash id of RECEIVE below, as the generator's command line computes it (pinned, and
# checked against the command line in test_a_hash_id_names_an_event_without_event_id).
HASH_RECEIVE = "ni:///sha-256;7c151f951e391cba8421a9effae4a4e0cc879395d7f1699a80275ba0d60b1136?ver=CBV2.0"
A_LINK = "https://id.gs1.org/01/09506000134352/10/NZ%2F26-A"  # lot "NZ/26-A", percent-encoded
B_LINK = "https://id.gs1.org/01/04023333020008/10/L%2F7"  # urn:epc:class:lgtin:4023333.002000.L%2F7
C_GTIN = "10614141000415"
C_LINK = f"https://id.gs1.org/01/{C_GTIN}"


def document(*events: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return {
        "@context": [GS1_CONTEXT, {"ex": "https://ns.example.com/epcis/"}] if context is None else context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-24T08:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


SHIP = {
    "eventID": UUID_SHIP,
    "type": "ObjectEvent",
    "action": "OBSERVE",
    "bizStep": "shipping",
    "disposition": "in_transit",
    "eventTime": "2026-11-20T01:30:00.000Z",
    "eventTimeZoneOffset": "+08:00",
    "quantityList": [
        {"epcClass": "HTTPS://Example.COM/01/09506000134352/10/NZ%2F26-A?17=270131", "quantity": 40, "uom": "CT"},
        {"epcClass": "urn:epc:class:lgtin:4023333.002000.L%2F7", "quantity": 12.5, "uom": "KGM"},
    ],
    "bizLocation": {"id": "urn:anlian:site:7"},
    "sourceList": [{"type": "possessing_party", "source": "urn:anlian:org:org_a"}],
    "destinationList": [
        {"type": "cbv:SDT-possessing_party", "destination": "urn:anlian:org:org_b"},
        {"type": "location", "destination": "urn:anlian:site:9"},
    ],
    "sensorElementList": [
        {
            "sensorMetadata": {"time": "2026-11-20T01:00:00Z", "deviceID": "urn:epc:id:giai:4000001.111"},
            "sensorReport": [
                {"type": "Temperature", "value": -18.5, "uom": "CEL"},
                {"type": "RelativeHumidity", "value": 80, "uom": "P1"},
            ],
        },
        {
            "sensorReport": [
                {"type": "gs1:Temperature", "time": "2026-11-20T09:10:00+08:00", "value": -4, "uom": "FAR"},
                {"type": "https://gs1.org/voc/Temperature", "value": 255.15, "uom": "KEL"},
            ]
        },
    ],
    "ex:note": "a partner's own extension",
}
RECEIVE = {
    "type": "ObjectEvent",
    "action": "ADD",
    "bizStep": "https://ref.gs1.org/cbv/BizStep-receiving",
    "eventTime": "2026-11-21T10:00:00+08:00",
    "eventTimeZoneOffset": "+08:00",
    "epcList": [
        f"{C_LINK}/10/B1/21/001",
        f"{C_LINK}/10/B1/21/002",
        f"https://scan.example.cn/01/{C_GTIN}/10/B1/21/001",  # the same item on another host: counted once
        f"{C_LINK}/10/B2/21/001",
    ],
    "readPoint": {"id": "urn:epc:id:sgln:9529999.99999.0"},
    "sourceList": [{"type": "https://ref.gs1.org/cbv/SDT-owning_party", "source": "urn:anlian:org:org_a"}],
}
STORE = {
    "eventID": "urn:uuid:6a1e0c1e-1b5a-4e8b-a0c2-2f7d3e9b8c71",
    "type": "ObjectEvent",
    "action": "OBSERVE",
    "bizStep": "urn:epcglobal:cbv:bizstep:storing",
    "eventTime": "2026-11-21T17:00:00Z",
    "eventTimeZoneOffset": "-05:00",
    "quantityList": [{"epcClass": A_LINK, "quantity": 5, "uom": "BG"}],
    "bizLocation": {"id": "https://id.gs1.org/414/4012345000054/254/3"},
}
SELL = {
    "eventID": "urn:uuid:8c0f5b7e-3d2a-4f61-9e8d-1a2b3c4d5e6f",
    "type": "ObjectEvent",
    "action": "OBSERVE",
    "bizStep": "cbv:BizStep-retail_selling",
    "eventTime": "2026-11-22T08:15:30.250+08:00",
    "eventTimeZoneOffset": "+08:00",
    "quantityList": [{"epcClass": A_LINK, "quantity": 3}],
    "bizLocation": {"id": "urn:anlian:site:12"},
}
DISPOSE = {
    "eventID": "urn:uuid:9d1e6c8f-4e3b-4a72-8f9e-2b3c4d5e6f70",
    "type": "ObjectEvent",
    "action": "DELETE",
    "bizStep": "destroying",
    "disposition": "https://ref.gs1.org/cbv/Disp-damaged",
    "eventTime": "2026-11-23T09:00:00+08:00",
    "eventTimeZoneOffset": "+08:00",
    "quantityList": [{"epcClass": "urn:epc:class:lgtin:4023333.002000.L%2F7", "quantity": 2, "uom": "KGM"}],
    "bizLocation": {"id": "urn:anlian:site:7"},
}
MIX = {
    "eventID": UUID_MIX,
    "type": "TransformationEvent",
    "eventTime": "2026-11-19T20:00:00Z",
    "eventTimeZoneOffset": "+08:00",
    "inputQuantityList": [
        {"epcClass": A_LINK, "quantity": 10, "uom": "KGM"},
        {"epcClass": "urn:epc:class:lgtin:4023333.002000.L%2F7", "quantity": 2.5, "uom": "KGM"},
    ],
    "inputEPCList": [f"{C_LINK}/10/B1/21/001", f"{C_LINK}/10/B1/21/002"],
    "outputQuantityList": [
        {"epcClass": "https://id.gs1.org/01/04006381333931/10/MIX-1120", "quantity": 12, "uom": "KGM"}
    ],
    "bizStep": "commissioning",
    "bizLocation": {"id": "urn:anlian:site:7"},
    "ilmd": {"cbvmda:countryOfOrigin": "NZ", "cbvmda:itemExpirationDate": "2027-05-20"},
}


def scan(**fields: Any) -> dict[str, Any]:
    command = {
        "client_event_id": None, "action": None, "code": None, "quantity": None, "unit": None, "event_time": None,
        "readings": [], "site_id": None, "gln": None, "to_org_id": None, "from_org_id": None, "reason": None,
        "epcis_event_id": None,
    }  # fmt: skip
    command.update(fields)
    return command


SHIP_READINGS = [
    {"time": "2026-11-20T09:00:00+08:00", "celsius": -18.5},  # sensorMetadata.time
    {"time": "2026-11-20T09:10:00+08:00", "celsius": -20.0},  # the report's own time; -4 °F
    {"time": "2026-11-20T09:30:00+08:00", "celsius": -18.0},  # no time: the event's; 255.15 K
]
SHIP_SHARED = {
    "action": "ship", "event_time": "2026-11-20T09:30:00+08:00", "readings": SHIP_READINGS, "site_id": 7,
    "to_org_id": "org_b", "epcis_event_id": UUID_SHIP,
}  # fmt: skip
RECEIVE_SHARED = {
    "action": "receive", "event_time": "2026-11-21T10:00:00+08:00", "gln": "9529999999993", "from_org_id": "org_a",
    "epcis_event_id": HASH_RECEIVE, "unit": "piece",
}  # fmt: skip
EXPECTED_SCANS = [
    scan(client_event_id=UUID_SHIP, code=A_LINK, quantity=40.0, unit="carton", **SHIP_SHARED),
    scan(client_event_id=f"{UUID_SHIP}#1", code=B_LINK, quantity=12.5, unit="kg", **SHIP_SHARED),
    scan(client_event_id=HASH_RECEIVE, code=f"{C_LINK}/10/B1", quantity=2.0, **RECEIVE_SHARED),
    scan(client_event_id=f"{HASH_RECEIVE}#1", code=f"{C_LINK}/10/B2", quantity=1.0, **RECEIVE_SHARED),
    scan(
        client_event_id=STORE["eventID"], action="store", code=A_LINK, quantity=5.0, unit="BG",
        event_time="2026-11-21T12:00:00-05:00", gln="4012345000054", epcis_event_id=STORE["eventID"],
    ),
    scan(
        client_event_id=SELL["eventID"], action="sell", code=A_LINK, quantity=3.0, unit="piece",
        event_time="2026-11-22T08:15:30.250000+08:00", site_id=12, epcis_event_id=SELL["eventID"],
    ),
    scan(
        client_event_id=DISPOSE["eventID"], action="dispose", code=B_LINK, quantity=2.0, unit="kg",
        event_time="2026-11-23T09:00:00+08:00", site_id=7, reason="damaged", epcis_event_id=DISPOSE["eventID"],
    ),
]  # fmt: skip
EXPECTED_MIX = {
    "client_event_id": UUID_MIX,
    "event_time": "2026-11-20T04:00:00+08:00",
    "epcis_event_id": UUID_MIX,
    "inputs": [
        {"code": A_LINK, "quantity": 10.0, "unit": "kg"},
        {"code": B_LINK, "quantity": 2.5, "unit": "kg"},
        {"code": f"{C_LINK}/10/B1", "quantity": 2.0, "unit": "piece"},
    ],
    "output": {
        "gtin": "04006381333931",
        "lot": "MIX-1120",
        "site_id": 7,
        "origin": {"country": "NZ"},
        "production_date": "2026-11-20",  # the event's local date; in UTC it is still the 19th
        "expiry_date": "2027-05-20",
        "quantity": 12.0,
        "unit": "kg",
        "documents": [],
    },
}


def commands(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [captured.command for captured in capture_document(doc, NOW)]


def refusal(doc: dict[str, Any]) -> EpcisEventError:
    with pytest.raises(EpcisEventError) as caught:
        capture_document(doc, NOW)
    return caught.value


def gs1_example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return loaded


def generator_cli(doc: dict[str, Any], tmp_path: Path) -> list[str]:
    """The hash ids the reference hash generator prints for a document, run as its own process."""
    path = tmp_path / "document.jsonld"
    path.write_text(json.dumps(doc))
    run = subprocess.run(
        [sys.executable, "-m", "epcis_event_hash_generator", str(path)], capture_output=True, text=True, check=True
    )
    return [line for line in run.stdout.splitlines() if line.startswith("ni:///")]


# --- capture -------------------------------------------------------------------------------


def test_object_events_become_one_scan_per_batch() -> None:
    assert commands(document(SHIP, RECEIVE, STORE, SELL, DISPOSE)) == EXPECTED_SCANS


def test_captured_commands_carry_their_event_index_and_route() -> None:
    captured = capture_document(document(SHIP, MIX, RECEIVE), NOW)
    assert [(c.index, c.kind) for c in captured] == [
        (0, "scan"),
        (0, "scan"),
        (1, "transformation"),
        (2, "scan"),
        (2, "scan"),
    ]


def test_a_transformation_event_becomes_a_transformation_command() -> None:
    assert commands(document(MIX)) == [EXPECTED_MIX]


def test_a_transformation_without_ilmd_comes_from_china_and_has_no_expiry() -> None:
    event = {key: value for key, value in MIX.items() if key != "ilmd"}
    (command,) = commands(document(event))
    assert command["output"]["origin"] == {"country": "CN"}
    assert command["output"]["expiry_date"] is None


def test_a_hash_id_names_an_event_without_event_id(tmp_path: Path) -> None:
    """The id is the generator's, computed by its own command line in a fresh process."""
    assert generator_cli(document(RECEIVE), tmp_path) == [HASH_RECEIVE]
    assert commands(document(RECEIVE))[0]["client_event_id"] == HASH_RECEIVE


@pytest.mark.parametrize(
    "step",
    ["storing", "cbv:BizStep-storing", "https://ref.gs1.org/cbv/BizStep-storing", "urn:epcglobal:cbv:bizstep:storing"],
)
def test_every_spelling_of_a_biz_step_is_read(step: str) -> None:
    assert commands(document({**STORE, "bizStep": step}))[0]["action"] == "store"


@pytest.mark.parametrize(
    "context",
    [
        GS1_CONTEXT,
        GS1_CONTEXT_DRAFT,
        [GS1_CONTEXT_DRAFT, {"ex": "https://ns.example.com/"}, "https://example.com/other"],
    ],
)
def test_either_gs1_context_is_accepted_as_a_string_or_in_a_list(context: Any) -> None:
    assert commands(document(STORE, context=context)) == [EXPECTED_SCANS[4]]


def test_a_context_is_never_fetched_to_hash_an_event() -> None:
    inline = {"@import": "https://example.com/more-terms.jsonld"}
    refused = refusal(document(STORE, {**SELL, "eventID": None}, context=[GS1_CONTEXT, inline]))
    assert refused.index == 1
    assert "https://example.com/more-terms.jsonld is not fetched" in str(refused)


def test_a_gs1_example_with_a_mapped_biz_step_is_captured() -> None:
    event_id = "ni:///sha-256;115b14983df54a9bcc3dd6a00dc4ebcab000bd52fda0abdd8996907e01dccc23?ver=CBV2.0"
    assert commands(gs1_example("Example_9.6.2-ObjectEventWithDigitalLink.jsonld")) == [
        scan(
            client_event_id=event_id, action="receive", code="https://id.gs1.org/01/70614141123451/10/998877",
            quantity=200.0, unit="kg", event_time="2013-06-08T16:58:56.591000+02:00",
            gln="0614141008889",  # bizLocation urn:epc:id:sgln:0614141.00888.0; the readPoint is not used
            epcis_event_id=event_id,
        )
    ]  # fmt: skip


def test_gs1_sensor_reports_become_readings() -> None:
    doc = gs1_example("SensorDataExample4.jsonld")
    doc["epcisBody"]["eventList"][0]["bizStep"] = "storing"  # GS1's example says inspecting
    (command,) = commands(doc)
    assert command["code"] == "https://id.gs1.org/01/04023333020008/10/2019-10-07"
    assert (command["quantity"], command["unit"], command["gln"]) == (150.0, "kg", "4012345000054")
    assert command["readings"] == [{"time": "2019-04-02T14:55:00+01:00", "celsius": 26.0}]  # humidity etc. left out


@pytest.mark.parametrize(
    "name, reason",
    [
        ("SensorDataExample4.jsonld", "bizStep 'inspecting' is not one we record"),
        ("Example_9.6.1-ObjectEventWithDigitalLink.jsonld", "epcList[0] 'https://id.gs1.org/01/70614141123451/21/2017'"),
        ("Example_9.6.4-TransformationEventWithDigitalLink.jsonld", "inputQuantityList[2].epcClass 'https://id.gs1"),
    ],
)  # fmt: skip
def test_gs1_examples_we_cannot_record_are_refused_naming_the_event(name: str, reason: str) -> None:
    refused = refusal(gs1_example(name))
    assert refused.index == 0
    assert str(refused).startswith(f"eventList[0]: {reason}")


def _without(event: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in event.items() if name != key}


def _store_with(**fields: Any) -> dict[str, Any]:
    return {**STORE, **fields}


def _holding(epc_class: str, **element: Any) -> dict[str, Any]:
    return _store_with(quantityList=[{"epcClass": epc_class, "quantity": 1, **element}])


def _temperature(**report: Any) -> dict[str, Any]:
    return _store_with(sensorElementList=[{"sensorReport": [{"type": "Temperature", "uom": "CEL", **report}]}])


TWO_RECEIVERS = [{"type": "possessing_party", "destination": f"urn:anlian:org:{org}"} for org in ("x", "y")]
BAD_EVENTS: list[tuple[str, Any, str]] = [
    ("unknown event type", {**STORE, "type": "AggregationEvent"}, "type 'AggregationEvent' is not recorded here"),
    ("no type", _without(STORE, "type"), "type is required"),
    ("no eventTime", _without(STORE, "eventTime"), "eventTime is required"),
    ("eventTime without offset", _store_with(eventTime="2026-11-21T17:00:00"), "needs its UTC offset"),
    ("no eventTimeZoneOffset", _without(STORE, "eventTimeZoneOffset"), "eventTimeZoneOffset is required"),
    ("future eventTime", _store_with(eventTime="2026-11-26T13:00:00Z"), "more than 5 minutes in the future"),
    ("unmapped bizStep", _store_with(bizStep="inspecting"), "bizStep 'inspecting' is not one we record"),
    ("unmapped bizStep URI", _store_with(bizStep="https://ref.gs1.org/cbv/BizStep-loading"), "is not one we record"),
    ("no bizStep", _without(STORE, "bizStep"), "bizStep is required"),
    ("ADD outside receiving", _store_with(action="ADD"), "action must be OBSERVE for bizStep"),
    ("bad GTIN check digit", _holding("https://id.gs1.org/01/09506000134353/10/A"), "check digit should be 2, not 3"),
    ("bad GLN check digit", _store_with(bizLocation={"id": "https://id.gs1.org/414/4012345000055"}), "should be 4"),
    ("class without lot", _holding("https://id.gs1.org/01/09506000134352"), "must name a batch"),
    ("class that is no GS1 key", _holding("urn:example:thing"), "must be a GS1 Digital Link"),
    ("no quantity", _holding(A_LINK, quantity=None), "quantityList[0].quantity is required"),
    ("no goods", _without(STORE, "quantityList"), "the event names no goods"),
    (
        "item without lot",
        _store_with(quantityList=[], epcList=["urn:epc:id:sgtin:0614141.107346.2018"]),
        "names no lot",
    ),
    ("temperature without value", _temperature(minValue=1), "without a value"),
    ("temperature in an unknown unit", _temperature(value=1, uom="XYZ"), "must be CEL, FAR or KEL"),
    ("temperature out of range", _temperature(value=120), "a sensor fault"),
    ("bad site", _store_with(bizLocation={"id": "urn:anlian:site:seven"}), "must be urn:anlian:site:"),
    ("shipment to nobody", {**SHIP, "destinationList": []}, "a shipment needs destinationList"),
    ("two receivers", {**SHIP, "destinationList": TWO_RECEIVERS}, "more than one possessing_party"),
    ("retraction", _store_with(errorDeclaration={"declarationTime": "2026-11-22T00:00:00Z"}), "errorDeclaration"),
    ("two outputs", {**MIX, "outputEPCList": [f"{C_LINK}/10/B9/21/1"]}, "exactly one batch; the event names 2"),
    ("output elsewhere", {**MIX, "bizLocation": {"id": "urn:epc:id:sgln:4012345.00005.0"}}, "must be urn:anlian:site:"),
    ("no event object", "ObjectEvent", "an event must be a JSON object"),
]


@pytest.mark.parametrize("bad, reason", [case[1:] for case in BAD_EVENTS], ids=[case[0] for case in BAD_EVENTS])
def test_a_bad_event_refuses_the_document_naming_its_index(bad: Any, reason: str) -> None:
    refused = refusal(document(SELL, bad, {**STORE, "type": "AssociationEvent"}))  # the third is bad too
    assert isinstance(refused, InvalidEntry)
    assert refused.index == 1
    assert str(refused).startswith("eventList[1]: ")
    assert reason in str(refused)


def test_more_than_1000_events_are_refused_at_the_first_beyond() -> None:
    refused = refusal(document(*[SELL] * 1001))
    assert refused.index == 1000
    assert str(refused).startswith("eventList[1000]: a document may carry at most 1000 events")
    assert len(commands(document(*[SELL] * 1000))) == 1000


@pytest.mark.parametrize(
    "doc, reason",
    [
        ([], "EPCISDocument"),
        ({**document(SELL), "type": "EPCISQueryDocument"}, "EPCISDocument"),
        (document(SELL, context="https://example.com/my-context.jsonld"), "@context must name GS1's"),
        ({**document(SELL), "epcisBody": {"event": SELL}}, "eventList must be a list"),
    ],
)
def test_a_document_we_cannot_read_is_refused_as_a_whole(doc: Any, reason: str) -> None:
    with pytest.raises(InvalidEntry, match=reason) as caught:
        capture_document(doc, NOW)
    assert caught.value.index is None


# --- export ---------------------------------------------------------------------------------


def _entry(seq: int, kind: str, payload: dict[str, Any], org: str = "org_a") -> dict[str, Any]:
    """A ledger entry as stored and decoded: the RFC 8785 bytes, so 12.0 comes back as 12."""
    body = encode_body(kind, f"subject:{seq}", {"org": org}, payload)
    return decode_entry(assemble_entry(body, seq, "2026-11-24T08:00:00.000000Z", "0" * 64)).as_object()


def stored(*captured: dict[str, Any]) -> list[dict[str, Any]]:
    """Commands recorded as the services record them (a transformation also codes its output)."""
    entries: list[dict[str, Any]] = []
    for command in captured:
        if "inputs" in command:
            spec = transformation_spec(command, NOW)
            entries.append(_entry(len(entries), "batch.registered", spec.output.payload("org_a", "330106")))
            entries.append(_entry(len(entries), "transformation.recorded", spec.payload()))
        else:
            spec_ = scan_spec(command, NOW)
            entries.append(_entry(len(entries), spec_.kind, spec_.payload()))
    return entries


def all_entries() -> list[dict[str, Any]]:
    return stored(*EXPECTED_SCANS, EXPECTED_MIX)


def test_export_is_valid_against_gs1_json_schema() -> None:
    doc = export_document(all_entries(), NOW)
    assert [error.message for error in SCHEMA.iter_errors(doc)] == []


def test_the_schema_check_can_fail() -> None:
    """The validator checks formats too: a bad URI or time is caught, not only a missing field."""
    doc = export_document(all_entries(), NOW)
    for break_it in (
        lambda d: d["epcisBody"]["eventList"][0]["quantityList"][0].update(epcClass="https://id.gs1.org/01/1/10/A B"),
        lambda d: d["epcisBody"]["eventList"][0].update(eventTime="2026-11-20 09:30"),
        lambda d: d["epcisBody"]["eventList"][0].update(eventTimeZoneOffset="+8"),
        lambda d: d["epcisBody"]["eventList"][0].pop("eventTime"),
    ):
        broken = copy.deepcopy(doc)
        break_it(broken)
        assert list(SCHEMA.iter_errors(broken)), break_it


@pytest.mark.parametrize(
    "name", sorted(path.name for path in VECTORS.glob("Example*.jsonld")) + ["SensorDataExample4.jsonld"]
)
def test_gs1_examples_pass_the_schema_check(name: str) -> None:
    assert [error.message for error in SCHEMA.iter_errors(gs1_example(name))] == []


def test_export_maps_actions_places_parties_and_readings() -> None:
    events = export_document(all_entries(), NOW)["epcisBody"]["eventList"]
    ship, receive, store, sell, dispose, mix = events
    assert [(e["bizStep"], e.get("disposition")) for e in events] == [
        ("shipping", "in_transit"), ("receiving", "in_progress"), ("storing", "in_progress"),
        ("retail_selling", "retail_sold"), ("destroying", "destroyed"), ("commissioning", None),
    ]  # fmt: skip
    assert ship["quantityList"] == [
        {"epcClass": A_LINK, "quantity": 40, "uom": "CT"},
        {"epcClass": B_LINK, "quantity": 12.5, "uom": "KGM"},
    ]
    assert ship["sourceList"] == [{"type": "possessing_party", "source": "urn:anlian:org:org_a"}]
    assert ship["destinationList"] == [{"type": "possessing_party", "destination": "urn:anlian:org:org_b"}]
    assert ship["sensorElementList"][1] == {
        "sensorMetadata": {"time": "2026-11-20T09:10:00+08:00"},
        "sensorReport": [{"type": "Temperature", "value": -20, "uom": "CEL"}],
    }
    assert (ship["eventTime"], ship["eventTimeZoneOffset"]) == ("2026-11-20T09:30:00+08:00", "+08:00")
    assert "readPoint" not in receive
    assert receive["bizLocation"] == {"id": "https://id.gs1.org/414/9529999999993"}
    assert receive["sourceList"] == [{"type": "possessing_party", "source": "urn:anlian:org:org_a"}]
    assert store["quantityList"] == [{"epcClass": A_LINK, "quantity": 5, "uom": "BG"}]
    assert sell["quantityList"] == [{"epcClass": A_LINK, "quantity": 3, "uom": "H87"}]
    assert dispose["anlian:reason"] == "damaged"
    assert mix["inputQuantityList"][2] == {"epcClass": f"{C_LINK}/10/B1", "quantity": 2, "uom": "H87"}
    assert mix["ilmd"] == {"cbvmda:countryOfOrigin": "NZ", "cbvmda:itemExpirationDate": "2027-05-20"}
    assert [e["anlian:seq"] for e in events] == [[0, 1], [2, 3], [4], [5], [6], [8]]


def test_export_declares_its_extension_prefix() -> None:
    doc = export_document(all_entries(), NOW)
    assert doc["@context"] == [GS1_CONTEXT, {"anlian": "urn:anlian:epcis:"}]
    assert (doc["type"], doc["schemaVersion"], doc["creationDate"]) == (
        "EPCISDocument",
        "2.0",
        "2026-11-26T12:00:00+00:00",
    )


def test_export_hash_ids_are_the_reference_generators(tmp_path: Path) -> None:
    """Run the reference hash generator on the exported document, in its own process: its hash of
    each event (``anlian:eventHash`` taken out, as the hash cannot cover itself) is ours."""
    posted = scan_spec(
        {"client_event_id": "d-1", "action": "store", "code": A_LINK, "quantity": 1, "unit": "kg",
         "event_time": "2026-11-24T07:00:00.999700+08:00",
         "readings": [{"time": "2026-11-24T06:59:59.9996+08:00", "celsius": 3}]},
        NOW,
    )  # fmt: skip
    entries = [*all_entries(), _entry(9, posted.kind, posted.payload())]
    events = export_document(entries, NOW)["epcisBody"]["eventList"]
    ours = [event.get("anlian:eventHash", event["eventID"]) for event in events]
    for event in events:
        event.pop("anlian:eventHash", None)
    carried = copy.deepcopy(events[-1])  # the generator fails on .9997 s: give it the second carried over
    carried["eventTime"] = "2026-11-24T07:00:01+08:00"
    carried["sensorElementList"][0]["sensorMetadata"]["time"] = "2026-11-24T07:00:00+08:00"
    assert (
        generator_cli(export_document([], NOW) | {"epcisBody": {"eventList": [*events[:-1], carried]}}, tmp_path)
        == ours
    )
    assert len(set(ours)) == len(ours)


def test_the_generator_still_drops_an_event_timed_past_999_5_ms(tmp_path: Path) -> None:
    """Why ``event_hash`` carries the second itself: without it the event has no hash at all."""
    event = {**SELL, "eventTime": "2026-11-22T08:15:30.9996+08:00"}
    assert generator_cli(document(event), tmp_path) == []
    assert (
        event_hash(event, [GS1_CONTEXT])
        == generator_cli(document({**event, "eventTime": "2026-11-22T08:15:31+08:00"}), tmp_path)[0]
    )


def test_event_id_is_the_hash_unless_the_event_came_with_its_own() -> None:
    posted = scan_spec({"client_event_id": "d-1", "action": "sell", "code": A_LINK, "quantity": 1, "unit": "kg",
                        "event_time": "2026-11-24T07:00:00+08:00"}, NOW)  # fmt: skip
    entries = [*stored(EXPECTED_SCANS[5]), _entry(1, posted.kind, posted.payload())]
    captured_sell, posted_sell = export_document(entries, NOW)["epcisBody"]["eventList"]
    assert captured_sell["eventID"] == SELL["eventID"]
    assert captured_sell["anlian:eventHash"].startswith("ni:///sha-256;")
    assert posted_sell["eventID"].startswith("ni:///sha-256;")
    assert "anlian:eventHash" not in posted_sell


def test_an_event_id_is_used_once_per_document() -> None:
    later = {**EXPECTED_SCANS[5], "client_event_id": "again", "event_time": "2026-11-22T09:00:00+08:00"}
    first, second = export_document(stored(EXPECTED_SCANS[5], later), NOW)["epcisBody"]["eventList"]
    assert first["eventID"] == SELL["eventID"]
    assert second["eventID"].startswith("ni:///sha-256;")  # its hash id, so no anlian:eventHash beside it
    assert "anlian:eventHash" not in second


def test_capture_of_an_export_gives_back_the_same_commands() -> None:
    assert commands(export_document(all_entries(), NOW)) == [*EXPECTED_SCANS, EXPECTED_MIX]


def test_a_free_text_disposal_reason_survives_the_round_trip() -> None:
    disposal = {**EXPECTED_SCANS[6], "reason": "包装破损, 解冻"}
    assert commands(export_document(stored(disposal), NOW)) == [disposal]


def test_a_unit_without_a_code_comes_back_as_a_count() -> None:
    """EPCIS reads a quantity without uom as a number of items, our "piece"."""
    bags = {**EXPECTED_SCANS[5], "unit": "bag"}
    (event,) = export_document(stored(bags), NOW)["epcisBody"]["eventList"]
    assert event["quantityList"] == [{"epcClass": A_LINK, "quantity": 3}]
    assert commands(export_document(stored(bags), NOW)) == [{**bags, "unit": "piece"}]


def test_exported_vocabulary_is_defined_in_gs1_context() -> None:
    context = json.loads((VECTORS / "epcis-context-2.0.0.jsonld").read_text())["@context"]
    for step in [*BIZ_STEP_OF_ACTION.values(), TRANSFORMATION_BIZ_STEP]:
        assert context["bizStep"]["@context"][step] == f"cbv:BizStep-{step}"
    for disposition in DISPOSITION_OF_ACTION.values():
        assert context["disposition"]["@context"][disposition] == f"cbv:Disp-{disposition}"
    for party in ("possessing_party", "location"):
        assert context["destinationList"]["@context"]["type"]["@context"][party] == f"cbv:SDT-{party}"
    sensor_types = context["sensorElementList"]["@context"]["sensorReport"]["@context"]["type"]["@context"]
    assert sensor_types["Temperature"] == "gs1:Temperature"
    assert context["cbvmda"] == "urn:epcglobal:cbv:mda:"


def test_an_event_hash_depends_on_that_event_alone() -> None:
    """The generator remembers prefixes from documents it read before; we do not let it."""
    event = {**SELL, "ex:note": "x"}
    alone = event_hash(event, [GS1_CONTEXT])
    event_hash(event, [GS1_CONTEXT, {"ex": "https://elsewhere.example/"}])
    assert event_hash(event, [GS1_CONTEXT]) == alone
    assert event["eventTime"] == SELL["eventTime"] and event["bizStep"] == SELL["bizStep"]  # not rewritten


def test_the_core_stays_free_of_flask_and_sqlalchemy_and_keeps_sys_path() -> None:
    code = (
        "import sys; before = list(sys.path)\n"
        "from ledger.domain import epcis, epcis_capture, epcis_export\n"
        f"epcis.event_hash({SELL!r}, [{GS1_CONTEXT!r}])\n"
        "assert sys.path == before, sys.path[:3]\n"
        "assert not {'flask', 'sqlalchemy'} & set(sys.modules), 'web or database code imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent.parent)


# --- query filter ---------------------------------------------------------------------------


def seqs(**query: Any) -> list[int]:
    return [entry["seq"] for entry in filter_entries(all_entries(), **query)]


@pytest.mark.parametrize(
    "query, expected",
    [
        ({}, [0, 1, 2, 3, 4, 5, 6, 7, 8]),
        ({"epc": "https://scan.example.cn/01/09506000134352/10/NZ%2F26-A?17=270131"}, [0, 1, 4, 5, 7, 8]),
        ({"epc": "urn:epc:class:lgtin:4023333.002000.L%2F7"}, [0, 1, 6, 7, 8]),
        ({"epc": C_LINK}, [2, 3, 7, 8]),  # every lot of the GTIN
        ({"epc": f"{C_LINK}/10/B2/21/001"}, [2, 3]),  # an item: its batch; the event whole
        ({"biz_step": "receiving"}, [2, 3]),
        ({"biz_step": "https://ref.gs1.org/cbv/BizStep-commissioning"}, [7, 8]),
        ({"ge_event_time": "2026-11-21T10:00:00+08:00", "lt_event_time": "2026-11-22T08:15:30.25+08:00"}, [2, 3, 4]),
        ({"ge_event_time": datetime(2026, 11, 22, 0, 15, 30, 250000, tzinfo=UTC)}, [5, 6]),
        ({"epc": A_LINK, "biz_step": "cbv:BizStep-storing", "lt_event_time": "2026-12-01T00:00:00Z"}, [4]),
    ],
)
def test_filter_keeps_whole_events_that_match(query: dict[str, Any], expected: list[int]) -> None:
    assert seqs(**query) == expected


@pytest.mark.parametrize(
    "query, reason",
    [
        ({"epc": "batch 7"}, "must be a GS1 Digital Link"),
        ({"epc": "https://id.gs1.org/01/09506000134353/10/A"}, "check digit"),
        ({"biz_step": "Shipping!"}, "not a CBV business step"),
        ({"ge_event_time": "2026-11-21"}, "needs its UTC offset"),
        ({"lt_event_time": "yesterday"}, "LT_eventTime 'yesterday' is not an RFC 3339 time"),
    ],
)
def test_filter_refuses_what_it_cannot_read(query: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidEntry, match=reason):
        filter_entries(all_entries(), **query)


def test_filtered_entries_export_as_the_same_events() -> None:
    """The same eventIDs and content: a transformation keeps its output's ILMD."""
    full = export_document(all_entries(), NOW)["epcisBody"]["eventList"]
    part = export_document(filter_entries(all_entries(), epc=B_LINK), NOW)["epcisBody"]["eventList"]
    assert part == [full[0], full[4], full[5]]
