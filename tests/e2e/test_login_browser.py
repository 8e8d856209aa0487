"""A real browser (Debian's Chromium, driven by Playwright) logs in and out with the keyboard
alone, at a phone's screen size, under the real Content-Security-Policy.

Chromium comes from Debian (``apt-get install -y chromium``), never from ``playwright install``:
a missing browser fails this test instead of skipping it, so CI cannot pass without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

from ledger.db.engine import transaction
from ledger.services import orgs, users
from tests.e2e.live import serving, sqlite_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
EMAIL = "li.na@example.cn"
PASSWORD = "钱塘江 大潮 2026 秋"  # noqa: S105 (test data)
ORG_NAME = "宁波冷链物流有限公司"
# Reports every CSP violation to the test, from every page the browser opens.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


@pytest.fixture
def live_url(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """The app on a free loopback port, on a SQLite database of its own, with one account."""
    app = sqlite_app(sqlite_template, tmp_path)
    with transaction(app.extensions["ledger.engine"]) as db:
        org = orgs.create_organisation(db, ORG_NAME, ["carrier", "cold_store"])
        users.create_user(db, EMAIL, org.org_id, PASSWORD)
    with serving(app) as url:
        yield url
    app.extensions["ledger.engine"].dispose()


def focused_id(page: Page) -> str:
    value: str = page.evaluate("document.activeElement ? document.activeElement.id : ''")
    return value


def tab_to(page: Page, element_id: str, most: int = 10) -> None:
    """Press Tab until ``element_id`` has the focus: proof it is reachable by keyboard."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if focused_id(page) == element_id:
            return
    pytest.fail(f"#{element_id} cannot be reached with the Tab key")


def fits_the_screen(page: Page) -> bool:
    fits: bool = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    return fits


def test_a_person_logs_in_and_out_with_the_keyboard_on_a_phone(live_url: str, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's browser with 'apt-get update && apt-get install -y chromium'"
        )
    console_errors: list[str] = []
    violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(f"{message.text} ({message.location.get('url')})")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
            context.expose_function("reportCspViolation", lambda violation: violations.append(violation))
            context.add_init_script(CSP_LISTENER)
            page = context.new_page()
            page.on("console", on_console)
            page.on("pageerror", lambda error: console_errors.append(str(error)))

            page.goto(f"{live_url}/account")
            assert page.url == f"{live_url}/login?next=/account"
            assert page.get_by_label("邮箱").get_attribute("id") == "email"  # labels name the fields
            assert page.get_by_label("密码").get_attribute("id") == "password"
            assert fits_the_screen(page)
            page.screenshot(path=tmp_path / "login-390x844.png", full_page=True)

            tab_to(page, "email")
            page.keyboard.type(EMAIL)
            page.keyboard.press("Tab")
            assert focused_id(page) == "password"
            page.keyboard.type("not my password")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            alert = page.get_by_role("alert")
            assert "邮箱或密码不对" in alert.inner_text()
            assert page.get_by_label("邮箱").input_value() == EMAIL  # kept; only the password is retyped
            page.screenshot(path=tmp_path / "login-refused-390x844.png", full_page=True)

            tab_to(page, "password")
            page.keyboard.type(PASSWORD)
            page.keyboard.press("Enter")

            page.wait_for_url(f"{live_url}/account")
            assert page.get_by_role("heading", level=1).inner_text().startswith("我的账户")
            assert page.locator("#account-org").inner_text().startswith(ORG_NAME)
            assert page.locator("#account-email").inner_text() == EMAIL
            assert "冷库" in page.content()
            assert fits_the_screen(page)
            shot = tmp_path / "account-390x844.png"
            page.screenshot(path=shot, full_page=True)
            assert shot.read_bytes().startswith(b"\x89PNG")

            log_out = page.get_by_role("button", name="退出登录")
            for _ in range(10):
                page.keyboard.press("Tab")
                if log_out.evaluate("button => button === document.activeElement"):
                    break
            else:
                pytest.fail("the log-out button cannot be reached with the Tab key")
            page.keyboard.press("Enter")
            page.wait_for_url(f"{live_url}/login")
            assert "您已退出登录" in page.get_by_role("status").inner_text()

            page.goto(f"{live_url}/account")
            assert page.url == f"{live_url}/login?next=/account"  # the session is gone
        finally:
            browser.close()

    # The refused login is answered 401 by design, which Chromium reports; nothing else may be.
    refused = f"the server responded with a status of 401 (UNAUTHORIZED) ({live_url}/login)"
    assert [error for error in console_errors if not error.endswith(refused)] == []
    assert violations == []
