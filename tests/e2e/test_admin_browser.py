"""An administrator in a real browser (Debian's Chromium, driven by Playwright) at a phone's size,
under the real Content-Security-Policy: logs in, registers an organisation, issues it an API key
and sees each key exactly once; the key then works against the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from ledger.db.engine import transaction
from ledger.services import orgs, users
from tests.e2e.live import serving, sqlite_app
from tests.e2e.test_login_browser import CHROMIUM, CHROMIUM_ARGS, CSP_LISTENER, PHONE, fits_the_screen

EMAIL = "admin@hz-amr.example.cn"
PASSWORD = "湖滨 音乐喷泉 2026 春"  # noqa: S105 (test data)
NEW_ORG = "杭州鲜果批发有限公司"
SCREENSHOT = Path(__file__).parent / "screenshots" / "admin.png"


@pytest.fixture
def admin_url(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    app = sqlite_app(sqlite_template, tmp_path)
    with transaction(app.extensions["ledger.engine"]) as db:
        bureau = orgs.create_organisation(db, "杭州市市场监督管理局", ["admin", "inspector"])
        users.create_user(db, EMAIL, bureau.org_id, PASSWORD)
    with serving(app) as url:
        yield url
    app.extensions["ledger.engine"].dispose()


def shown_key(page: Page) -> str:
    key = page.locator("#new-api-key")
    assert key.count() == 1, "no API key on the page"
    return key.input_value()


def test_an_admin_registers_an_org_issues_a_key_and_sees_it_once(admin_url: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with 'apt-get update && apt-get install -y chromium'")
    violations: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
            context.expose_function("reportCspViolation", lambda violation: violations.append(violation))
            context.add_init_script(CSP_LISTENER)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))

            page.goto(f"{admin_url}/admin/orgs")
            assert page.url == f"{admin_url}/login?next=/admin/orgs"
            page.fill("#email", EMAIL)
            page.fill("#password", PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_url(f"{admin_url}/admin/orgs")
            assert fits_the_screen(page)

            page.fill("#name", NEW_ORG)
            page.check("#role-retailer")
            page.check("#role-carrier")
            page.fill("#contact_person", "王芳")
            with page.expect_navigation():
                page.click("#create-org button[type=submit]")
            assert page.locator("#org-name").inner_text() == NEW_ORG
            first = shown_key(page)
            assert first.startswith("anl_")
            assert page.locator("#copy-key").is_visible()  # admin.js ran under the CSP
            org_id = page.locator("#org-id").inner_text()

            page.goto(f"{admin_url}/admin/orgs/{org_id}")
            assert page.locator("#new-api-key").count() == 0 and first not in page.content()

            with page.expect_navigation():
                page.click("#issue-key button[type=submit]")
            second = shown_key(page)
            assert second.startswith("anl_") and second != first
            assert page.locator("#api-key-list li[data-state=active]").count() == 2
            assert fits_the_screen(page)
            page.locator("#new-api-key").scroll_into_view_if_needed()
            page.screenshot(path=SCREENSHOT, full_page=True)

            bearer = {"Authorization": f"Bearer {second}"}
            answer = page.request.get(f"{admin_url}/api/v1/orgs/{org_id}", headers=bearer)
            assert answer.status == 200 and answer.json()["name"] == NEW_ORG

            page.goto(f"{admin_url}/admin/orgs/{org_id}")  # the key is gone for good
            assert page.locator("#new-api-key").count() == 0
            assert first not in page.content() and second not in page.content()
        finally:
            browser.close()
    assert violations == [] and errors == []
    assert SCREENSHOT.read_bytes().startswith(b"\x89PNG")
