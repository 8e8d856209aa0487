"""The home page and the language switch in a real browser at a phone's width: a visitor types a
batch's code on the home page, lands on its page in Chinese, switches to English, and the choice
holds on every page after, the in-browser badge included, until switched back."""

from __future__ import annotations

from flask import Flask

from tests.e2e.test_integrity_browser import LOT, PRODUCT_PATH, badge_says, cold_chain, phone, screenshot, serving, sign
from tests.e2e.test_login_browser import fits_the_screen, tab_to

PRODUCT_LINK = f"https://example.org{PRODUCT_PATH}"  # any host: the path names the batch


def test_a_visitor_checks_a_code_from_the_home_page_and_switches_to_english(app: Flask) -> None:
    cold_chain(app)
    sign(app)
    # The code with no lot is answered 422, which the browser logs as a failed load.
    with serving(app) as (url, _), phone(allowed_errors=("/lookup?code=%2801%2909506000134352)",)) as device:
        page = device.page
        page.goto(url + "/")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.get_by_role("heading", level=1).inner_text().startswith("安链")
        assert page.get_by_role("link", name="English").count() == 1
        assert fits_the_screen(page)
        screenshot(page, "home.png")

        # By keyboard: the code box is labelled, and Enter sends it.
        tab_to(page, "code")
        page.keyboard.type(PRODUCT_LINK)
        page.keyboard.press("Enter")
        page.wait_for_url(f"**{PRODUCT_PATH}")
        assert page.get_by_role("heading", level=1).inner_text() == "新西兰冷冻羊肉卷"
        assert "已在您的浏览器中核验" in badge_says(page, "verified")
        screenshot(page, "product.png")

        page.get_by_role("link", name="English").click()
        page.wait_for_url(f"**{PRODUCT_PATH}")  # back on the same page, now in English
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.get_by_role("heading", level=1).inner_text() == "Frozen lamb rolls"
        said = badge_says(page, "verified")
        assert "Verified in your browser" in said and "已在" not in said
        assert "Shipped" in page.locator(".journey").inner_text() and LOT in page.locator(".facts").inner_text()

        # Remembered: the home page and the error it gives are in English now.
        page.goto(url + "/")
        page.fill("#code", "(01)09506000134352")  # a product code with no lot
        page.keyboard.press("Enter")
        assert "names a product but no lot" in page.get_by_role("alert").inner_text()
        assert page.get_by_role("link", name="中文").count() == 1

        page.get_by_role("link", name="中文").click()
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert "没有批号" in page.get_by_role("alert").inner_text()  # the same page, the same input, in Chinese
