"""An inspector at the desk in a real browser: logs in, filters the overdue list, sorts it,
pages through it and downloads the export, at a phone's width and by keyboard where it matters."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from ledger.db.engine import transaction
from ledger.services import users
from tests.api.test_rules import run
from tests.e2e.live import serving, sqlite_app
from tests.e2e.test_integrity_browser import screenshot
from tests.e2e.test_login_browser import CHROMIUM, CHROMIUM_ARGS, CSP_LISTENER, PHONE
from tests.elevators import OTHER_UNIT, UNIT, Elevators, local_today

EMAIL = "inspector@xihu.example.cn"
PASSWORD = "西溪 巡查 2026 冬"  # noqa: S105 (test data)


@pytest.fixture
def desk_url(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """The app on a loopback port with two overdue elevators in the inspector's district."""
    app = sqlite_app(sqlite_template, tmp_path)
    lifts = Elevators(app, app.test_client())
    lifts.register(OTHER_UNIT, "3301060101", "10002")
    lifts.visit("half_monthly", days_ago=40)
    lifts.visit("half_monthly", days_ago=20, code=OTHER_UNIT)
    run(lifts.engine, "maintenance_half_monthly", local_today())
    with transaction(lifts.engine) as session:
        users.create_user(session, EMAIL, lifts.inspector.org_id, PASSWORD)
    with serving(app) as url:
        yield url
    app.extensions["ledger.engine"].dispose()


def listed(page: Page) -> list[str]:
    return [text.split(" ")[0] for text in page.locator("ol.alerts li strong").all_inner_texts()]


def test_the_inspector_filters_sorts_and_exports_the_overdue_list(desk_url: str) -> None:
    violations: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE, locale="zh-CN", accept_downloads=True)
        context.expose_function("reportCspViolation", lambda message: violations.append(message))
        context.add_init_script(CSP_LISTENER)
        page = context.new_page()
        page.goto(f"{desk_url}/desk")
        page.fill("#email", EMAIL)
        page.fill("#password", PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{desk_url}/desk")
        assert listed(page) == [UNIT, OTHER_UNIT]  # worst first: 25 days over, then 5
        assert page.locator("#total-open").inner_text() == "2"
        assert page.locator(".trend polyline").count() == 1
        screenshot(page, "desk.png")

        page.select_option("#colour", "yellow")
        page.locator("form.filters button[type=submit]").last.click()
        page.wait_for_url("**/desk?**colour=yellow**")
        assert listed(page) == [OTHER_UNIT]

        page.select_option("#colour", "")
        page.select_option("#sort", "due_date")
        page.locator("form.filters button[type=submit]").last.click()
        page.wait_for_url("**sort=due_date**")
        assert listed(page) == [UNIT, OTHER_UNIT]  # the earlier due date first

        with page.expect_download() as download:
            page.click("#export-csv")
        text = Path(download.value.path()).read_text(encoding="utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0][0].startswith("# 安链 Anlian alerts") and "sort=due_date" in rows[0][0]
        assert [row[4] for row in rows[2:]] == [f"equipment:{UNIT}", f"equipment:{OTHER_UNIT}"]

        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        browser.close()
    assert violations == []
