"""The inspector's hazard pages: the hazards of one's grids filtered, sorted, paged and exported;
one hazard moved on through its forms (issue with a deadline and addressee, verify and close
on a satisfying entry), each move one entry, a double submit one move, a refused move nothing
appended and the reason shown with what was typed kept."""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import desk_hazard_routes
from ledger.db.engine import transaction
from ledger.db.tables import Equipment
from ledger.services import hazards, users
from tests.api.test_desk import PASSWORD, log_in
from tests.api.test_inspect_api import FAR_UNIT
from tests.elevators import OTHER_UNIT, UNIT, Elevators, local_today

PHOTO = "ab" * 32
INSPECTOR, FAR_INSPECTOR, MANAGER = (
    "inspector@xihu.example.cn",
    "inspector@xiaoshan.example.cn",
    "manager@xixi.example.cn",
)


@dataclass(frozen=True)
class World:
    lifts: Elevators
    worn: int  # 层门门锁 on UNIT: general, yellow, deadline in 10 days
    flooded: int  # 底坑进水 on OTHER_UNIT: major (red, 挂牌督办), deadline in 3 days
    overdue: int  # opened 40 days ago on UNIT, deadline 10 days ago
    far: int  # in Xiaoshan, another district's grid


def open_hazard(lifts: Elevators, who: object, code: str, description: str, **changes: object) -> int:
    body = {"description": description, "level": "general", **changes}
    response = lifts.post(who, f"/api/v1/equipment/{code}/hazards", body)  # type: ignore[arg-type]
    assert response.status_code == 201, response.get_json()
    seq: int = response.get_json()["hazard_seq"]
    return seq


@pytest.fixture
def world(app: Flask, client: FlaskClient) -> World:
    lifts = Elevators(app, client)
    lifts.register(OTHER_UNIT, "3301060101", "10002")
    lifts.register(FAR_UNIT, "3301090101", "10003")
    today = local_today()
    with transaction(lifts.engine) as session:
        # A hazard found 40 days ago with a 30-day deadline: through the service, as it was then.
        unit = session.query(Equipment).filter_by(code=UNIT).one()
        spec = hazards.hazard_spec(
            source="inspector_visit", level="general", description="轿厢照明不足",
            responsible_org_id=unit.user_org_id, today=today - timedelta(days=40),
            deadline=today - timedelta(days=10),
        )  # fmt: skip
        overdue = hazards.open_hazard(session, unit, spec, {"org": lifts.inspector.org_id}).opened_seq
    worn = open_hazard(lifts, lifts.inspector, UNIT, "层门门锁触点磨损", deadline=str(today + timedelta(days=10)))
    flooded = open_hazard(
        lifts, lifts.inspector, OTHER_UNIT, "底坑进水", level="major", deadline=str(today + timedelta(days=3))
    )
    far = open_hazard(lifts, lifts.far_inspector, FAR_UNIT, "曳引钢丝绳断丝")
    with transaction(lifts.engine) as session:
        users.create_user(session, INSPECTOR, lifts.inspector.org_id, PASSWORD)
        users.create_user(session, FAR_INSPECTOR, lifts.far_inspector.org_id, PASSWORD)
        users.create_user(session, MANAGER, lifts.owner.org_id, PASSWORD)
    client.set_cookie("lang", "en")
    return World(lifts, worn, flooded, overdue, far)


def listed(client: FlaskClient, query: str = "") -> list[int]:
    response = client.get(f"/desk/hazards?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return [int(seq) for seq in re.findall(r'<li class="alert \w+" data-seq="(\d+)"', response.get_data(as_text=True))]


def form_fields(page: str, form_id: str) -> dict[str, str]:
    """The hidden fields of one form on the page, as the browser would send them."""
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', page, re.S)
    assert form is not None, f"no form {form_id}"
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form[0])
    }


def test_the_list_holds_my_grids_hazards_filtered_sorted_and_paged(
    world: World, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/desk/hazards").status_code == 302  # log in first
    log_in(client, INSPECTOR)
    assert listed(client) == [world.overdue, world.flooded, world.worn]  # nearest deadline first
    assert world.far not in listed(client, "state=all")
    assert listed(client, "sort=severity") == [world.flooded, world.overdue, world.worn]  # major, then by deadline
    assert listed(client, "sort=opened") == [world.flooded, world.worn, world.overdue]  # newest first
    assert listed(client, "supervised=1") == [world.flooded]
    assert listed(client, "overdue=1") == [world.overdue]
    assert listed(client, f"unit={OTHER_UNIT}") == [world.flooded]
    assert listed(client, f"unit={UNIT[:12]}&sort=opened") == [world.worn, world.overdue]  # the start of a code
    assert listed(client, "state=issued") == []
    assert listed(client, "grid=3301060101&state=found") == [world.overdue, world.flooded, world.worn]

    page = client.get("/desk/hazards?supervised=1").get_data(as_text=True)
    assert "Supervised rectification" in page and 'data-total="1">1 hazard ·' in page
    assert 'name="supervised" type="checkbox" value="1" checked' in page  # the filter stays set
    late = client.get("/desk/hazards?overdue=1").get_data(as_text=True)
    assert "10 days overdue" in late

    monkeypatch.setattr(desk_hazard_routes, "PER_PAGE", 2)
    assert listed(client, "page=2") == [world.worn]
    second = client.get("/desk/hazards?sort=opened&page=1").get_data(as_text=True)
    assert "1 / 2" in second and "sort=opened&amp;page=2" in second

    elsewhere = client.get("/desk/hazards?grid=3301090101")
    assert elsewhere.status_code == 403 and "outside the grids you oversee" in elsewhere.get_data(as_text=True)
    for bad in ("state=sleeping", "sort=random", "overdue=yes", "unit=%25%25"):
        refused = client.get(f"/desk/hazards?{bad}")
        assert refused.status_code == 422 and 'id="list-error"' in refused.get_data(as_text=True), bad


def test_the_export_is_stamped_with_its_filters(world: World, client: FlaskClient) -> None:
    log_in(client, INSPECTOR)
    page = client.get("/desk/hazards?sort=severity&overdue=").get_data(as_text=True)
    assert 'href="/desk/hazards?sort=severity&amp;overdue=&amp;format=csv"' in page
    export = client.get("/desk/hazards?sort=severity&format=csv")
    assert export.mimetype == "text/csv" and "attachment" in export.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0].startswith("# 安链 Anlian hazards") and "sort=severity" in rows[0][0]
    table = [dict(zip(rows[1], row, strict=True)) for row in rows[2:]]
    assert [(r["hazard_seq"], r["equipment_code"], r["status_zh"]) for r in table] == [
        (str(world.flooded), OTHER_UNIT, "发现"),
        (str(world.overdue), UNIT, "发现"),
        (str(world.worn), UNIT, "发现"),
    ]
    assert table[0]["supervised"] == "True" and table[1]["days_overdue"] == "10" and table[2]["days_overdue"] == "0"
    assert client.get("/desk/hazards?format=pdf").status_code == 422


def test_another_grids_inspector_sees_nothing_and_a_business_is_turned_away(world: World, client: FlaskClient) -> None:
    log_in(client, FAR_INSPECTOR)
    assert listed(client, "state=all") == [world.far]
    hidden = client.get(f"/desk/hazards/{world.worn}")
    assert hidden.status_code == 404 and "层门门锁触点磨损" not in hidden.get_data(as_text=True)
    assert "in the grids you oversee" in hidden.get_data(as_text=True)
    assert client.get("/desk/hazards/99999999999999999999").status_code == 404
    page = client.get(f"/desk/hazards/{world.far}").get_data(as_text=True)
    size = world.lifts.size()
    fields = {**form_fields(page, "form-issued"), "deadline": str(local_today() + timedelta(days=5))}
    assert client.post(f"/desk/hazards/{world.worn}", data=fields).status_code == 404
    assert world.lifts.size() == size

    client.post("/logout", data={"csrf_token": fields["csrf_token"]})
    log_in(client, MANAGER)
    assert client.get("/desk/hazards").status_code == 403
    assert client.get(f"/desk/hazards/{world.worn}").status_code == 403
    assert client.get(f"/desk/hazards/{world.far}").status_code == 403


def test_issue_verify_and_close_each_append_one_entry(world: World, client: FlaskClient) -> None:
    lifts = world.lifts
    log_in(client, INSPECTOR)
    url = f"/desk/hazards/{world.worn}"
    page = client.get(url).get_data(as_text=True)
    assert 'id="form-closed"' not in page and f"#{world.worn}" in page
    deadline = str(local_today() + timedelta(days=5))
    fields = {**form_fields(page, "form-issued"), "deadline": deadline,
              "responsible_org_id": lifts.maintainer.org_id, "note": "请五日内更换门锁触点"}  # fmt: skip
    size = lifts.size()
    issued = client.post(url, data=fields)
    assert issued.status_code == 303 and lifts.size() == size + 1
    again = client.post(url, data=fields)  # the same form sent twice: one move
    assert again.status_code == 303 and lifts.size() == size + 1

    page = client.get(url).get_data(as_text=True)
    assert f"Recorded as ledger entry #{size}" in page and 'data-status="issued"' in page
    assert f'<time datetime="{deadline}">' in page and "杭州快捷电梯维保有限公司" in page
    assert f'data-seq="{size}"' in page and "请五日内更换门锁触点" in page  # the step, with its seq
    assert "Waiting for the responsible unit to start rectifying." in page
    entry = client.get(f"/api/v1/ledger/entries/{size}").get_json()["entry"]
    assert entry["payload"]["deadline"] == deadline
    assert entry["payload"]["responsible_org_id"] == lifts.maintainer.org_id
    assert client.get(url).get_data(as_text=True).count("Recorded as ledger entry") == 0  # said once

    # The maintenance company, now responsible, rectifies and sends its evidence.
    base = f"/api/v1/hazards/{world.worn}/transitions"
    assert lifts.post(lifts.maintainer, base, {"to": "rectifying"}).status_code == 200
    first = lifts.post(lifts.maintainer, base, {"to": "to_verify", "evidence": [PHOTO]})
    assert first.status_code == 200

    # Not good enough yet: sent back with what is still wrong, then the company tries again.
    page = client.get(url).get_data(as_text=True)
    back = {**form_fields(page, "form-rectifying"), "note": "触点仍有烧蚀痕迹"}
    size = lifts.size()
    assert client.post(url, data=back).status_code == 303 and lifts.size() == size + 1
    page = client.get(url).get_data(as_text=True)
    assert 'data-status="rectifying"' in page and "触点仍有烧蚀痕迹" in page
    assert "Waiting for the responsible unit to send evidence of the rectification." in page
    evidence = lifts.post(lifts.maintainer, base, {"to": "to_verify", "evidence": [PHOTO, "ef" * 32]})
    assert evidence.status_code == 200
    fixed = evidence.get_json()["updated_seq"]

    page = client.get(url).get_data(as_text=True)
    assert f'id="satisfied-{fixed}" name="satisfied_by_seq" value="{fixed}"' in page
    close = {**form_fields(page, "form-closed"), "satisfied_by_seq": str(fixed), "note": "现场复核合格"}
    size = lifts.size()
    assert client.post(url, data=close).status_code == 303 and lifts.size() == size + 1
    assert client.post(url, data=close).status_code == 303 and lifts.size() == size + 1
    page = client.get(url).get_data(as_text=True)
    assert 'data-status="closed"' in page and f"entry #{fixed}" in page and "The hazard is closed." in page
    assert 'id="form-closed"' not in page
    assert listed(client) == [world.overdue, world.flooded]  # a closed hazard leaves the default list
    assert world.worn in listed(client, "state=closed")


def test_a_refused_move_appends_nothing_and_keeps_what_was_typed(world: World, client: FlaskClient) -> None:
    lifts = world.lifts
    log_in(client, INSPECTOR)
    url = f"/desk/hazards/{world.worn}"
    fields = form_fields(client.get(url).get_data(as_text=True), "form-issued")
    size = lifts.size()

    past = str(local_today() - timedelta(days=1))
    refused = client.post(url, data={**fields, "deadline": past, "note": "门锁须更换"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "deadline cannot be in the past" in page
    assert f'value="{past}"' in page and ">门锁须更换</textarea>" in page and 'aria-invalid="true"' in page
    malformed = client.post(url, data={**fields, "deadline": "next friday"})
    assert malformed.status_code == 422 and "deadline must be a date" in malformed.get_data(as_text=True)
    stranger = client.post(url, data={**fields, "responsible_org_id": lifts.rival.org_id})
    assert stranger.status_code == 422 and "user unit or its maintenance company" in stranger.get_data(as_text=True)
    too_soon = client.post(url, data={**fields, "to": "closed", "satisfied_by_seq": str(world.worn)})
    assert too_soon.status_code == 422 and 'id="error-page"' in too_soon.get_data(as_text=True)
    assert lifts.size() == size

    assert client.post(url, data={**fields, "deadline": str(local_today())}).status_code == 303
    base = f"/api/v1/hazards/{world.worn}/transitions"
    assert lifts.post(lifts.owner, base, {"to": "rectifying"}).status_code == 200
    assert lifts.post(lifts.owner, base, {"to": "to_verify", "evidence": [PHOTO]}).status_code == 200
    close = form_fields(client.get(url).get_data(as_text=True), "form-closed")
    size = lifts.size()
    unrelated = client.post(url, data={**close, "satisfied_by_seq": "", "satisfied_by_other": str(world.worn - 1)})
    page = unrelated.get_data(as_text=True)
    assert unrelated.status_code == 422 and f"entry {world.worn - 1} is not a later entry" in page
    assert f'value="{world.worn - 1}"' in page and 'id="error-closed"' in page
    nothing = client.post(url, data={**close, "satisfied_by_seq": "", "satisfied_by_other": "abc"})
    assert nothing.status_code == 422 and "a whole number" in nothing.get_data(as_text=True)
    assert lifts.size() == size


def test_the_forms_need_the_csrf_token(world: World, client: FlaskClient) -> None:
    log_in(client, INSPECTOR)
    url = f"/desk/hazards/{world.worn}"
    fields = form_fields(client.get(url).get_data(as_text=True), "form-issued")
    size = world.lifts.size()
    forged = {**fields, "csrf_token": "forged", "deadline": str(local_today() + timedelta(days=5)), "note": "限期整改"}
    refused = client.post(url, data=forged)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "nothing was changed" in page and ">限期整改</textarea>" in page
    assert world.lifts.size() == size and 'data-status="found"' in page
