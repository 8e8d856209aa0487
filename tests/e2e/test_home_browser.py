"""The home page in a real browser at a phone's width: a visitor types a batch's code, lands on its
page in Chinese, switches to English, and the choice holds on every page after, the in-browser
badge included, until switched back; another points the phone's camera at a label instead."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from playwright.sync_api import expect

from tests.e2e.test_integrity_browser import LOT, PRODUCT_PATH, badge_says, cold_chain, phone, screenshot, serving, sign
from tests.e2e.test_login_browser import fits_the_screen, tab_to
from tests.e2e.test_scanner_browser import qr_video

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


def test_a_visitor_scans_a_label_with_the_camera_from_the_home_page(app: Flask, tmp_path: Path) -> None:
    cold_chain(app)
    sign(app)
    video = tmp_path / "label.y4m"
    qr_video(video, link=PRODUCT_LINK)
    camera = (
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    with serving(app) as (url, _), phone(arguments=camera) as device:
        page = device.page
        page.goto(url + "/")
        assert not any("jsQR" in address for address in device.requests)  # fetched only for the camera
        toggle = page.get_by_role("button", name="用摄像头扫码")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        toggle.click()
        # The camera reads the label and the page goes where a typed code would.
        page.wait_for_url(f"**{PRODUCT_PATH}", timeout=20_000)
        assert page.get_by_role("heading", level=1).inner_text() == "新西兰冷冻羊肉卷"


def test_without_javascript_the_home_page_offers_the_code_box_alone(app: Flask) -> None:
    cold_chain(app)
    with serving(app) as (url, _), phone(javascript=False) as device:
        page = device.page
        page.goto(url + "/")
        expect(page.locator("#camera-reader")).to_be_hidden()  # a button that cannot work is not shown
        page.fill("#code", PRODUCT_LINK)
        page.get_by_role("button", name="查询").click()
        page.wait_for_url(f"**{PRODUCT_PATH}")
        assert page.get_by_role("heading", level=1).inner_text() == "新西兰冷冻羊肉卷"
