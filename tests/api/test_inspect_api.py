"""The inspector's desk through the API: alerts in one's grids worst first, filters, paging,
stamped exports, acknowledging, assigning to a hazard, closing only through a satisfying
entry, and the per-grid summary with its trend."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from tests.api.test_rules import run
from tests.elevators import OTHER_UNIT, UNIT, Elevators, local_today

FAR_UNIT = "31103301092021000789"


@pytest.fixture
def lifts(app: Flask, client: FlaskClient) -> Elevators:
    """Three units overdue by different amounts: two in Xihu, one in Xiaoshan."""
    lifts = Elevators(app, client)
    lifts.register(OTHER_UNIT, "3301060101", "10002")
    lifts.register(FAR_UNIT, "3301090101", "10003")
    lifts.visit("half_monthly", days_ago=40)
    lifts.visit("half_monthly", days_ago=20, code=OTHER_UNIT)
    lifts.visit("half_monthly", days_ago=25, code=FAR_UNIT)
    run(lifts.engine, "maintenance_half_monthly", local_today())
    return lifts


def test_an_inspector_sees_the_alerts_of_the_grids_below_worst_first(lifts: Elevators) -> None:
    listed = lifts.get(lifts.inspector, "/api/v1/inspect/alerts").get_json()
    assert listed["total"] == 2
    assert [(a["subject"], a["colour"], a["days_overdue"]) for a in listed["alerts"]] == [
        (f"equipment:{UNIT}", "orange", 25),
        (f"equipment:{OTHER_UNIT}", "yellow", 5),
    ]
    far = lifts.get(lifts.far_inspector, "/api/v1/inspect/alerts").get_json()["alerts"]
    assert [a["subject"] for a in far] == [f"equipment:{FAR_UNIT}"]
    assert lifts.get(lifts.inspector, "/api/v1/inspect/alerts?grid=3301090101").status_code == 403
    assert lifts.get(lifts.owner, "/api/v1/inspect/alerts").status_code == 403


def test_filters_sorting_and_paging(lifts: Elevators) -> None:
    url = "/api/v1/inspect/alerts"
    yellow = lifts.get(lifts.inspector, f"{url}?colour=yellow").get_json()["alerts"]
    assert [a["subject"] for a in yellow] == [f"equipment:{OTHER_UNIT}"]
    by_due = lifts.get(lifts.inspector, f"{url}?sort=due_date").get_json()["alerts"]
    assert [a["due_date"] for a in by_due] == sorted(a["due_date"] for a in by_due)
    page = lifts.get(lifts.inspector, f"{url}?per_page=1&page=2").get_json()
    assert page["total"] == 2 and [a["subject"] for a in page["alerts"]] == [f"equipment:{OTHER_UNIT}"]
    company = lifts.get(lifts.inspector, f"{url}?maintenance_org_id={lifts.rival.org_id}").get_json()
    assert company["total"] == 0
    for bad in ("colour=purple", "rule=vibes", "sort=random", "per_page=0", "due_from=yesterday", "format=pdf"):
        assert lifts.get(lifts.inspector, f"{url}?{bad}").status_code == 422, bad


def test_exports_are_stamped_with_the_filters_and_the_time(lifts: Elevators) -> None:
    sheet = lifts.get(lifts.inspector, "/api/v1/inspect/alerts?format=csv&colour=orange")
    assert sheet.mimetype == "text/csv" and "attachment" in sheet.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(sheet.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0][0].startswith("# 安链 Anlian alerts") and "colours=('orange',)" in lines[0][0]
    assert lines[1][:3] == ["raised_seq", "rule", "rule_zh"] and len(lines) == 3
    workbook = lifts.get(lifts.inspector, "/api/v1/inspect/alerts?format=xlsx")
    rows = list(load_workbook(io.BytesIO(workbook.get_data())).active.iter_rows(values_only=True))
    assert str(rows[0][0]).startswith("安链 Anlian alerts") and rows[1][0] == "raised_seq" and len(rows) == 4


def test_acknowledge_assign_and_close_only_through_a_satisfying_entry(lifts: Elevators) -> None:
    alert = lifts.get(lifts.inspector, "/api/v1/inspect/alerts").get_json()["alerts"][0]
    base = f"/api/v1/inspect/alerts/{alert['raised_seq']}"
    assert lifts.post(lifts.far_inspector, f"{base}/acknowledge", {}).status_code == 403
    acknowledged = lifts.post(lifts.inspector, f"{base}/acknowledge", {"note": "已电话督促"})
    assert acknowledged.status_code == 200 and acknowledged.get_json()["status"] == "acknowledged"
    bad = lifts.post(lifts.inspector, f"{base}/assign", {"level": "general", "deadline": "next week"})
    assert bad.status_code == 422 and "deadline must be a date" in bad.get_json()["detail"]
    deadline = (local_today() + timedelta(days=3)).isoformat()
    assigned = lifts.post(lifts.inspector, f"{base}/assign", {"level": "general", "deadline": deadline})
    assert assigned.status_code == 200 and assigned.get_json()["hazard_seq"] is not None
    assert lifts.post(lifts.inspector, f"{base}/close", {}).status_code == 422
    assert (
        lifts.post(lifts.inspector, f"{base}/close", {"satisfied_by_seq": alert["raised_seq"] - 1}).status_code == 422
    )
    fixed = lifts.visit("half_monthly", days_ago=0).get_json()["seq"]
    closed = lifts.post(lifts.inspector, f"{base}/close", {"satisfied_by_seq": fixed})
    assert closed.status_code == 200
    assert (closed.get_json()["status"], closed.get_json()["satisfied_by_seq"]) == ("resolved", fixed)
    resolved = lifts.get(lifts.inspector, "/api/v1/inspect/alerts?status=resolved").get_json()["alerts"]
    assert [a["raised_seq"] for a in resolved] == [alert["raised_seq"]]


def test_the_summary_counts_open_alerts_and_their_trend(lifts: Elevators) -> None:
    summary = lifts.get(lifts.inspector, "/api/v1/inspect/summary").get_json()
    assert summary["open"]["maintenance_half_monthly"] == {"blue": 0, "yellow": 1, "orange": 1, "red": 0}
    assert summary["total_open"] == 2 and len(summary["trend"]) == 30
    assert summary["trend"][-1] == {"date": local_today().isoformat(), "open": 2}
    assert summary["trend"][0]["open"] == 0
    city = lifts.get(lifts.inspector, "/api/v1/inspect/summary?grid=3301060101").get_json()
    assert city["total_open"] == 2
