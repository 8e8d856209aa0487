"""The inspector's hazard pages: the hazards of one's grids filtered, sorted, paged and exported;
one hazard moved on through its forms (issue with a deadline and addressee, verify and close
on a satisfying entry, list it for supervised rectification, give it to a person of the bureau),
each move one entry, a double submit one move, a refused move nothing appended and the reason
shown with what was typed kept."""

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
from ledger.services import hazards, orgs, users
from tests.api.test_desk import PASSWORD, log_in
from tests.api.test_inspect_api import FAR_UNIT
from tests.elevators import OTHER_UNIT, UNIT, Elevators, local_today

PHOTO = "ab" * 32
INSPECTOR, FAR_INSPECTOR, MANAGER, COLLEAGUE = (
    "inspector@xihu.example.cn",
    "inspector@xiaoshan.example.cn",
    "manager@xixi.example.cn",
    "colleague@xihu.example.cn",
)
ADMIN = "admin@hz.example.cn"


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
        users.create_user(session, COLLEAGUE, lifts.inspector.org_id, PASSWORD)
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
    assert 'id="form-supervision"' not in page and 'id="form-assignment"' not in page  # closed: nothing more
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


def user_id(lifts: Elevators, email: str) -> int:
    with transaction(lifts.engine) as session:
        found = users.find_user(session, email)
        assert found is not None
        return found.id


def entry(client: FlaskClient, seq: int) -> dict:
    found: dict = client.get(f"/api/v1/ledger/entries/{seq}").get_json()["entry"]
    return found


def test_listing_for_supervision_and_giving_to_a_colleague_each_append_one_entry(
    world: World, client: FlaskClient
) -> None:
    lifts = world.lifts
    log_in(client, INSPECTOR)
    url = f"/desk/hazards/{world.worn}"
    page = client.get(url).get_data(as_text=True)
    assert "List for supervised rectification" in page and 'id="assignee" data-user="">Nobody yet' in page
    options = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', page)
    assert [email.split()[0] for _, email in options] == [COLLEAGUE, INSPECTOR]  # the bureau's people
    assert "inspector@xiaoshan" not in page and MANAGER not in page

    mark = {**form_fields(page, "form-supervision"), "reason": "同一小区一月内三次困人"}
    assert mark["supervised"] == "1"
    size = lifts.size()
    assert client.post(f"{url}/supervision", data=mark).status_code == 303 and lifts.size() == size + 1
    assert client.post(f"{url}/supervision", data=mark).status_code == 303 and lifts.size() == size + 1  # resent
    page = client.get(url).get_data(as_text=True)
    assert f"Recorded as ledger entry #{size}: the hazard is now listed for supervised rectification." in page
    assert re.search(rf'data-seq="{size}">\s*<strong>#{size}\s*Listed for supervised rectification', page)
    assert "同一小区一月内三次困人" in page and "Lift supervised rectification" in page
    assert listed(client, "supervised=1") == [world.flooded, world.worn]
    assert entry(client, size)["payload"]["supervised"] is True

    me, colleague = user_id(lifts, INSPECTOR), user_id(lifts, COLLEAGUE)
    give = {**form_fields(page, "form-assignment"), "assignee_user_id": str(me), "note": "本周内到场复查"}
    size = lifts.size()
    assert client.post(f"{url}/assignment", data=give).status_code == 303
    assert client.post(f"{url}/assignment", data=give).status_code == 303 and lifts.size() == size + 1
    page = client.get(url).get_data(as_text=True)
    assert f"Recorded as ledger entry #{size}: {INSPECTOR} now follows the hazard up." in page
    assert f'id="assignee" data-user="{me}">{INSPECTOR}</dd>' in page
    assert re.search(rf'data-seq="{size}">\s*<strong>#{size}\s*Given to {INSPECTOR} to follow up', page)
    assert "本周内到场复查" in page
    assert "@" not in str(entry(client, size))  # the person is in the ledger by account number only
    assert listed(client, "mine=1") == [world.worn]
    assert f"followed up by {INSPECTOR}" in client.get("/desk/hazards").get_data(as_text=True)

    again = {**form_fields(page, "form-assignment"), "assignee_user_id": str(colleague)}
    assert client.post(f"{url}/assignment", data=again).status_code == 303 and lifts.size() == size + 2
    assert listed(client, "mine=1") == []
    export = client.get("/desk/hazards?format=csv&state=all").get_data(as_text=True)
    assert f"{world.worn}," in export and COLLEAGUE in export
    client.post("/logout", data={"csrf_token": again["csrf_token"]})
    log_in(client, COLLEAGUE)
    assert listed(client, "mine=1") == [world.worn]
    page = client.get(url).get_data(as_text=True)
    steps = re.findall(r'<li class="alert" data-seq="(\d+)"', page)
    assert steps == [str(world.worn), str(size - 1), str(size), str(size + 1)]  # every step with its seq

    lift = {**form_fields(page, "form-supervision"), "reason": "已查明为个别故障"}
    assert lift["supervised"] == "0"
    assert client.post(f"{url}/supervision", data=lift).status_code == 303 and lifts.size() == size + 3
    page = client.get(url).get_data(as_text=True)
    assert "the hazard is no longer listed for supervised rectification" in page
    assert "Supervised rectification lifted" in page and 'id="hazard-state"' in page
    assert listed(client, "supervised=1") == [world.flooded]


def test_only_an_inspector_of_the_grid_sees_and_sends_the_forms(world: World, client: FlaskClient) -> None:
    lifts = world.lifts
    with transaction(lifts.engine) as session:
        admin = orgs.create_organisation(session, orgs.OrgSpec("杭州市市场监管局信息中心", ["admin"]))
        users.create_user(session, ADMIN, admin.org_id, PASSWORD)
    log_in(client, INSPECTOR)
    page = client.get(f"/desk/hazards/{world.worn}").get_data(as_text=True)
    mark = {**form_fields(page, "form-supervision"), "reason": "督办"}
    give = {**form_fields(page, "form-assignment"), "assignee_user_id": str(user_id(lifts, COLLEAGUE))}
    client.post("/logout", data={"csrf_token": mark["csrf_token"]})
    size = lifts.size()

    log_in(client, ADMIN)
    shown = client.get(f"/desk/hazards/{world.worn}")
    page = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "层门门锁触点磨损" in page  # an admin sees the hazard
    assert 'id="form-supervision"' not in page and 'id="form-assignment"' not in page  # but has no forms
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/account").get_data(as_text=True))
    assert token is not None
    refused = client.post(f"/desk/hazards/{world.worn}/supervision", data={**mark, "csrf_token": token[1]})
    assert refused.status_code == 403 and "only an inspector of grid" in refused.get_data(as_text=True)
    assert (
        client.post(f"/desk/hazards/{world.worn}/assignment", data={**give, "csrf_token": token[1]}).status_code == 403
    )
    client.post("/logout", data={"csrf_token": token[1]})

    log_in(client, FAR_INSPECTOR)
    far_page = client.get(f"/desk/hazards/{world.far}").get_data(as_text=True)
    far_mark = {**form_fields(far_page, "form-supervision"), "reason": "越权督办"}
    hidden = client.post(f"/desk/hazards/{world.worn}/supervision", data=far_mark)
    assert hidden.status_code == 404 and "层门门锁触点磨损" not in hidden.get_data(as_text=True)
    far_give = {**form_fields(far_page, "form-assignment"), "assignee_user_id": str(user_id(lifts, FAR_INSPECTOR))}
    assert client.post(f"/desk/hazards/{world.worn}/assignment", data=far_give).status_code == 404
    assert lifts.size() == size


def test_a_refused_supervision_or_assignment_keeps_what_was_typed(world: World, client: FlaskClient) -> None:
    lifts = world.lifts
    log_in(client, INSPECTOR)
    url = f"/desk/hazards/{world.worn}"
    page = client.get(url).get_data(as_text=True)
    mark, give = form_fields(page, "form-supervision"), form_fields(page, "form-assignment")
    size = lifts.size()

    empty = client.post(f"{url}/supervision", data={**mark, "reason": "  "})
    assert empty.status_code == 422 and 'id="error-supervision"' in empty.get_data(as_text=True)
    assert "reason must be 1 to 2000 characters" in empty.get_data(as_text=True)
    # Another inspector listed it meanwhile: this page's form is refused, and the text stays.
    api = lifts.post(
        lifts.inspector, f"/api/v1/hazards/{world.worn}/supervision", {"supervised": True, "reason": "市局督办"}
    )
    assert api.status_code == 201
    size = lifts.size()
    stale = client.post(f"{url}/supervision", data={**mark, "reason": "三次困人，报请督办"})
    page = stale.get_data(as_text=True)
    assert stale.status_code == 422 and "already under supervised rectification" in page
    assert (
        ">三次困人，报请督办</textarea>" in page and 'aria-invalid="true" aria-describedby="error-supervision"' in page
    )

    forged = client.post(f"{url}/supervision", data={**mark, "csrf_token": "forged", "reason": "请督办"})
    page = forged.get_data(as_text=True)
    assert forged.status_code == 400 and "nothing was changed" in page and ">请督办</textarea>" in page
    assert 'id="error-supervision"' in page

    colleague = user_id(lifts, COLLEAGUE)
    with transaction(lifts.engine) as session:
        users.set_disabled(session, colleague, True)  # left the bureau after the page was loaded
    gone = client.post(f"{url}/assignment", data={**give, "assignee_user_id": str(colleague), "note": "周五复查"})
    page = gone.get_data(as_text=True)
    assert gone.status_code == 422 and f"account {colleague} is not an active inspector of your bureau" in page
    assert ">周五复查</textarea>" in page and 'id="error-assignment"' in page
    assert COLLEAGUE not in page  # no longer offered
    nobody = client.post(f"{url}/assignment", data={**give, "assignee_user_id": "", "note": "周五复查"})
    assert nobody.status_code == 422 and "Choose the person who follows the hazard up" in nobody.get_data(as_text=True)
    forged = client.post(f"{url}/assignment", data={**give, "csrf_token": "forged", "note": "周五复查"})
    assert forged.status_code == 400 and 'id="error-assignment"' in forged.get_data(as_text=True)
    assert lifts.size() == size
