"""An inspector on a phone, in a real browser under the real Content-Security-Policy: opens a
hazard, issues the rectification notice with a deadline, lists it for supervised rectification
(挂牌督办), gives it to a colleague to follow up, verifies and closes it on the maintenance
company's evidence; and looks up a batch's recall view and downloads its holders."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright

from ledger.db.engine import transaction
from ledger.services import users
from tests.coldchain import ColdChain
from tests.e2e.live import serving, sqlite_app
from tests.e2e.test_integrity_browser import screenshot
from tests.e2e.test_login_browser import CHROMIUM, CHROMIUM_ARGS, CSP_LISTENER, PHONE
from tests.elevators import UNIT, Elevators, local_today

EMAIL = "inspector@xihu.example.cn"
COLLEAGUE = "wang@xihu.example.cn"
PASSWORD = "西溪 巡查 2026 冬"  # noqa: S105 (test data)
PHOTO = "cd" * 32
LAMB = "(01)09506000134352(10)NZ-2026/11-A"


@dataclass(frozen=True)
class Served:
    url: str
    app: Flask


@contextmanager
def _serve(app: Flask, inspector_org: str) -> Iterator[Served]:
    """The app on a loopback port, with a login for the inspector."""
    with transaction(app.extensions["ledger.engine"]) as session:
        users.create_user(session, EMAIL, inspector_org, PASSWORD)
        users.create_user(session, COLLEAGUE, inspector_org, PASSWORD)
    with serving(app) as url:
        yield Served(url, app)
    app.extensions["ledger.engine"].dispose()


@pytest.fixture
def lifts_served(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[Served, Elevators, int]]:
    """A hazard found on an elevator in the inspector's district."""
    app = sqlite_app(sqlite_template, tmp_path)
    lifts = Elevators(app, app.test_client())
    opened = lifts.post(lifts.inspector, f"/api/v1/equipment/{UNIT}/hazards", {"description": "层门门锁触点磨损"})
    assert opened.status_code == 201, opened.get_json()
    with _serve(app, lifts.inspector.org_id) as served:
        yield served, lifts, opened.get_json()["hazard_seq"]


@pytest.fixture
def chain_served(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[Served, ColdChain]]:
    """A lamb lot carried from the importer to a carrier and on to a cold store."""
    app = sqlite_app(sqlite_template, tmp_path)
    chain = ColdChain(app, app.test_client())
    chain.batch(quantity=400)
    chain.hand_over(chain.importer, chain.carrier, quantity=300)
    chain.hand_over(chain.carrier, chain.store, quantity=120)
    with _serve(app, chain.inspector.org_id) as served:
        yield served, chain


def _phone(browser: Browser, violations: list[str]) -> Page:
    context = browser.new_context(viewport=PHONE, locale="zh-CN", accept_downloads=True)
    context.expose_function("reportCspViolation", lambda message: violations.append(message))
    context.add_init_script(CSP_LISTENER)
    return context.new_page()


def _log_in(page: Page, url: str) -> None:
    page.goto(url)
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(url)


def test_an_inspector_issues_verifies_and_closes_a_hazard_on_a_phone(
    lifts_served: tuple[Served, Elevators, int],
) -> None:
    served, lifts, hazard_seq = lifts_served
    url = f"{served.url}/desk/hazards/{hazard_seq}"
    deadline = (local_today() + timedelta(days=7)).isoformat()
    violations: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = _phone(browser, violations)
        _log_in(page, url)
        assert page.locator("#hazard-state").get_attribute("data-status") == "found"
        assert page.locator("#steps li").first.get_attribute("data-seq") == str(hazard_seq)

        page.fill("#deadline", deadline)
        page.select_option("#responsible_org_id", lifts.maintainer.org_id)
        page.fill("#note-issued", "请于期限内更换门锁触点")
        page.locator("#form-issued button[type=submit]").click()
        page.wait_for_selector("#moved")
        assert page.locator("#hazard-state").get_attribute("data-status") == "issued"
        assert page.locator("#deadline-shown time").get_attribute("datetime") == deadline
        assert page.locator("#responsible").inner_text() == "杭州快捷电梯维保有限公司"
        assert page.locator("#steps li").count() == 2

        # Three entrapments in a month: listed for supervised rectification by the city bureau.
        size = lifts.size()
        reason = "同一小区一月内三次困人，报市局挂牌督办"
        page.fill("#reason-supervision", reason)
        page.locator("#form-supervision button[type=submit]").click()
        page.wait_for_selector("#moved")
        assert page.locator("#hazard-state .supervised").count() == 1
        assert page.locator(f'#steps li[data-seq="{size}"] .note').inner_text() == reason
        assert page.locator("#form-supervision input[name=supervised]").get_attribute("value") == "0"  # now: lift

        # A colleague will follow it up on site.
        colleague = page.locator("#assignee_user_id option", has_text=COLLEAGUE).get_attribute("value")
        assert colleague is not None
        page.select_option("#assignee_user_id", colleague)
        page.fill("#note-assignment", "周五前到场复查门锁")
        page.locator("#form-assignment button[type=submit]").click()
        page.wait_for_selector("#moved")
        assert page.locator("#assignee").inner_text() == COLLEAGUE
        assert page.locator("#steps li").last.get_attribute("data-seq") == str(size + 1)
        assert lifts.size() == size + 2  # one entry each
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        # The maintenance company, now responsible, does its part from its own system.
        moves = f"/api/v1/hazards/{hazard_seq}/transitions"
        assert lifts.post(lifts.maintainer, moves, {"to": "rectifying"}).status_code == 200
        evidence = lifts.post(lifts.maintainer, moves, {"to": "to_verify", "evidence": [PHOTO]})
        fixed = evidence.get_json()["updated_seq"]

        page.reload()
        assert page.locator("#hazard-state").get_attribute("data-status") == "to_verify"
        assert page.locator(f"#satisfied-{fixed}").is_checked()  # the evidence, offered first
        page.fill("#note-closed", "现场复核合格")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "desk-hazard.png")
        page.locator("#form-closed button[type=submit]").click()
        page.wait_for_selector("#moved")
        assert page.locator("#hazard-state").get_attribute("data-status") == "closed"
        assert page.locator("#hazard-state strong").inner_text() in ("Closed", "已销号")
        assert page.locator("#closed-by").inner_text().endswith(f"#{fixed}")
        assert page.locator("#steps li").count() == 7
        assert page.locator("form.hazard-move").count() == 0
        assert page.locator("#hazard-state .supervised").count() == 1  # still listed once closed
        assert page.locator("#assignee").inner_text() == COLLEAGUE

        page.goto(f"{served.url}/desk/hazards?state=closed")
        assert page.locator("ol.hazard-list li").first.get_attribute("data-seq") == str(hazard_seq)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        browser.close()
    assert violations == []


def test_the_recall_view_lists_every_holder_and_exports_them(chain_served: tuple[Served, ColdChain]) -> None:
    served, chain = chain_served
    violations: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = _phone(browser, violations)
        page.goto(f"{served.url}/desk/recall")
        page.fill("#email", EMAIL)
        page.fill("#password", PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{served.url}/desk/recall")
        page.fill("#batch-code", LAMB)
        page.keyboard.press("Enter")
        page.wait_for_selector("#holders")
        names = page.locator("#holders li strong").all_inner_texts()
        assert names == ["宁波进口肉类有限公司", "浙江冷链运输有限公司", "萧山冷链中心"]
        assert page.locator("#holders li .holds-now").all_inner_texts() == ["100.0", "180.0", "120.0"]
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        with page.expect_download() as download:
            page.click("#export-csv")
        text = Path(download.value.path()).read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        held_at = {row["Location Description"].split(",")[0] for row in rows}
        assert set(names) <= held_at

        size = chain.size()
        page.fill("#reason", "外包装检出阳性")
        page.locator("#open-recall button[type=submit]").click()
        page.wait_for_selector("#opened")
        assert page.locator(".recall-open").count() == 1 and page.locator("#open-recall").count() == 0
        assert chain.size() == size + 1  # one recall.opened entry
        browser.close()
    assert violations == []
