"""Elevators through the API: the registry, maintenance by QR scan (TSG T5002), inspections,
entrapments and the hazard loop, and the public view from the car."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.context import signer as app_signer
from ledger.db import store
from ledger.db.engine import transaction
from ledger.domain.access import Forbidden
from ledger.domain.checkpoint import NoteVerifier, open_checkpoint
from ledger.domain.merkle import verify_inclusion
from ledger.errors import IdempotencyConflict
from ledger.services import auth, checkpoints, hazards, users
from tests.conftest import ORIGIN
from tests.elevators import OTHER_UNIT, UNIT, Elevators, local_today

PHOTO = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
PASSWORD = "西溪 巡查 2026 冬"  # noqa: S105 (test data)


@pytest.fixture
def lifts(app: Flask, client: FlaskClient) -> Elevators:
    return Elevators(app, client)


def clocks(lifts: Elevators, code: str = UNIT) -> dict:
    return lifts.get(lifts.owner, f"/api/v1/equipment/{code}/maintenance").get_json()["clocks"]


def days_from_today(iso: str) -> int:
    return (date.fromisoformat(iso) - local_today()).days


# --- registry -------------------------------------------------------------------------------


def test_who_registers_a_unit(lifts: Elevators) -> None:
    body = lifts.unit_body(OTHER_UNIT, "3301090101", "10002")
    before = lifts.size()
    assert lifts.post(lifts.maintainer, "/api/v1/equipment", body).status_code == 403
    assert lifts.post(lifts.inspector, "/api/v1/equipment", body).status_code == 403  # not its district
    assert lifts.size() == before
    assert lifts.post(lifts.far_inspector, "/api/v1/equipment", body).status_code == 201
    again = lifts.post(lifts.owner, "/api/v1/equipment", body)
    assert again.status_code == 409 and lifts.size() == before + 1


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"category": "7000"}, "category"),
        ({"code": "21103301062019000999"}, "starts with 3"),
        ({"emergency_code": "1234"}, "96333"),
        ({"emergency_code": "10001"}, "already on unit"),
        ({"status": "broken"}, "status"),
        ({"on_demand_max_days": 200}, "on_demand_max_days"),
        ({"maintenance_org_id": None}, "contract_end"),
        ({"grid_code": "999"}, "unknown grid"),
        ({"colour": "red"}, "unknown field"),
    ],
)
def test_bad_units_are_refused_and_append_nothing(lifts: Elevators, changes: dict, message: str) -> None:
    before = lifts.size()
    body = {**lifts.unit_body(OTHER_UNIT, "3301060101", "10009"), **changes}
    response = lifts.post(lifts.owner, "/api/v1/equipment", body)
    assert 400 <= response.status_code < 500 and message in response.get_json()["detail"], response.get_json()
    assert lifts.size() == before


def test_an_update_is_an_entry_and_the_history_proves_each_one(app: Flask, lifts: Elevators) -> None:
    changed = lifts.unit_body(UNIT, "3301060101", "10001", maintenance_org_id=lifts.rival.org_id)
    del changed["code"]
    update = lifts.client.put(
        f"/api/v1/equipment/{UNIT}", json=changed, headers={"Authorization": f"Bearer {lifts.owner.api_key}"}
    )
    assert update.status_code == 200 and update.get_json()["maintenance_org_id"] == lifts.rival.org_id
    events = lifts.get(None, f"/api/v1/equipment/{UNIT}/history").get_json()["events"]
    assert [e["kind"] for e in events] == ["equipment.registered", "equipment.updated"]
    with app.app_context():
        signer = app_signer()
    with transaction(lifts.engine) as session:
        checkpoints.sign_current(session, signer, ORIGIN)
    verifier = NoteVerifier.from_verifier_key(lifts.get(None, "/api/v1/ledger/key").get_json()["verifier_key"])
    checkpoint = open_checkpoint(lifts.get(None, "/api/v1/ledger/checkpoint").get_data(as_text=True), verifier, ORIGIN)
    for event in events:
        raw = lifts.get(None, f"/api/v1/ledger/entries/{event['seq']}/raw").get_data()
        url = f"/api/v1/ledger/proof/inclusion?seq={event['seq']}&tree_size={checkpoint.tree_size}"
        proof = lifts.get(None, url).get_json()
        leaf = hashlib.sha256(b"\x00" + raw).digest()
        verify_inclusion(event["seq"], checkpoint.tree_size, leaf, [bytes.fromhex(h) for h in proof["hashes"]],
                         checkpoint.root_hash)  # fmt: skip


# --- maintenance ------------------------------------------------------------------------------


def test_a_visit_is_checked_in_recorded_and_confirmed(lifts: Elevators) -> None:
    recorded = lifts.visit("half_monthly", days_ago=1)
    assert recorded.status_code == 201, recorded.get_json()
    seq = recorded.get_json()["seq"]
    confirm = lifts.post(lifts.owner, f"/api/v1/equipment/{UNIT}/maintenance/{seq}/confirmation",
                         {"safety_manager": "赵安全"})  # fmt: skip
    assert confirm.status_code == 200 and confirm.get_json()["confirmed_seq"] == seq + 1
    again = lifts.post(
        lifts.owner, f"/api/v1/equipment/{UNIT}/maintenance/{seq}/confirmation", {"safety_manager": "赵"}
    )
    assert again.status_code == 422
    assert lifts.post(lifts.maintainer, f"/api/v1/equipment/{UNIT}/maintenance/{seq}/confirmation",
                      {"safety_manager": "x"}).status_code == 403  # fmt: skip
    kinds = [e["kind"] for e in lifts.get(None, f"/api/v1/equipment/{UNIT}/history").get_json()["events"]]
    assert kinds[-3:] == ["maintenance.checked_in", "maintenance.recorded", "maintenance.confirmed"]


def test_a_record_without_check_in_is_refused(lifts: Elevators) -> None:
    before = lifts.size()
    start = datetime.now(UTC) - timedelta(hours=3)
    body = lifts.record_body("half_monthly", start)
    response = lifts.post(lifts.maintainer, f"/api/v1/equipment/{UNIT}/maintenance", body)
    assert response.status_code == 409 and "check-in" in response.get_json()["detail"]
    assert lifts.size() == before


@pytest.mark.parametrize(
    "change, message",
    [
        ({"technicians": [{"name": "王芳", "certificate": "330106198801011234"}]}, "at least 2"),
        ({"tier": "monthly"}, "tier"),
        ({"check_out": (datetime.now(UTC) + timedelta(minutes=30)).isoformat()}, "future"),
        ({"items": []}, "items"),
    ],
)
def test_bad_records_append_nothing(lifts: Elevators, change: dict, message: str) -> None:
    start = datetime.now(UTC) - timedelta(hours=2)
    assert lifts.check_in(start).status_code == 201
    before = lifts.size()
    body = {**lifts.record_body("half_monthly", start), **change}
    response = lifts.post(lifts.maintainer, f"/api/v1/equipment/{UNIT}/maintenance", body)
    assert response.status_code == 422 and message in response.get_json()["detail"], response.get_json()
    assert lifts.size() == before


def test_only_the_contracted_company_maintains(lifts: Elevators) -> None:
    before = lifts.size()
    start = datetime.now(UTC) - timedelta(hours=2)
    assert lifts.check_in(start, who=lifts.rival).status_code == 403
    assert lifts.post(lifts.rival, f"/api/v1/equipment/{UNIT}/maintenance",
                      lifts.record_body("half_monthly", start)).status_code == 403  # fmt: skip
    lifts.register(OTHER_UNIT, "3301060101", "10002", contract_end=(date.today() - timedelta(days=1)).isoformat())
    before = lifts.size()
    expired = lifts.check_in(start, code=OTHER_UNIT)
    assert expired.status_code == 403 and "contract" in expired.get_json()["detail"]
    assert lifts.size() == before


def test_a_yearly_visit_resets_every_clock_and_a_quarterly_one_not_the_yearly(lifts: Elevators) -> None:
    assert lifts.visit("yearly", days_ago=20).status_code == 201
    after_yearly = clocks(lifts)
    assert after_yearly["half_monthly"]["status"] == "overdue"  # 20 days > 15
    assert days_from_today(after_yearly["half_monthly"]["due"]) == -5
    assert days_from_today(after_yearly["yearly"]["due"]) == 345
    assert lifts.visit("quarterly", days_ago=2).status_code == 201
    after_quarterly = clocks(lifts)
    assert days_from_today(after_quarterly["half_monthly"]["due"]) == 13
    assert after_quarterly["half_monthly"]["status"] == "ok"
    assert days_from_today(after_quarterly["yearly"]["due"]) == 345


def test_an_on_demand_unit_keeps_its_approved_interval(lifts: Elevators) -> None:
    lifts.register(OTHER_UNIT, "3301060101", "10002", on_demand_max_days=30)
    assert lifts.visit("half_monthly", days_ago=20, code=OTHER_UNIT).status_code == 201
    on_demand = clocks(lifts, OTHER_UNIT)["half_monthly"]
    assert on_demand["status"] == "ok" and days_from_today(on_demand["due"]) == 10


def test_a_correction_is_an_amendment_never_an_edit(lifts: Elevators) -> None:
    original = lifts.visit("half_monthly", days_ago=3).get_json()
    start = datetime.fromisoformat(original["check_in"])
    correction = lifts.record_body("quarterly", start, amends_seq=original["seq"], reason="漏记季度项目")
    amended = lifts.post(lifts.maintainer, f"/api/v1/equipment/{UNIT}/maintenance", correction)
    assert amended.status_code == 201, amended.get_json()
    assert amended.get_json()["amends_seq"] == original["seq"]
    records = lifts.get(lifts.owner, f"/api/v1/equipment/{UNIT}/maintenance").get_json()["records"]
    by_seq = {r["seq"]: r for r in records}
    assert by_seq[original["seq"]]["amended_by_seq"] == amended.get_json()["seq"]
    assert clocks(lifts)["quarterly"]["last"] is not None and clocks(lifts)["half_monthly"]["status"] == "ok"
    twice = lifts.post(lifts.maintainer, f"/api/v1/equipment/{UNIT}/maintenance",
                       lifts.record_body("half_monthly", start, amends_seq=original["seq"], reason="再改"))  # fmt: skip
    assert twice.status_code == 422 and "already corrected" in twice.get_json()["detail"]
    confirm_old = lifts.post(lifts.owner, f"/api/v1/equipment/{UNIT}/maintenance/{original['seq']}/confirmation",
                             {"safety_manager": "赵安全"})  # fmt: skip
    assert confirm_old.status_code == 422


def test_a_fault_found_in_maintenance_opens_a_hazard(lifts: Elevators) -> None:
    start = datetime.now(UTC) - timedelta(hours=3)
    assert lifts.check_in(start).status_code == 201
    body = lifts.record_body("half_monthly", start)
    next(i for i in body["items"] if i["code"] == "A1-10")["result"] = "fault"
    body["faults"] = [
        {"description": "层门门锁触点磨损", "level": "general", "item_code": "A1-10", "open_hazard": True}
    ]
    response = lifts.post(lifts.maintainer, f"/api/v1/equipment/{UNIT}/maintenance", body)
    assert response.status_code == 201, response.get_json()
    (hazard,) = response.get_json()["hazards"]
    assert (hazard["source"], hazard["colour"], hazard["status"]) == ("maintenance", "yellow", "found")
    assert hazard["responsible_org_id"] == lifts.owner.org_id


# --- inspections --------------------------------------------------------------------------------


def inspection(result: str, **changes: object) -> dict:
    body = {
        "kind": "periodic",
        "inspected_on": local_today().isoformat(),
        "result": result,
        "report_number": "TS7110-2026-0456",
        "next_due": (local_today() + timedelta(days=365)).isoformat(),
    }
    body.update(changes)
    return body


def test_a_passed_inspection_moves_the_due_date(lifts: Elevators) -> None:
    response = lifts.post(lifts.agency, f"/api/v1/equipment/{UNIT}/inspections", inspection("pass"))
    assert response.status_code == 201 and response.get_json()["hazards"] == []
    unit = lifts.get(lifts.owner, f"/api/v1/equipment/{UNIT}").get_json()
    assert days_from_today(unit["next_inspection_due"]) == 365
    assert lifts.post(lifts.maintainer, f"/api/v1/equipment/{UNIT}/inspections", inspection("pass")).status_code == 403
    self_check = inspection("pass", kind="annual_self_inspection", next_due=None)
    assert lifts.post(lifts.maintainer, f"/api/v1/equipment/{UNIT}/inspections", self_check).status_code == 201
    future = inspection("pass", inspected_on=(date.today() + timedelta(days=2)).isoformat())
    assert lifts.post(lifts.agency, f"/api/v1/equipment/{UNIT}/inspections", future).status_code == 422


def test_a_failed_inspection_of_a_unit_in_use_opens_a_major_hazard_at_once(lifts: Elevators) -> None:
    defects = [
        {"description": "曳引钢丝绳断丝超标", "level": "major"},
        {"description": "轿厢照明不足", "level": "general"},
    ]
    body = inspection("fail", next_due=None, defects=defects)
    response = lifts.post(lifts.agency, f"/api/v1/equipment/{UNIT}/inspections", body)
    assert response.status_code == 201
    opened = response.get_json()["hazards"]
    assert sorted((h["level"], h["colour"], h["supervised"]) for h in opened) == [
        ("general", "yellow", False),
        ("major", "red", True),
        ("major", "red", True),
    ]
    public = lifts.get(None, f"/api/v1/public/equipment/{UNIT}").get_json()
    assert public["open_hazards"] == 3


# --- entrapments --------------------------------------------------------------------------------


def test_a_late_arrival_at_an_entrapment_is_recorded_as_a_violation(lifts: Elevators) -> None:
    reported = datetime.now(UTC) - timedelta(hours=2)
    report = {"kind": "entrapment", "reported_via": "96333", "reported_at": reported.isoformat(),
              "people_trapped": 2, "description": "3幢1单元电梯困人"}  # fmt: skip
    incident = lifts.post(lifts.owner, f"/api/v1/equipment/{UNIT}/incidents", report)
    assert incident.status_code == 201 and incident.get_json()["arrival_target_minutes"] == 30
    seq = incident.get_json()["incident_seq"]
    base = f"/api/v1/equipment/{UNIT}/incidents/{seq}"
    early_release = lifts.post(lifts.maintainer, f"{base}/released", {"at": reported.isoformat(), "cause": "x"})
    assert early_release.status_code == 422
    assert (
        lifts.post(
            lifts.maintainer, f"{base}/dispatched", {"at": (reported + timedelta(minutes=5)).isoformat()}
        ).status_code
        == 200
    )
    arrived = lifts.post(lifts.maintainer, f"{base}/arrived", {"at": (reported + timedelta(minutes=45)).isoformat()})
    assert arrived.status_code == 200 and arrived.get_json()["late_arrival"] is True
    no_cause = lifts.post(lifts.maintainer, f"{base}/released", {"at": (reported + timedelta(minutes=50)).isoformat()})
    assert no_cause.status_code == 422
    released = lifts.post(lifts.maintainer, f"{base}/released",
                          {"at": (reported + timedelta(minutes=50)).isoformat(), "cause": "门锁回路故障"})  # fmt: skip
    assert released.status_code == 200 and released.get_json()["cause"] == "门锁回路故障"
    kinds = [e["kind"] for e in lifts.get(None, f"/api/v1/equipment/{UNIT}/history").get_json()["events"]]
    assert kinds[-5:] == ["incident.reported", "incident.dispatched", "incident.arrived", "incident.late_arrival",
                          "incident.released"]  # fmt: skip
    assert lifts.post(lifts.rival, f"{base}/dispatched", {}).status_code == 403


# --- hazards ----------------------------------------------------------------------------------------


def open_hazard(lifts: Elevators, **changes: object) -> dict:
    body = {"description": "底坑积水", "level": "general", **changes}
    response = lifts.post(lifts.inspector, f"/api/v1/equipment/{UNIT}/hazards", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def move(lifts: Elevators, who: object, hazard: dict, to: str, **fields: object):  # type: ignore[no-untyped-def]
    return lifts.post(who, f"/api/v1/hazards/{hazard['hazard_seq']}/transitions", {"to": to, **fields})  # type: ignore[arg-type]


def test_the_hazard_loop_needs_the_right_hands_and_a_satisfying_event(lifts: Elevators) -> None:
    hazard = open_hazard(lifts)
    assert move(lifts, lifts.far_inspector, hazard, "issued").status_code == 403
    assert move(lifts, lifts.owner, hazard, "issued").status_code == 403
    assert move(lifts, lifts.inspector, hazard, "closed").status_code == 422  # not from 发现
    assert move(lifts, lifts.inspector, hazard, "issued").status_code == 200
    assert move(lifts, lifts.owner, hazard, "rectifying").status_code == 200
    assert move(lifts, lifts.owner, hazard, "to_verify").status_code == 422  # no evidence
    evidence = move(lifts, lifts.owner, hazard, "to_verify", evidence=[PHOTO])
    assert evidence.status_code == 200
    before = lifts.size()
    bare = move(lifts, lifts.inspector, hazard, "closed")
    assert bare.status_code == 422 and "satisfied_by_seq" in bare.get_json()["detail"]
    unrelated = move(lifts, lifts.inspector, hazard, "closed", satisfied_by_seq=hazard["hazard_seq"] - 1)
    assert unrelated.status_code == 422 and lifts.size() == before
    closed = move(lifts, lifts.inspector, hazard, "closed", satisfied_by_seq=evidence.get_json()["updated_seq"])
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"


def test_issuing_by_the_api_sets_the_notice_and_a_retried_move_moves_once(lifts: Elevators) -> None:
    hazard = open_hazard(lifts)
    deadline = (date.today() + timedelta(days=10)).isoformat()
    notice = {"deadline": deadline, "responsible_org_id": lifts.maintainer.org_id, "client_event_id": "issue-1"}
    before = lifts.size()
    issued = move(lifts, lifts.inspector, hazard, "issued", **notice)
    assert issued.status_code == 200, issued.get_json()
    answer = issued.get_json()
    assert (answer["deadline"], answer["responsible_org_id"]) == (deadline, lifts.maintainer.org_id)
    again = move(lifts, lifts.inspector, hazard, "issued", **notice)  # the answer was lost: sent again
    assert again.status_code == 200 and again.get_json()["status"] == "issued"
    assert lifts.size() == before + 1
    other = move(lifts, lifts.inspector, hazard, "closed", satisfied_by_seq=1, client_event_id="issue-1")
    assert other.status_code == 409 and lifts.size() == before + 1


def test_a_hazard_closes_on_a_later_maintenance_record(lifts: Elevators) -> None:
    hazard = open_hazard(lifts, level="major")
    assert hazard["supervised"] is True and hazard["colour"] == "red"
    for who, to in ((lifts.inspector, "issued"), (lifts.owner, "rectifying")):
        assert move(lifts, who, hazard, to).status_code == 200
    assert move(lifts, lifts.owner, hazard, "to_verify", evidence=[PHOTO]).status_code == 200
    fixed = lifts.visit("half_monthly", days_ago=0).get_json()["seq"]
    closed = move(lifts, lifts.inspector, hazard, "closed", satisfied_by_seq=fixed)
    assert closed.status_code == 200 and closed.get_json()["closed_by_seq"] == fixed


def test_a_hazard_past_its_deadline_escalates_once(lifts: Elevators) -> None:
    hazard = open_hazard(lifts, deadline=(date.today() + timedelta(days=1)).isoformat())
    with transaction(lifts.engine) as session:
        assert hazards.escalate_overdue(session, date.today(), {"org": "system"}) == []
        (escalated,) = hazards.escalate_overdue(session, date.today() + timedelta(days=2), {"org": "system"})
        assert (escalated.colour, escalated.escalations) == ("orange", 1)
        assert hazards.escalate_overdue(session, date.today() + timedelta(days=3), {"org": "system"}) == []
    kinds = [e["kind"] for e in lifts.get(None, f"/api/v1/equipment/{UNIT}/history").get_json()["events"]]
    assert kinds.count("hazard.escalated") == 1 and hazard["colour"] == "yellow"


def entry_at(lifts: Elevators, seq: int) -> dict:
    entry: dict = lifts.get(None, f"/api/v1/ledger/entries/{seq}").get_json()["entry"]
    return entry


def test_an_inspector_lists_a_hazard_for_supervised_rectification_and_lifts_it(lifts: Elevators) -> None:
    hazard = open_hazard(lifts)
    assert hazard["supervised"] is False
    url = f"/api/v1/hazards/{hazard['hazard_seq']}/supervision"
    mark = {"supervised": True, "reason": "同一小区三次困人，报市局挂牌督办", "client_event_id": "mark-1"}
    before = lifts.size()
    for who, status in ((lifts.owner, 403), (lifts.maintainer, 403), (lifts.far_inspector, 403), (None, 401)):
        refused = lifts.post(who, url, mark)
        assert refused.status_code == status and refused.mimetype == "application/problem+json"
    for body, message in (
        ({"supervised": True}, "reason must be"),
        ({"supervised": True, "reason": "   "}, "reason must be"),
        ({"supervised": "yes", "reason": "督办"}, "supervised must be true or false"),
        ({"supervised": True, "reason": "督办", "level": "major"}, "unknown field(s): level"),
        ({"supervised": False, "reason": "不再需要"}, "is not under supervised rectification"),
    ):
        refused = lifts.post(lifts.inspector, url, body)
        assert refused.status_code == 422 and message in refused.get_json()["detail"], body
    assert lifts.post(lifts.inspector, "/api/v1/hazards/999999/supervision", mark).status_code == 404
    assert lifts.post(lifts.inspector, f"/api/v1/hazards/{2**63}/supervision", mark).status_code == 404
    assert lifts.size() == before  # every refusal appended nothing

    marked = lifts.post(lifts.inspector, url, mark)
    assert marked.status_code == 201 and marked.get_json()["supervised"] is True
    assert lifts.size() == before + 1
    entry = entry_at(lifts, before)
    assert entry["kind"] == "hazard.supervision_changed" and entry["subject"] == f"equipment:{UNIT}"
    assert entry["payload"] == {"hazard_seq": hazard["hazard_seq"], "supervised": True, "reason": mark["reason"]}
    assert entry["actor"]["org"] == lifts.inspector.org_id and marked.get_json()["updated_seq"] == before

    again = lifts.post(lifts.inspector, url, mark)  # a retry: the same hazard back, nothing appended
    assert again.status_code == 201 and again.get_json()["supervised"] is True and lifts.size() == before + 1
    reused = lifts.post(lifts.inspector, url, {**mark, "supervised": False})
    assert reused.status_code == 409 and lifts.size() == before + 1
    twice = lifts.post(lifts.inspector, url, {**mark, "client_event_id": "mark-2"})
    assert twice.status_code == 422 and "already under supervised rectification" in twice.get_json()["detail"]
    assert lifts.size() == before + 1

    lifted = lifts.post(lifts.inspector, url, {"supervised": False, "reason": "已查明为个别故障"})
    assert lifted.status_code == 201 and lifted.get_json()["supervised"] is False
    assert lifts.size() == before + 2
    kinds = [e["kind"] for e in lifts.get(None, f"/api/v1/equipment/{UNIT}/history").get_json()["events"]]
    assert kinds.count("hazard.supervision_changed") == 2


def test_a_major_hazard_opens_supervised_and_a_closed_one_no_longer_changes(lifts: Elevators) -> None:
    hazard = open_hazard(lifts, level="major")
    url = f"/api/v1/hazards/{hazard['hazard_seq']}/supervision"
    assert hazard["supervised"] is True
    assert lifts.post(lifts.inspector, url, {"supervised": True, "reason": "督办"}).status_code == 422
    for who, to in ((lifts.inspector, "issued"), (lifts.owner, "rectifying")):
        assert move(lifts, who, hazard, to).status_code == 200
    fixed = move(lifts, lifts.owner, hazard, "to_verify", evidence=[PHOTO]).get_json()["updated_seq"]
    closed = move(lifts, lifts.inspector, hazard, "closed", satisfied_by_seq=fixed)
    assert closed.status_code == 200 and closed.get_json()["supervised"] is True
    before = lifts.size()
    lifted = lifts.post(lifts.inspector, url, {"supervised": False, "reason": "已销号"})
    assert lifted.status_code == 422 and "is closed" in lifted.get_json()["detail"]
    assert lifts.size() == before


def test_an_inspector_gives_a_hazard_to_a_person_of_the_bureau(lifts: Elevators) -> None:
    with transaction(lifts.engine) as session:
        colleague = users.create_user(session, "wang@xihu.example.cn", lifts.inspector.org_id, PASSWORD).id
        other = users.create_user(session, "li@xihu.example.cn", lifts.inspector.org_id, PASSWORD).id
        gone = users.create_user(session, "zhao@xihu.example.cn", lifts.inspector.org_id, PASSWORD).id
        users.set_disabled(session, gone, True)
        far = users.create_user(session, "chen@xiaoshan.example.cn", lifts.far_inspector.org_id, PASSWORD).id
        manager = users.create_user(session, "manager@xixi.example.cn", lifts.owner.org_id, PASSWORD).id
    hazard = open_hazard(lifts)
    url = f"/api/v1/hazards/{hazard['hazard_seq']}/assignment"
    assert hazard["assignee_user_id"] is None
    before = lifts.size()
    give = {"assignee_user_id": colleague, "note": "周五前复查现场", "client_event_id": "give-1"}
    for who, status in ((lifts.owner, 403), (lifts.far_inspector, 403), (None, 401)):
        assert lifts.post(who, url, give).status_code == status
    for assignee in (far, manager, gone, 10**9, 2**70, True, "wang@xihu.example.cn", None):
        refused = lifts.post(lifts.inspector, url, {"assignee_user_id": assignee})
        assert refused.status_code == 422 and refused.mimetype == "application/problem+json", assignee
    assert lifts.post(lifts.inspector, url, {**give, "deadline": "2030-01-01"}).status_code == 422
    assert lifts.post(lifts.inspector, "/api/v1/hazards/999999/assignment", give).status_code == 404
    assert lifts.size() == before

    given = lifts.post(lifts.inspector, url, give)
    assert given.status_code == 201 and given.get_json()["assignee_user_id"] == colleague
    assert lifts.size() == before + 1
    entry = entry_at(lifts, before)
    assert entry["kind"] == "hazard.assigned"
    assert entry["payload"] == {"hazard_seq": hazard["hazard_seq"], "assignee_user_id": colleague, "note": give["note"]}
    assert "@" not in str(entry)  # the ledger is public: the person is named by account number only

    assert lifts.post(lifts.inspector, url, give).status_code == 201 and lifts.size() == before + 1  # a retry
    reused = lifts.post(lifts.inspector, url, {**give, "assignee_user_id": other})
    assert reused.status_code == 409 and lifts.size() == before + 1
    same = lifts.post(lifts.inspector, url, {"assignee_user_id": colleague})
    assert same.status_code == 422 and "already assigned" in same.get_json()["detail"]
    moved_on = lifts.post(lifts.inspector, url, {"assignee_user_id": other})  # re-assigned, no note
    assert moved_on.status_code == 201 and moved_on.get_json()["assignee_user_id"] == other
    assert entry_at(lifts, before + 1)["payload"]["note"] is None and lifts.size() == before + 2

    # The loop goes on around the assignment: escalation past the deadline, then closing.
    with transaction(lifts.engine) as session:
        later = local_today() + timedelta(days=40)
        (escalated,) = hazards.escalate_overdue(session, later, {"org": "system"})
        assert (escalated.assignee_user_id, escalated.escalations) == (other, 1)
    for who, to in ((lifts.inspector, "issued"), (lifts.owner, "rectifying")):
        assert move(lifts, who, hazard, to).status_code == 200
    fixed = move(lifts, lifts.owner, hazard, "to_verify", evidence=[PHOTO]).get_json()["updated_seq"]
    closed = move(lifts, lifts.inspector, hazard, "closed", satisfied_by_seq=fixed)
    assert closed.status_code == 200 and closed.get_json()["assignee_user_id"] == other
    size = lifts.size()
    refused = lifts.post(lifts.inspector, url, {"assignee_user_id": colleague})
    assert refused.status_code == 422 and "is closed" in refused.get_json()["detail"] and lifts.size() == size


def test_a_retried_supervision_is_recognised_before_the_state_is_checked(lifts: Elevators) -> None:
    """Through the service: the hazard's state has moved on since the first send (it is now
    supervised), and the same key still returns it rather than refusing the change as a no-op."""
    hazard_seq = open_hazard(lifts)["hazard_seq"]
    with transaction(lifts.engine) as session:
        principal = auth.principal_for_api_key(session, lifts.inspector.api_key)
        assert principal is not None
        hazard = hazards.get_hazard(session, hazard_seq)
        hazards.set_supervised(session, hazard, principal, True, "督办", "same-key")
        size = store.tree_size(session)
        again = hazards.set_supervised(session, hazard, principal, True, "督办", "same-key")
        assert again.supervised is True and store.tree_size(session) == size
        with pytest.raises(IdempotencyConflict):
            hazards.assign(session, hazard, principal, 1, None, "same-key")
        with pytest.raises(Forbidden):
            far = auth.principal_for_api_key(session, lifts.far_inspector.api_key)
            assert far is not None
            hazards.set_supervised(session, hazard, far, False, "越权", None)
        assert store.tree_size(session) == size


# --- public -------------------------------------------------------------------------------------------


def test_the_car_qr_shows_status_and_takes_reports(lifts: Elevators) -> None:
    lifts.visit("half_monthly", days_ago=10)
    for code in (UNIT, "10001"):
        public = lifts.get(None, f"/api/v1/public/equipment/{code}")
        assert public.status_code == 200
    data = public.get_json()
    assert data["user_unit"] == "西溪花园物业管理有限公司" and data["maintenance_company"] == "杭州快捷电梯维保有限公司"
    assert data["last_maintenance"]["tier"] == "half_monthly" and data["maintenance"]["half_monthly"]["status"] == "ok"
    assert data["hotline"] == "96333" and data["emergency_code"] == "10001"
    assert "13800000000" not in str(data) and "赵安全" not in str(data)
    report = lifts.post(None, f"/api/v1/public/equipment/{UNIT}/reports", {"description": "按钮不灵", "contact": "139"})
    assert report.status_code == 201 and report.get_json()["reference"].startswith("R")
    entry = lifts.get(None, f"/api/v1/ledger/entries/{report.get_json()['seq']}").get_json()["entry"]
    # The payload, not the whole entry: its hex hashes may hold "139" by chance.
    assert entry["kind"] == "public.reported" and "139" not in str(entry["payload"])
    assert lifts.get(None, f"/api/v1/public/equipment/{UNIT}").get_json()["open_hazards"] == 1
    assert lifts.post(None, f"/api/v1/public/equipment/{UNIT}/reports", {"description": ""}).status_code == 422
    assert lifts.get(None, "/api/v1/public/equipment/99999").status_code == 404
    qr = lifts.get(None, f"/api/v1/equipment/{UNIT}/qr.png")
    assert qr.status_code == 200 and qr.mimetype == "image/png"


def test_the_grid_list_puts_the_most_overdue_first(lifts: Elevators) -> None:
    lifts.register(OTHER_UNIT, "3301060101", "10002")
    far = "31103301092021000789"
    lifts.register(far, "3301090101", "10003")
    lifts.visit("half_monthly", days_ago=40)
    lifts.visit("half_monthly", days_ago=20, code=OTHER_UNIT)
    lifts.visit("half_monthly", days_ago=2, code=far)
    listed = lifts.get(lifts.inspector, "/api/v1/equipment").get_json()["equipment"]
    assert [(u["code"], u["maintenance_status"], u["days_overdue"]) for u in listed] == [
        (UNIT, "overdue", 25),
        (OTHER_UNIT, "overdue", 5),
    ]  # the Xiaoshan unit is outside the Xihu inspector's grids
    overdue = lifts.get(lifts.far_inspector, "/api/v1/equipment?status=overdue").get_json()["equipment"]
    assert overdue == []
    sheet = lifts.get(lifts.inspector, "/api/v1/equipment?format=csv")
    assert sheet.mimetype == "text/csv" and sheet.get_data(as_text=True).count("\r\n") == 3
    assert lifts.get(lifts.inspector, "/api/v1/equipment?grid=3301090101").status_code == 403
    mine = lifts.get(lifts.maintainer, "/api/v1/equipment").get_json()["equipment"]
    assert {u["code"] for u in mine} == {UNIT, OTHER_UNIT, far}
