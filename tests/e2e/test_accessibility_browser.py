"""The main pages checked with axe-core (Deque's accessibility engine, from the
axe-playwright-python package) in real Chromium at a phone's width, in Chinese and in English:
no WCAG 2.1 A or AA violation of serious or critical impact (labels, contrast, names of
buttons and links, language of the page, landmarks)."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Page

from ledger.db.engine import transaction
from ledger.services import users
from tests.e2e.test_integrity_browser import PRODUCT_PATH, badge_says, cold_chain, phone, serving, sign
from tests.elevators import UNIT, Elevators

WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
EMAIL = "inspector@xihu.example.cn"
PASSWORD = "西溪 巡查 2026 冬"  # noqa: S105 (test data)
# Pages checked on purpose in their 4xx state (the browser logs the status as an error).
EXPECTED_4XX = ("/e/NOPE123456)", "/lookup?code=nonsense)", "/admin)")


def serious_violations(page: Page) -> list[str]:
    results: dict[str, Any] = Axe().run(page, options=WCAG).response
    return [
        f"{page.url}: {violation['id']} ({violation['impact']}): "
        + "; ".join(node["target"][0] if node["target"] else "?" for node in violation["nodes"][:3])
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def food(app: Flask) -> Flask:
    """A batch with its journey, and an inspector who can log in."""
    chain = cold_chain(app)
    with transaction(app.extensions["ledger.engine"]) as session:
        users.create_user(session, EMAIL, chain.inspector.org_id, PASSWORD)
    sign(app)
    return app


@pytest.fixture
def elevator(app: Flask) -> Flask:
    Elevators(app, app.test_client()).visit("half_monthly", days_ago=20)
    sign(app)
    return app


def check(app: Flask, locale: str, paths: tuple[str, ...], log_in: bool = False) -> list[str]:
    found: list[str] = []
    with serving(app) as (url, _), phone(locale=locale, allowed_errors=EXPECTED_4XX) as device:
        page = device.page
        if log_in:
            page.goto(url + "/login?next=/account")
            page.fill("#email", EMAIL)
            page.fill("#password", PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_url(f"{url}/account")
        for path in paths:
            page.goto(url + path)
            if path in (PRODUCT_PATH, f"/e/{UNIT}"):
                badge_says(page, "verified")  # the badge's final words and colours are checked too
            found += serious_violations(page)
    return found


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_the_public_pages_have_no_serious_accessibility_violations(food: Flask, locale: str) -> None:
    assert check(food, locale, ("/", PRODUCT_PATH, "/results", "/login", "/lookup?code=nonsense")) == []


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_the_inspector_pages_have_no_serious_accessibility_violations(food: Flask, locale: str) -> None:
    assert check(food, locale, ("/account", "/desk", "/desk/hazards", "/desk/recall", "/admin"), log_in=True) == []


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_the_elevator_page_has_no_serious_accessibility_violations(elevator: Flask, locale: str) -> None:
    assert check(elevator, locale, (f"/e/{UNIT}", "/e/NOPE123456")) == []
