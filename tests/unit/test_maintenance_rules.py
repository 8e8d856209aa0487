"""Pure elevator-maintenance rules: the TSG T5002 checklists, due dates and the record a visit leaves."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain import maintenance as m
from ledger.domain.canonical import encode_body
from ledger.errors import InvalidEntry

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=CST)
MEASURED = {"A1-05": 0.3, "A1-23": 4, "A1-29": 9, "A3-11": 4.5, "A3-13": 250, "A4-05": 2.0}
PHOTO = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def record(tier: str = "half_monthly", **changes: Any) -> dict[str, Any]:
    """A complete, valid record of ``tier`` as a maintenance company's app sends it."""
    body: dict[str, Any] = {
        "client_event_id": f"mnt-{tier}-0001",
        "tier": tier,
        "check_in": "2026-11-26T09:30:00+08:00",
        "check_out": "2026-11-26T10:45:00+08:00",
        "technicians": [
            {"name": "王芳", "certificate": "330106198801011234"},
            {"name": "李强", "certificate": "T3301000456"},
        ],
        "items": [
            {"code": item.code, "result": "ok", **({"value": MEASURED[item.code]} if item.measured else {})}
            for item in m.checklist(tier)
        ],
    }
    body.update(changes)
    return body


def answer(body: dict[str, Any], code: str) -> dict[str, Any]:
    found: dict[str, Any] = next(entry for entry in body["items"] if entry["code"] == code)
    return found


def refused(body: Any, match: str) -> None:
    with pytest.raises(InvalidEntry, match=match):
        m.maintenance_spec(body, NOW)


# --- the checklist data -------------------------------------------------------------------


def test_the_data_file_holds_the_four_tables_of_annex_a() -> None:
    counts = {tier: sum(1 for item in m.all_items() if item.tier == tier) for tier in m.TIERS}
    assert counts == {"half_monthly": 31, "quarterly": 13, "half_yearly": 15, "yearly": 17}
    assert m.source()["counts"] == counts
    assert m.source()["standard"] == "TSG T5002-2017"
    assert m.source()["tables"] == {
        "half_monthly": "表A-1",
        "quarterly": "表A-2",
        "half_yearly": "表A-3",
        "yearly": "表A-4",
    }
    prefixes = {"half_monthly": "A1", "quarterly": "A2", "half_yearly": "A3", "yearly": "A4"}
    for tier in m.TIERS:
        codes = [item.code for item in m.all_items() if item.tier == tier]
        assert codes == [f"{prefixes[tier]}-{n:02d}" for n in range(1, counts[tier] + 1)]


def test_every_item_is_described_and_its_wording_labelled() -> None:
    for item in m.all_items():
        assert item.part and item.requirement and item.gloss.isascii()
        assert item.wording in ("corroborated", "unconfirmed", "paraphrase")
        assert item.measured == (item.unit is not None)
    first = m.all_items()[0]
    assert (first.code, first.part, first.requirement) == ("A1-01", "机房、滑轮间环境", "清洁，门窗完好，照明正常")


def test_measured_items_carry_their_unit_and_the_standards_minimum() -> None:
    measured = {item.code: (item.unit, item.minimum) for item in m.all_items() if item.measured}
    assert set(measured) == set(MEASURED)
    assert measured["A1-05"] == ("mm", None)  # 制动器间隙: the manufacturer's value
    assert measured["A1-29"] == ("mm", 7.0)  # 层门锁紧元件啮合长度 不小于7mm


def test_each_tier_checklist_includes_the_lower_tiers() -> None:
    sizes = [len(m.checklist(tier)) for tier in m.TIERS]
    assert sizes == [31, 44, 59, 76]
    assert m.checklist("half_yearly")[:44] == m.checklist("quarterly")
    with pytest.raises(InvalidEntry, match="tier must be one of"):
        m.checklist("monthly")


def test_the_data_file_is_read_as_a_package_resource() -> None:
    from importlib import resources

    raw = json.loads(resources.files("ledger.data").joinpath(m.DATA_FILE).read_text(encoding="utf-8"))
    assert len(raw["items"]) == 76


# --- due dates ----------------------------------------------------------------------------


def test_each_clock_runs_from_the_last_visit_of_its_tier_or_above() -> None:
    due = m.due_dates({"half_monthly": date(2026, 11, 1), "quarterly": None, "yearly": None})
    assert due == {"half_monthly": date(2026, 11, 16), "quarterly": None, "half_yearly": None, "yearly": None}


def test_a_yearly_visit_restarts_every_clock() -> None:
    yearly = date(2026, 11, 20)
    due = m.due_dates({"half_monthly": date(2026, 11, 10), "quarterly": date(2026, 9, 1), "yearly": yearly})
    assert due == {
        "half_monthly": yearly + timedelta(days=15),
        "quarterly": yearly + timedelta(days=90),
        "half_yearly": yearly + timedelta(days=180),
        "yearly": yearly + timedelta(days=365),
    }


def test_a_quarterly_visit_does_not_restart_the_yearly_clock() -> None:
    due = m.due_dates({"yearly": date(2026, 1, 10), "quarterly": date(2026, 10, 1)})
    assert due["yearly"] == date(2027, 1, 10)
    assert due["half_yearly"] == date(2026, 7, 9)  # the yearly visit is the last one that covered it
    assert due["quarterly"] == date(2026, 12, 30)
    assert due["half_monthly"] == date(2026, 10, 16)


def test_an_on_demand_unit_uses_its_approved_interval() -> None:
    last = {"half_monthly": date(2026, 11, 1)}
    assert m.due_dates(last, 30)["half_monthly"] == date(2026, 12, 1)
    assert m.due_dates(last, None)["half_monthly"] == date(2026, 11, 16)
    assert m.due_dates({"quarterly": date(2026, 11, 1)}, 30)["quarterly"] == date(2027, 1, 30)


@pytest.mark.parametrize("days", [14, 91, 0, -5, True, 30.0])
def test_an_on_demand_interval_outside_the_bounds_is_refused(days: Any) -> None:
    with pytest.raises(InvalidEntry, match="on_demand_max_days"):
        m.due_dates({"half_monthly": date(2026, 11, 1)}, days)


def test_due_dates_refuse_unknown_tiers() -> None:
    with pytest.raises(InvalidEntry, match="monthly"):
        m.due_dates({"monthly": date(2026, 11, 1)}, None)


@pytest.mark.parametrize(
    ("day", "expected"),
    [(0, "ok"), (12, "ok"), (13, "due_soon"), (14, "due_soon"), (15, "due_soon"), (16, "overdue"), (40, "overdue")],
)
def test_half_monthly_status_by_day_since_the_last_visit(day: int, expected: str) -> None:
    last = date(2026, 11, 1)
    due = m.due_dates({"half_monthly": last})["half_monthly"]
    assert due is not None
    assert m.status(due, last + timedelta(days=day)) == expected


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)), st.integers(0, 400))
def test_a_visit_of_a_tier_never_leaves_a_lower_tier_due_later(last: date, gap: int) -> None:
    for rank, tier in enumerate(m.TIERS):
        earlier = {lower: last - timedelta(days=gap) for lower in m.TIERS[:rank]}
        due = m.due_dates({**earlier, tier: last})
        for lower in m.TIERS[: rank + 1]:
            assert due[lower] == last + timedelta(days=m.INTERVAL_DAYS[lower])


# --- valid records ------------------------------------------------------------------------


def test_a_valid_half_monthly_record() -> None:
    spec = m.maintenance_spec(record(), NOW)
    payload = spec.payload()
    assert spec.kind == "maintenance.recorded"
    assert spec.client_event_id == "mnt-half_monthly-0001"
    assert payload["tier"] == "half_monthly"
    assert payload["checklist"] == "tsg_t5002_2017_annex_a"
    assert payload["check_in"] == "2026-11-26T09:30:00+08:00"
    assert payload["check_out"] == "2026-11-26T10:45:00+08:00"
    assert len(payload["items"]) == 31
    assert payload["items"][4] == {"code": "A1-05", "result": "ok", "value": 0.3, "unit": "mm", "note": None}
    assert payload["items"][0] == {"code": "A1-01", "result": "ok", "value": None, "unit": None, "note": None}
    assert payload["technicians"][1] == {"name": "李强", "certificate": "T3301000456"}
    for key in ("adjustments", "parts_replaced", "faults", "photos"):
        assert payload[key] == []
    assert payload["amends_seq"] is None and payload["reason"] is None
    encode_body(spec.kind, "equipment:31103301002017000001", {"org": "org_maint01"}, payload)  # ledger-ready


def test_a_valid_yearly_record_answers_all_76_items_with_everything_else() -> None:
    body = record(
        "yearly",
        adjustments=["制动器间隙调整至0.3mm"],
        parts_replaced=[{"part": "轿门门锁触点", "quantity": 1}],
        faults=[
            {"description": "层门门锁电气触点烧蚀", "level": "一般", "item_code": "A1-28", "open_hazard": True},
            {"description": "机房照明灯管老化", "level": "general"},
        ],
        photos=[PHOTO],
    )
    answer(body, "A1-28")["result"] = "fault"
    answer(body, "A1-21").update(result="replaced", note="触点更换")
    answer(body, "A2-04")["result"] = "not_applicable"  # no floor selector on this unit
    answer(body, "A4-04")["result"] = "adjusted"
    body["items"].reverse()  # the order sent does not matter
    payload = m.maintenance_spec(body, NOW).payload()
    assert len(payload["items"]) == 76
    assert [entry["code"] for entry in payload["items"]] == [item.code for item in m.all_items()]
    assert payload["faults"][0] == {
        "description": "层门门锁电气触点烧蚀",
        "level": "general",
        "item_code": "A1-28",
        "open_hazard": True,
    }
    assert payload["faults"][1]["open_hazard"] is False
    assert payload["parts_replaced"] == [{"part": "轿门门锁触点", "quantity": 1}]
    assert payload["photos"] == [PHOTO]
    assert answer(payload, "A4-05") == {"code": "A4-05", "result": "ok", "value": 2.0, "unit": "MΩ", "note": None}


def test_times_keep_their_offset_and_z_is_accepted() -> None:
    spec = m.maintenance_spec(record(check_in="2026-11-26T01:30:00Z", check_out="2026-11-26T02:10:00Z"), NOW)
    assert spec.payload()["check_in"] == "2026-11-26T01:30:00+00:00"


def test_check_out_may_be_up_to_five_minutes_ahead_of_the_server() -> None:
    ahead = (NOW + timedelta(minutes=5)).isoformat()
    assert m.maintenance_spec(record(check_out=ahead), NOW).check_out == NOW + timedelta(minutes=5)


def test_a_correction_points_to_the_original_and_says_why() -> None:
    payload = m.maintenance_spec(record(amends_seq=41, reason="制动器间隙读数录错"), NOW).payload()
    assert (payload["amends_seq"], payload["reason"]) == (41, "制动器间隙读数录错")


def test_certificates_are_compared_whatever_their_case() -> None:
    technicians = [
        {"name": "王芳", "certificate": "33010619880101123x"},
        {"name": "王芳", "certificate": "T3301000456"},
    ]
    spec = m.maintenance_spec(record(technicians=technicians), NOW)
    assert spec.technicians[0].certificate == "33010619880101123X"  # two people may share a name
    technicians[1]["certificate"] = "33010619880101123X"
    refused(record(technicians=technicians), "different people")


# --- refusals ---------------------------------------------------------------------------------


def test_one_technician_is_refused() -> None:
    refused(record(technicians=record()["technicians"][:1]), r"technicians: a visit needs at least 2")


def test_the_same_technician_twice_is_refused() -> None:
    same = {"name": "王芳", "certificate": "330106198801011234"}
    refused(record(technicians=[same, dict(same)]), r"technicians\[1\]: certificate 330106198801011234 is also")


@pytest.mark.parametrize(
    ("technician", "match"),
    [
        ({"name": "王芳"}, "certificate must be"),
        ({"name": "王芳", "certificate": "12345"}, "6 to 30 letters or digits"),
        ({"name": "王芳", "certificate": "T33-0100-0456"}, "no spaces or dashes"),
        ({"name": " ", "certificate": "T3301000456"}, "name must be"),
        ({"name": "王芳", "certificate": "T3301000456", "phone": "1"}, "unknown field"),
    ],
)
def test_a_technician_needs_a_name_and_a_sane_certificate(technician: dict[str, str], match: str) -> None:
    people = [{"name": "李强", "certificate": "T3301000999"}, technician]
    refused(record(technicians=people), rf"technicians\[1\]: .*{match}")


def test_missing_check_out_is_refused() -> None:
    body = record()
    del body["check_out"]
    refused(body, "check_out is required")


def test_check_out_before_check_in_is_refused() -> None:
    refused(record(check_out="2026-11-26T09:00:00+08:00"), "check_out .* must be after check_in")
    refused(record(check_out="2026-11-26T09:30:00+08:00"), "must be after check_in")


@pytest.mark.parametrize("field", ["check_in", "check_out"])
def test_times_beyond_five_minutes_in_the_future_are_refused(field: str) -> None:
    ahead = (NOW + timedelta(minutes=5, seconds=1)).isoformat()
    refused(record(**{field: ahead, "check_out": ahead} if field == "check_in" else {field: ahead}), field)


def test_a_visit_longer_than_twelve_hours_is_refused() -> None:
    refused(record(check_in="2026-11-25T21:00:00+08:00", check_out="2026-11-26T09:01:00+08:00"), "12 hours")


@pytest.mark.parametrize("value", ["2026-11-26T09:30:00", "2026-11-26", "yesterday", 1764120600])
def test_times_need_rfc_3339_with_an_offset(value: Any) -> None:
    refused(record(check_in=value), "check_in")


def test_an_unknown_tier_is_refused() -> None:
    refused({**record(), "tier": "monthly"}, "tier must be one of half_monthly, quarterly, half_yearly, yearly")


def test_a_missing_checklist_item_is_refused() -> None:
    body = record()
    body["items"] = [entry for entry in body["items"] if entry["code"] != "A1-07"]
    refused(body, r"items: a half_monthly visit answers all 31 items; missing 1: A1-07")


def test_a_quarterly_record_with_only_the_half_monthly_items_is_refused() -> None:
    body = record("quarterly")
    body["items"] = body["items"][:31]
    refused(body, "missing 13: A2-01, A2-02")


def test_an_unknown_item_is_refused() -> None:
    body = record()
    body["items"].append({"code": "A1-32", "result": "ok"})
    refused(body, r"items\[31\]: code 'A1-32' is not an item")


def test_an_item_of_a_higher_tier_is_refused() -> None:
    body = record()
    body["items"].append({"code": "A4-01", "result": "ok"})
    refused(body, "A4-01 belongs to the yearly checklist, not to a half_monthly visit")


def test_an_item_answered_twice_is_refused() -> None:
    body = record()
    body["items"].append({"code": "A1-03", "result": "adjusted"})
    refused(body, r"items\[31\]: A1-03 is answered twice \(first at items\[2\]\)")


def test_a_result_outside_the_list_is_refused() -> None:
    body = record()
    answer(body, "A1-01")["result"] = "good"
    refused(body, r"items\[0\]: result must be one of ok, adjusted, replaced, fault, not_applicable")


def test_a_missing_measured_value_is_refused() -> None:
    body = record()
    del answer(body, "A1-05")["value"]
    refused(body, r"items\[4\]: value is required: A1-05 制动器间隙 is measured, in mm")


@pytest.mark.parametrize("value", ["0.3", None, float("nan"), True])
def test_a_measured_value_must_be_a_number(value: Any) -> None:
    body = record()
    answer(body, "A1-05")["value"] = value
    refused(body, r"items\[4\]: value")


def test_values_where_none_is_expected_are_refused() -> None:
    body = record()
    answer(body, "A1-01")["value"] = 3
    refused(body, r"items\[0\]: value must be left out: A1-01 .* not a measured item")
    body = record()
    answer(body, "A1-05").update(result="not_applicable")
    refused(body, r"items\[4\]: value must be left out: A1-05 制动器间隙 is not_applicable")


def test_an_engagement_below_7_mm_can_only_be_a_fault() -> None:
    body = record()
    answer(body, "A1-29")["value"] = 6.5
    refused(body, "below the standard's 7 mm")
    answer(body, "A1-29")["result"] = "fault"
    body["faults"] = [{"description": "啮合长度不足", "level": "重大", "item_code": "A1-29", "open_hazard": True}]
    assert m.maintenance_spec(body, NOW).payload()["faults"][0]["level"] == "major"


def test_a_fault_answer_needs_its_fault_described() -> None:
    body = record()
    answer(body, "A1-18")["result"] = "fault"
    refused(body, "faults: describe the fault found at A1-18")


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        ({"description": "异响", "level": "严重"}, r"faults\[0\]: level must be 一般 \(general\) or 重大 \(major\)"),
        ({"level": "一般"}, r"faults\[0\]: description must be"),
        (
            {"description": "异响", "level": "一般", "item_code": "A4-01"},
            r"faults\[0\]\.item_code A4-01 is not an item",
        ),
        ({"description": "异响", "level": "一般", "open_hazard": "yes"}, "open_hazard must be true or false"),
    ],
)
def test_faults_are_checked(fault: dict[str, Any], match: str) -> None:
    refused(record(faults=[fault]), match)


def test_a_replaced_answer_needs_the_parts() -> None:
    body = record()
    answer(body, "A1-21")["result"] = "replaced"
    refused(body, "parts_replaced: list what was replaced at A1-21")
    refused(record(parts_replaced=[{"part": "触点", "quantity": 0}]), r"parts_replaced\[0\]: quantity must be positive")


@pytest.mark.parametrize("photo", [PHOTO.upper(), PHOTO[:-1], "photo.jpg", 12])
def test_photos_are_sha256_digests(photo: Any) -> None:
    refused(record(photos=[photo]), r"photos\[0\]: a photo is named by its SHA-256")


def test_a_photo_twice_is_refused() -> None:
    refused(record(photos=[PHOTO, PHOTO]), r"photos\[1\] repeats photos\[0\]")


def test_an_amendment_without_reason_is_refused() -> None:
    refused(record(amends_seq=41), "reason is required with amends_seq")
    refused(record(amends_seq=41, reason=" "), "reason is required with amends_seq|reason must be")
    refused(record(reason="录错"), "reason belongs to a correction")
    refused(record(amends_seq=-1, reason="录错"), "amends_seq must be the seq")


def test_unknown_fields_and_missing_ids_are_refused() -> None:
    refused(record(elevator="3110"), r"unknown field\(s\): elevator")
    body = record()
    del body["client_event_id"]
    refused(body, "client_event_id is required")
    refused([record()], "must be a JSON object")


def test_validate_record_checks_a_spec_built_elsewhere() -> None:
    spec = m.maintenance_spec(record(), NOW)
    m.validate_record(spec, NOW)
    with pytest.raises(InvalidEntry, match="more than 5 minutes in the future"):
        m.validate_record(spec, NOW - timedelta(hours=2))


def test_the_body_is_not_changed_by_checking_it() -> None:
    body = record("yearly")
    before = copy.deepcopy(body)
    m.maintenance_spec(body, NOW)
    assert body == before
