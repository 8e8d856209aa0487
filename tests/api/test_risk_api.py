"""Risk grades and random inspection draws through the API, on SQLite and PostgreSQL: grades
from a real overdue elevator and a real excursion, published once a day; a draw announced,
refused until a checkpoint is signed, performed, re-done from the ledger, results published."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from api.context import signer as app_signer
from ledger.db.engine import transaction
from ledger.db.tables import Draw, Hazard, RiskGrade
from ledger.domain import draw as draw_rules
from ledger.domain import risk
from ledger.services import checkpoints, draws
from ledger.services import risk as grading
from ledger.services.orgs import SYSTEM_ACTOR
from tests.coldchain import START, ColdChain
from tests.conftest import ORIGIN
from tests.elevators import UNIT, Elevators, local_today

ON_TIME_UNIT = "31103301062019000789"
MORE_UNITS = {"31103301062019000790": "10004", "31103301062019000791": "10005"}
POOL = [{"id": f"ZJ330106-{n:03}", "name": name} for n, name in enumerate(["王检", "李检", "张检", "陈检"], start=1)]


@pytest.fixture
def lifts(app: Flask, client: FlaskClient) -> Elevators:
    return Elevators(app, client)


def grade(app: Flask, today: date) -> grading.GradeSummary:
    with transaction(app.extensions["ledger.engine"]) as session:
        return grading.grade_all(session, today, SYSTEM_ACTOR)


def sign(app: Flask) -> None:
    with app.app_context():
        signer = app_signer()
    with transaction(app.extensions["ledger.engine"]) as session:
        assert checkpoints.sign_current(session, signer, ORIGIN) is not None


def problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    return response.get_json()


# --- grades ---------------------------------------------------------------------------------


def test_an_overdue_unit_is_graded_and_grading_twice_a_day_appends_once(app: Flask, lifts: Elevators) -> None:
    assert lifts.visit("half_monthly", days_ago=20).status_code == 201  # due 5 days ago
    lifts.register(ON_TIME_UNIT, "3301060101", "10003")
    assert lifts.visit("half_monthly", days_ago=2, code=ON_TIME_UNIT).status_code == 201
    before = lifts.size()
    first = grade(app, local_today())
    assert first.changed and first.seq == before and lifts.size() == before + 1
    again = grade(app, local_today())
    assert (again.changed, again.seq, again.grades_sha256) == (False, first.seq, first.grades_sha256)
    assert lifts.size() == before + 1

    listed = lifts.get(lifts.inspector, "/api/v1/risk/grades?kind=equipment")
    assert listed.status_code == 200
    rows = {row["subject"]: row for row in listed.get_json()["grades"]}
    overdue = rows[f"equipment:{UNIT}"]
    assert (overdue["grade"], overdue["score"], overdue["graded_seq"]) == ("B", 5, first.seq)
    assert overdue["reasons"] == [{"rule": "maintenance_overdue_days", "count": 5, "points": 5}]
    assert rows[f"equipment:{ON_TIME_UNIT}"]["grade"] == "A"
    assert listed.get_json()["rule_table"]["sha256"] == risk.DEFAULT_TABLE.sha256()

    # The maintenance company answers for its units: half a point per overdue day.
    mine = lifts.get(lifts.maintainer, "/api/v1/risk/grades").get_json()["grades"]
    assert [(g["subject"], g["score"]) for g in mine] == [(f"org:{lifts.maintainer.org_id}", 2.5)]
    assert lifts.get(lifts.far_inspector, "/api/v1/risk/grades").get_json()["grades"] == []
    problem(lifts.get(lifts.far_inspector, "/api/v1/risk/grades?grid=3301060101"), 403)
    problem(lifts.get(lifts.inspector, "/api/v1/risk/grades?grade=E"), 422)
    assert [g["grade"] for g in lifts.get(lifts.inspector, "/api/v1/risk/grades?grade=B").get_json()["grades"]] == [
        "B"
    ]

    exported = lifts.get(lifts.inspector, "/api/v1/risk/grades?format=csv&kind=equipment")
    table = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert {row["subject"]: row["reasons"] for row in table}[f"equipment:{UNIT}"] == "maintenance_overdue_days ×5 = 5"

    # The entry publishes the digest of every (subject, grade, score): recomputable from the rows.
    entry = lifts.get(None, f"/api/v1/ledger/entries/{first.seq}").get_json()["entry"]
    assert entry["kind"] == "risk.graded" and entry["payload"]["date"] == local_today().isoformat()
    assert entry["payload"]["rule_table"]["sha256"] == risk.DEFAULT_TABLE.sha256()
    with transaction(lifts.engine, readonly=True) as session:
        stored = [risk.Grading(r.subject, r.grade, r.score, ()) for r in session.scalars(select(RiskGrade))]
    assert entry["payload"]["grades_sha256"] == risk.grades_sha256(stored)


def test_overdue_days_add_up_between_visits_and_follow_the_on_demand_interval(app: Flask, lifts: Elevators) -> None:
    for days_ago in (40, 20):  # 20 days between the visits, and 20 since: 5 + 5 days late
        assert lifts.visit("half_monthly", days_ago=days_ago).status_code == 201
    lifts.register(ON_TIME_UNIT, "3301060101", "10003", on_demand_max_days=30)
    assert lifts.visit("half_monthly", days_ago=20, code=ON_TIME_UNIT).status_code == 201
    grade(app, local_today())
    rows = {g["subject"]: g for g in lifts.get(lifts.inspector, "/api/v1/risk/grades").get_json()["grades"]}
    assert rows[f"equipment:{UNIT}"]["reasons"] == [{"rule": "maintenance_overdue_days", "count": 10, "points": 10}]
    assert rows[f"equipment:{ON_TIME_UNIT}"]["reasons"] == []


def test_a_new_fact_regrades_the_same_day(app: Flask, lifts: Elevators) -> None:
    first = grade(app, local_today())
    assert lifts.visit("half_monthly", days_ago=20).status_code == 201
    second = grade(app, local_today())
    assert second.changed and second.seq is not None and first.seq is not None and second.seq > first.seq
    assert second.grades_sha256 != first.grades_sha256


def test_an_excursion_and_an_unexpected_receipt_are_graded(app: Flask, client: FlaskClient) -> None:
    chain = ColdChain(app, client)
    chain.batch()
    kitchen, market = chain.kitchen, chain.market
    shipped = chain.scan(chain.importer, "ship", to_org_id=kitchen.org_id, site_id=chain.sites[chain.importer.org_id])
    assert shipped.status_code == 201
    warm = chain.scan(kitchen, "receive", from_org_id=chain.importer.org_id, site_id=chain.sites[kitchen.org_id],
                      temperature_c=-5)  # fmt: skip
    assert warm.status_code == 201, warm.get_json()
    stray = chain.scan(market, "receive", lot="NEVER-SHIPPED", site_id=chain.sites[market.org_id])
    assert stray.status_code == 201 and stray.get_json()["unexpected_receipt"]
    grade(app, START.date() + timedelta(days=7))

    rows = {g["subject"]: g for g in chain.get(chain.inspector, "/api/v1/risk/grades").get_json()["grades"]}
    assert rows[f"org:{kitchen.org_id}"]["reasons"] == [{"rule": "temperature_excursion", "count": 1, "points": 5}]
    assert rows[f"org:{kitchen.org_id}"]["grade"] == "B"
    assert rows[f"org:{market.org_id}"]["reasons"] == [{"rule": "untraced_receipt", "count": 1, "points": 5}]
    assert f"org:{chain.importer.org_id}" not in rows  # its site is in Xiaoshan, not the inspector's grids
    own = chain.get(kitchen, "/api/v1/risk/grades").get_json()["grades"]
    assert [g["subject"] for g in own] == [f"org:{kitchen.org_id}"]


def _close_hazard(lifts: Elevators, code: str, deadline: date) -> int:
    opened = lifts.post(lifts.inspector, f"/api/v1/equipment/{code}/hazards",
                        {"description": "底坑积水", "level": "general", "deadline": deadline.isoformat()})  # fmt: skip
    assert opened.status_code == 201, opened.get_json()
    url = f"/api/v1/hazards/{opened.get_json()['hazard_seq']}/transitions"
    assert lifts.post(lifts.inspector, url, {"to": "issued"}).status_code == 200
    assert lifts.post(lifts.owner, url, {"to": "rectifying"}).status_code == 200
    evidence = lifts.post(lifts.owner, url, {"to": "to_verify", "evidence": ["ab" * 32]}).get_json()["updated_seq"]
    assert lifts.post(lifts.inspector, url, {"to": "closed", "satisfied_by_seq": evidence}).status_code == 200
    return int(opened.get_json()["hazard_seq"])


def test_inspections_hazards_and_entrapments_count_against_units_and_their_maintainer(
    app: Flask, lifts: Elevators
) -> None:
    today = local_today()
    failed = {"kind": "periodic", "inspected_on": today.isoformat(), "result": "fail", "report_number": "TS-1"}
    assert lifts.post(lifts.agency, f"/api/v1/equipment/{UNIT}/inspections", failed).status_code == 201
    reported = datetime.now(UTC) - timedelta(hours=2)
    incident = lifts.post(lifts.owner, f"/api/v1/equipment/{UNIT}/incidents",
                          {"kind": "entrapment", "reported_via": "96333", "reported_at": reported.isoformat(),
                           "people_trapped": 1, "description": "困人"}).get_json()  # fmt: skip
    steps = f"/api/v1/equipment/{UNIT}/incidents/{incident['incident_seq']}"
    for step, minutes in (("dispatched", 5), ("arrived", 45)):
        at = (reported + timedelta(minutes=minutes)).isoformat()
        moved = lifts.post(lifts.maintainer, f"{steps}/{step}", {"at": at})
        assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["late_arrival"] is True
    hazardous, careful = MORE_UNITS
    lifts.register(hazardous, "3301060101", MORE_UNITS[hazardous])
    lifts.register(careful, "3301060101", MORE_UNITS[careful])
    open_late = lifts.post(lifts.inspector, f"/api/v1/equipment/{hazardous}/hazards",
                           {"description": "轿门护脚板脱落", "deadline": (today + timedelta(days=1)).isoformat()})
    assert open_late.status_code == 201
    closed_late = _close_hazard(lifts, hazardous, today + timedelta(days=1))
    _close_hazard(lifts, careful, today + timedelta(days=1))
    with transaction(lifts.engine) as session:  # as if the deadline had passed before it closed
        yesterday = today - timedelta(days=1)
        session.execute(update(Hazard).where(Hazard.opened_seq == closed_late).values(deadline=yesterday))

    grade(app, today + timedelta(days=2))
    rows = {g["subject"]: g for g in lifts.get(lifts.inspector, "/api/v1/risk/grades").get_json()["grades"]}
    assert rows[f"equipment:{UNIT}"]["reasons"] == [
        {"rule": "inspection_failed", "count": 1, "points": 10},
        {"rule": "entrapment", "count": 1, "points": 2},
        {"rule": "late_arrival", "count": 1, "points": 5},
    ]
    assert rows[f"equipment:{UNIT}"]["grade"] == "C"
    assert rows[f"equipment:{hazardous}"]["reasons"] == [{"rule": "hazard_late", "count": 2, "points": 10}]
    assert rows[f"equipment:{careful}"]["grade"] == "A"
    assert rows[f"org:{lifts.maintainer.org_id}"]["reasons"] == [
        {"rule": "maintained_late_arrivals", "count": 1, "points": 5}
    ]


# --- draws ----------------------------------------------------------------------------------


def _draw_world(app: Flask, lifts: Elevators) -> None:
    assert lifts.visit("half_monthly", days_ago=20).status_code == 201
    lifts.register(ON_TIME_UNIT, "3301060101", "10003")
    for code, emergency in MORE_UNITS.items():
        lifts.register(code, "3301060101", emergency)
    grade(app, local_today())
    sign(app)  # a checkpoint from before the announcement is no seed


def _announce(lifts: Elevators, who=None, **changes):  # type: ignore[no-untyped-def]
    body = {"grid_code": "330106", "n": 3, "pool": POOL, **changes}
    return lifts.post(who or lifts.inspector, "/api/v1/draws", body)


def test_a_draw_from_announcement_to_published_results(app: Flask, lifts: Elevators) -> None:
    _draw_world(app, lifts)
    announced = _announce(lifts)
    assert announced.status_code == 201, announced.get_json()
    seq = announced.get_json()["announced_seq"]
    inputs = announced.get_json()["inputs"]
    assert inputs["weights"] == {"A": 1, "B": 2, "C": 4, "D": 8} and inputs["inspectors_per_subject"] == 2
    assert {"subject": f"equipment:{UNIT}", "grade": "B", "name": None} in inputs["candidates"]
    assert len(inputs["candidates"]) == 6  # four units, the user unit and the maintenance company

    size = lifts.size()
    waiting = problem(lifts.post(lifts.inspector, f"/api/v1/draws/{seq}/perform"), 409)
    assert waiting["title"] == "Waiting for the next signed checkpoint" and "checkpoint" in waiting["detail"]
    assert lifts.size() == size
    sign(app)
    performed = lifts.post(lifts.inspector, f"/api/v1/draws/{seq}/perform")
    assert performed.status_code == 200, performed.get_json()
    outcome = performed.get_json()["outcome"]
    assert len(outcome) == 3 and len({item["subject"] for item in outcome}) == 3
    assert all(len(set(item["inspectors"])) == 2 for item in outcome)
    assert lifts.post(lifts.inspector, f"/api/v1/draws/{seq}/perform").get_json()["outcome"] == outcome
    assert lifts.size() == size + 1

    # Anyone redoes it from the announcement entry and the seed in the public view.
    public = lifts.get(None, f"/api/v1/public/draws/{seq}").get_json()
    assert public["seed"]["tree_size"] == seq + 1 and public["seed"]["checkpoint"].endswith("\n")
    entry = lifts.get(None, f"/api/v1/ledger/entries/{seq}").get_json()["entry"]
    redone = draw_rules.run_draw(
        draw_rules.spec_from_inputs(entry["payload"]), bytes.fromhex(public["seed"]["root_hash"]), seq
    )
    assert [(d.subject, list(d.inspectors)) for d in redone] == [(i["subject"], i["inspectors"]) for i in outcome]
    with app.app_context():
        verifier = app_signer().verifier()
    with transaction(lifts.engine, readonly=True) as session:
        report = draws.verify(session, seq, verifier)
    assert report.ok and report.expected == report.recorded == [
        {"subject": i["subject"], "grade": i["grade"], "inspectors": i["inspectors"]} for i in outcome
    ]
    assert lifts.get(None, f"/api/v1/public/draws/{seq}/verification").get_json()["matches"] is True

    first = outcome[0]["subject"]
    url = f"/api/v1/draws/{seq}/results"
    problem(lifts.post(lifts.far_inspector, url, {"subject": first, "result": "compliant"}), 403)
    problem(lifts.post(lifts.owner, url, {"subject": first, "result": "compliant"}), 403)
    problem(lifts.post(lifts.inspector, url, {"subject": first, "result": "fine"}), 422)
    problem(lifts.post(lifts.inspector, url, {"subject": "org:nobody", "result": "compliant"}), 404)
    recorded = lifts.post(lifts.inspector, url, {"subject": first, "result": "non_compliant", "note": "应急照明失效"})
    assert recorded.status_code == 201 and recorded.get_json()["recorded_seq"] == lifts.size() - 1
    problem(lifts.post(lifts.inspector, url, {"subject": first, "result": "compliant"}), 409)

    public = lifts.client.get(f"/api/v1/public/draws/{seq}")
    assert public.status_code == 200
    assert public.get_json()["results"][0] | {"recorded_seq": 0} == {
        "subject": first, "result": "non_compliant", "result_zh": "发现问题", "note": "应急照明失效", "recorded_seq": 0,
    }  # fmt: skip
    text = public.get_data(as_text=True)
    assert "13800000000" not in text and "赵安全" not in text  # contacts never leave


def test_the_next_draw_gives_nobody_the_same_subject_again(app: Flask, lifts: Elevators) -> None:
    _draw_world(app, lifts)
    pool = POOL[:3]  # three inspectors: each drawn subject has exactly one left over from last time
    first = _announce(lifts, n=6, pool=pool).get_json()["announced_seq"]
    sign(app)
    last_time = {i["subject"]: set(i["inspectors"]) for i in
                 lifts.post(lifts.inspector, f"/api/v1/draws/{first}/perform").get_json()["outcome"]}  # fmt: skip
    refused = problem(_announce(lifts, n=6, pool=pool), 422)
    assert "did not inspect it last time" in refused["detail"]
    second = _announce(lifts, n=6, pool=pool, inspectors_per_subject=1)
    assert second.get_json()["inputs"]["previous"]["draw_seq"] == first
    sign(app)
    seq = second.get_json()["announced_seq"]
    for item in lifts.post(lifts.inspector, f"/api/v1/draws/{seq}/perform").get_json()["outcome"]:
        assert not set(item["inspectors"]) & last_time[item["subject"]]


def test_who_may_announce_and_what(app: Flask, lifts: Elevators) -> None:
    _draw_world(app, lifts)
    size = lifts.size()
    problem(_announce(lifts, who=lifts.far_inspector), 403)
    problem(_announce(lifts, who=lifts.owner), 403)
    seeded = problem(_announce(lifts, seed="00" * 32), 422)
    assert "takes no seed" in seeded["detail"]
    problem(_announce(lifts, n=7), 422)
    problem(_announce(lifts, weights={"E": 3}), 422)
    problem(_announce(lifts, pool=[{"id": "x", "name": "萧山", "org_id": lifts.far_inspector.org_id},
                                   {"id": "y", "name": "西湖"}]), 422)  # fmt: skip
    problem(_announce(lifts, grid_code="999999"), 404)
    assert lifts.size() == size
    seq = _announce(lifts).get_json()["announced_seq"]
    sign(app)
    problem(lifts.post(lifts.far_inspector, f"/api/v1/draws/{seq}/perform"), 403)
    problem(lifts.post(lifts.inspector, f"/api/v1/draws/{seq}/results", {"subject": "x", "result": "compliant"}), 409)
    problem(lifts.get(None, "/api/v1/public/draws/1"), 404)


def test_a_changed_outcome_is_caught(app: Flask, lifts: Elevators) -> None:
    _draw_world(app, lifts)
    seq = _announce(lifts).get_json()["announced_seq"]
    sign(app)
    assert lifts.post(lifts.inspector, f"/api/v1/draws/{seq}/perform").status_code == 200
    with transaction(lifts.engine) as session:
        row = session.scalars(select(Draw).where(Draw.announced_seq == seq)).one()
        row.outcome = list(reversed(row.outcome or []))
    report = lifts.get(None, f"/api/v1/public/draws/{seq}/verification").get_json()
    assert report["matches"] is False and "stored draw's outcome differs" in " ".join(report["problems"])
