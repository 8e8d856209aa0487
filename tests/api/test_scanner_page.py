"""The scanner page's server side (``/scan``): who is offered which actions, and the TSG T5002
checklist rendered into the page for every tier, so a technician without signal still has it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.home_routes import EQUIPMENT_CODE, EQUIPMENT_LINK
from ledger.db.engine import transaction
from ledger.domain import maintenance
from ledger.services import orgs, users
from tests.api.test_labels import PUBLIC_URL
from tests.elevators import UNIT, Elevators

PASSWORD = "电梯 维保 2026 冬"
TECHNICIAN = "wang.fang@kuaijie-lift.example.cn"
STOREKEEPER = "chen.jing@lengku.example.cn"
BOTH = "liu.yang@mixed.example.cn"
MANAGER = "zhao.an@xixi-property.example.cn"
TABLE_SIZES = {"half_monthly": 31, "quarterly": 13, "half_yearly": 15, "yearly": 17}


@dataclass
class Item:
    code: str
    tier: str
    measured: bool
    unit: str | None
    minimum: str | None
    results: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    value_input: dict[str, str | None] | None = None


class Page(HTMLParser):
    """What the browser would find in the page: forms, the checklist, scripts and ids."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.forms: dict[str, dict[str, str | None]] = {}
        self.groups: dict[str, str] = {}  # tier -> rank
        self.items: list[Item] = []
        self.scripts: list[str] = []
        self.inline: list[str] = []  # what the CSP would block
        self.texts: list[str] = []  # the keys of the script's texts
        self.tier_choices: list[str] = []
        self.labels: dict[str, str] = {}  # for -> label text
        self._group = ""
        self._label: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        css = (attributes.get("class") or "").split()
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        if "style" in attributes or tag == "style":
            self.inline.append(tag)
        if tag == "script":
            self.scripts.append(str(attributes.get("src")))
            if not attributes.get("src"):
                self.inline.append("script")
        if tag == "form":
            self.forms[str(attributes["id"])] = attributes
        if tag == "span" and "data-text" in attributes:
            self.texts.append(str(attributes["data-text"]))
        if tag == "label" and attributes.get("for"):
            self._label = str(attributes["for"])
            self.labels[self._label] = ""
        if tag == "fieldset" and "check-group" in css:
            self._group = str(attributes["data-tier"])
            self.groups[self._group] = str(attributes["data-rank"])
        elif tag == "fieldset" and "check-item" in css:
            measured = attributes["data-measured"] == "true"
            unit, minimum = attributes.get("data-unit"), attributes.get("data-min")
            self.items.append(Item(str(attributes["data-code"]), self._group, measured, unit, minimum))
        elif tag == "input" and str(attributes.get("name", "")).startswith("result-"):
            item = self.items[-1]
            assert attributes["name"] == f"result-{item.code}" and "required" in attributes
            item.results.append(str(attributes["value"]))
            if "checked" in attributes:
                item.checked.append(str(attributes["value"]))
        elif tag == "input" and str(attributes.get("id", "")).startswith("value-"):
            self.items[-1].value_input = attributes
        elif tag == "input" and attributes.get("name") == "tier":
            self.tier_choices.append(str(attributes["value"]) + ("*" if "checked" in attributes else ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label = None

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self.labels[self._label] += data.strip()


def parsed(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


@pytest.fixture
def lifts(app: Flask, client: FlaskClient) -> Elevators:
    """The elevator world, with a technician of the maintenance company, a cold store's
    storekeeper, someone whose company does both, and the property's safety manager."""
    lifts = Elevators(app, client)
    with transaction(lifts.engine) as session:
        users.create_user(session, TECHNICIAN, lifts.maintainer.org_id, PASSWORD)
        users.create_user(session, MANAGER, lifts.owner.org_id, PASSWORD)
        cold_store = orgs.create_organisation(session, "杭州冷藏仓储有限公司", ["cold_store"])
        users.create_user(session, STOREKEEPER, cold_store.org_id, PASSWORD)
        both = orgs.create_organisation(session, "杭州综合服务有限公司", ["maintenance", "canteen"])
        users.create_user(session, BOTH, both.org_id, PASSWORD)
    return lifts


def log_in(client: FlaskClient, email: str) -> None:
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token[1]})
    assert response.status_code in (302, 303), response.get_data(as_text=True)


def scanner_page(client: FlaskClient, email: str, language: str = "en") -> tuple[str, Page]:
    log_in(client, email)
    client.set_cookie("lang", language)
    response = client.get("/scan")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"  # it carries the CSRF token
    html = response.get_data(as_text=True)
    page = parsed(html)
    assert page.inline == []  # the CSP forbids inline scripts and styles
    assert len(page.ids) == len(set(page.ids)), "ids repeat"
    return html, page


def test_a_technician_gets_check_in_and_check_out_and_no_goods_actions(lifts: Elevators, client: FlaskClient) -> None:
    html, page = scanner_page(client, TECHNICIAN)
    assert "杭州快捷电梯维保有限公司" in html
    assert set(page.forms) == {"visit-form"}
    visit = page.forms["visit-form"]
    assert visit["data-check-in-endpoint"] == "/api/v1/equipment/__CODE__/check-in"
    assert visit["data-record-endpoint"] == "/api/v1/equipment/__CODE__/maintenance"
    assert (visit["data-min-technicians"], visit["data-max-visit-hours"]) == ("2", "12")
    assert "/static/js/maintenance-form.js" in page.scripts[-1]
    assert {"visit-action-check-in", "visit-action-check-out"} <= set(page.ids)
    assert "action-ship" not in page.ids
    assert page.labels["visit-action-check-in"] == "Check in" and page.labels["visit-action-check-out"] == "Check out"
    assert {"kind-check-in", "kind-maintenance", "tier-yearly", "visit-technicians-min"} <= set(page.texts)
    assert {"state-refused", "camera-start"} <= set(page.texts)  # the queue's and the camera's words too


def test_a_storekeeper_gets_the_goods_actions_only(lifts: Elevators, client: FlaskClient) -> None:
    html, page = scanner_page(client, STOREKEEPER)
    assert set(page.forms) == {"scan-form"}
    assert {"action-ship", "action-receive", "action-dispose"} <= set(page.ids)
    assert not any("maintenance-form" in script for script in page.scripts)
    assert "kind-check-in" not in page.texts and page.items == []
    assert "goods-heading" not in page.ids  # one form needs no heading of its own


def test_someone_whose_company_does_both_gets_both(lifts: Elevators, client: FlaskClient) -> None:
    html, page = scanner_page(client, BOTH)
    assert set(page.forms) == {"scan-form", "visit-form"}
    assert {"goods-heading", "visit-heading", "action-receive", "visit-action-check-in"} <= set(page.ids)
    assert html.index('id="scan-form"') < html.index('id="visit-form"') < html.index('id="queue"')
    assert len(page.items) == len(maintenance.all_items())


def test_others_are_sent_to_log_in(lifts: Elevators, client: FlaskClient) -> None:
    anonymous = client.get("/scan")
    assert anonymous.status_code == 302 and anonymous.headers["Location"] == "/login?next=/scan"
    log_in(client, MANAGER)  # a property company's safety manager neither scans goods nor maintains
    assert client.get("/scan").headers["Location"] == "/login?next=/scan"


def test_the_checklist_of_every_tier_is_in_the_page(lifts: Elevators, client: FlaskClient) -> None:
    html, page = scanner_page(client, TECHNICIAN)
    assert page.groups == {tier: str(rank) for rank, tier in enumerate(maintenance.TIERS)}
    assert page.tier_choices == ["half_monthly*", "quarterly", "half_yearly", "yearly"]
    assert [(item.code, item.tier) for item in page.items] == [(i.code, i.tier) for i in maintenance.all_items()]
    for tier, size in TABLE_SIZES.items():
        assert sum(item.tier == tier for item in page.items) == size
    # What a visit of each tier answers is its own table and the shorter tiers' (the page shows
    # the groups up to the chosen rank): the same items the API demands.
    for rank, tier in enumerate(maintenance.TIERS):
        shown = [item.code for item in page.items if int(page.groups[item.tier]) <= rank]
        assert shown == [item.code for item in maintenance.checklist(tier)]
    for item in page.items:
        assert item.results == list(maintenance.RESULTS) and item.checked == []  # no answer is given for them
        assert (item.value_input is not None) == item.measured, item.code
    by_code = {item.code: item for item in page.items}
    locking = by_code["A1-29"]  # engagement of the landing door lock: at least 7 mm
    assert (locking.measured, locking.unit, locking.minimum) == (True, "mm", "7")
    assert locking.value_input is not None and "required" in locking.value_input
    assert page.labels["value-A1-29"] == "Reading (mm)" and page.labels["value-A4-05"] == "Reading (MΩ)"
    assert by_code["A1-01"].value_input is None and by_code["A1-05"].minimum is None
    assert page.labels["r-A1-01-not_applicable"] == "Not applicable"
    assert "表A-1 · Half-monthly" in html and "表A-4 · Yearly" in html
    assert "Brake clearance" in html and "不小于7mm" in html  # English gloss, and the standard's own words


def test_the_checklist_speaks_the_standards_chinese_by_default(lifts: Elevators, client: FlaskClient) -> None:
    html, page = scanner_page(client, TECHNICIAN, language="zh")
    assert "制动器间隙" in html and "Brake clearance" not in html
    assert len(page.items) == 76


def test_the_form_recognises_what_the_home_page_recognises(lifts: Elevators, client: FlaskClient) -> None:
    """The code patterns the script uses are the home page's, and the certificate rule the domain's."""
    html, page = scanner_page(client, TECHNICIAN)
    visit = page.forms["visit-form"]
    assert visit["data-link-pattern"] == EQUIPMENT_LINK.pattern
    assert visit["data-code-pattern"] == EQUIPMENT_CODE.pattern
    link = re.search(str(visit["data-link-pattern"]), f"{PUBLIC_URL}/e/{UNIT}")
    assert link is not None and link[1] == UNIT
    certificate = re.search(r'data-name="certificate"[^>]*pattern="([^"]+)"', html)
    assert certificate is not None and certificate[1] == maintenance._CERTIFICATE.pattern
    assert re.fullmatch(certificate[1], "T3301000456") and not re.fullmatch(certificate[1], "T33-0100")
