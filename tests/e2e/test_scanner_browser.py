"""The business scanner page (``/scan``) in a real browser (Debian's Chromium, driven by
Playwright) at a phone's size, under the real Content-Security-Policy: a scan typed with the
keyboard is recorded; scans taken offline wait in the queue and are recorded exactly once when
the network comes back, also when an answer is lost and the page resends after a reload; a
refusal stays visible with the server's reason and is not retried; and the camera reads the
batch's QR code from a fake video made from the label's own PNG.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import (
    Locator,
    Page,
    Request,
    Route,
    expect,
)
from sqlalchemy import Engine, select

from ledger.db.engine import transaction
from ledger.db.tables import LedgerEntry, Organisation
from ledger.domain.gs1 import digital_link
from ledger.labels import qr_png
from ledger.services import orgs, users
from tests.api.test_labels import GTIN, PUBLIC_URL, code_batches
from tests.e2e.live import serving, sqlite_app
from tests.e2e.test_integrity_browser import Phone
from tests.e2e.test_integrity_browser import phone as browser_phone
from tests.e2e.test_login_browser import fits_the_screen, tab_to

EMAIL = "zhao.lei@example.cn"
PASSWORD = "西湖 断桥 2026 冬"
LOT = "LAMB-2026-11"
EXPIRY = date(2027, 10, 1)
LINK = digital_link(PUBLIC_URL, GTIN, LOT, EXPIRY)  # what the batch's printed label says
SCREENSHOT = Path(__file__).parent / "screenshots" / "scanner.png"
SCANS_API = "**/api/v1/scans"
VIDEO_SIZE = (640, 480)


@dataclass
class Site:
    url: str
    engine: Engine
    receiver: str  # an organisation the producer ships to


@pytest.fixture
def site(sqlite_template: Path, tmp_path: Path) -> Iterator[Site]:
    """The app on a free loopback port: a producer holding 400 cases of one coded batch, a
    staff account of the producer's, and a cold store to ship to."""
    app = sqlite_app(sqlite_template, tmp_path)
    engine = app.extensions["ledger.engine"]
    code_batches(engine, {LOT: EXPIRY})
    with transaction(engine) as db:
        producer = db.scalars(select(Organisation.id)).one()
        users.create_user(db, EMAIL, producer, PASSWORD)
        receiver = orgs.create_organisation(db, "杭州冷藏仓储有限公司", ["cold_store"]).org_id
    with serving(app) as url:
        yield Site(url, engine, receiver)
    engine.dispose()


def _note_scan_post(found: Phone, request: Request) -> None:
    if request.method == "POST" and request.url.endswith("/api/v1/scans"):
        found.log.append(("post", json.loads(request.post_data or "{}").get("client_event_id")))


@contextmanager
def phone(*extra_args: str) -> Iterator[Phone]:
    """A phone-sized browser that also notes every scan it posts.  The failed scan requests a
    test provokes on purpose (offline, a lost answer, a refusal) are the console errors allowed."""
    with browser_phone(
        allowed_errors=("/api/v1/scans)",), arguments=extra_args, listeners={"request": _note_scan_post}
    ) as device:
        yield device


def posted(device: Phone) -> list[str]:
    """The client_event_id of every POST /api/v1/scans the page made, in order."""
    return [entry[1] for entry in device.log if entry[0] == "post"]


def log_in(page: Page, url: str) -> None:
    page.goto(f"{url}/scan")
    assert page.url == f"{url}/login?next=/scan"  # staff only
    page.get_by_label("邮箱").fill(EMAIL)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{url}/scan")
    wait_until_ready(page)


def wait_until_ready(page: Page) -> None:
    expect(page.locator("#scan-form")).to_have_attribute("data-ready", "true")


def record(page: Page, action: str, quantity: str, code: str = LINK, **fields: str) -> None:
    """Fill the form as a person would and press the record button."""
    before = page.locator("#queue > li").count()
    page.locator("#scan-code").fill(code)
    page.locator(f"#action-{action}").check()
    for name, value in fields.items():
        page.locator(f"#scan-{name}").fill(value)
    page.locator("#scan-quantity").fill(quantity)
    page.locator("#scan-submit").click()
    expect(page.locator("#queue > li")).to_have_count(before + 1)


def scan_entries(engine: Engine) -> list[dict[str, Any]]:
    """Every ``scan.*`` entry in the ledger, decoded, with its ``client_event_id``."""
    with transaction(engine, readonly=True) as db:
        rows = db.scalars(select(LedgerEntry).where(LedgerEntry.kind.like("scan.%")).order_by(LedgerEntry.seq))
        return [{**json.loads(row.entry), "client_event_id": row.client_event_id} for row in rows]


def shown_seq(page: Page, client_event_id: str) -> int:
    item = page.locator(f'#queue > li[data-id="{client_event_id}"]')
    seq = attribute(item, "data-seq")
    assert f"账本序号 {seq}" in item.locator(".scan-seq").inner_text()
    return int(seq)


def item_ids(page: Page, state: str) -> list[str]:
    ids: list[str] = page.locator(f'#queue > li[data-state="{state}"]').evaluate_all(
        "items => items.map(i => i.dataset.id)"
    )
    return ids


def attribute(locator: Locator, name: str) -> str:
    value = locator.get_attribute(name)
    assert value is not None, f"no {name}"
    return value


def test_a_scan_typed_with_the_keyboard_is_recorded(site: Site) -> None:
    with phone() as device:
        page = device.page
        log_in(page, site.url)
        assert "宁波进口肉类有限公司" in page.locator(".scanner-org").inner_text()
        assert not page.locator("#scan-to-org").is_visible()  # the default action is a receipt

        tab_to(page, "scan-code")
        page.keyboard.type(LINK)
        tab_to(page, "action-receive")
        page.keyboard.press("ArrowLeft")  # arrows move through the radio group: ship
        assert page.locator("#action-ship").is_checked()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "scan-to-org"  # shown for a shipment only
        page.keyboard.type(site.receiver)
        tab_to(page, "scan-quantity")
        page.keyboard.type("12")
        page.keyboard.press("Tab")
        assert page.locator("#scan-unit").input_value() == "箱"
        tab_to(page, "scan-temperature")
        page.keyboard.type("-18.5")
        page.keyboard.press("Enter")

        item = page.locator("#queue > li").first
        expect(item).to_have_attribute("data-state", "sent")
        assert "已记录" in item.inner_text()
        assert page.evaluate("document.activeElement.id") == "scan-code"  # ready for the next scan
        assert page.locator("#scan-code").input_value() == ""
        assert fits_the_screen(page)

        (entry,) = scan_entries(site.engine)
        client_event_id = attribute(item, "data-id")
        assert entry["client_event_id"] == client_event_id and posted(device) == [client_event_id]
        assert shown_seq(page, client_event_id) == entry["seq"]
        payload = entry["payload"]
        assert entry["kind"] == "scan.ship" and (payload["gtin"], payload["lot"]) == (GTIN, LOT)
        assert (payload["to_org_id"], payload["quantity"], payload["unit"]) == (site.receiver, 12, "箱")
        assert [reading["celsius"] for reading in payload["readings"]] == [-18.5]
        assert payload["event_time"].endswith("+08:00")  # the phone's own offset

        # The page's JSON write passes the CSRF check only because it sends the token: the same
        # request with the session cookie and without X-CSRFToken is refused.
        forged = page.request.post(f"{site.url}/api/v1/scans", data={"client_event_id": "x"})
        assert forged.status == 400 and forged.json()["type"] == "urn:anlian:problem:csrf"


def test_scans_taken_offline_are_sent_once_when_the_network_returns(site: Site) -> None:
    with phone() as device:
        page = device.page
        log_in(page, site.url)

        device.context.set_offline(True)
        expect(page.locator(".connection-offline")).to_be_visible()
        for quantity in ("1", "2", "3"):
            record(page, "store", quantity)
        expect(page.locator("#queue .badge-queued")).to_have_count(3)  # tried, failed, still queued
        assert all("待发送" in text for text in page.locator("#queue .badge").all_inner_texts())
        assert scan_entries(site.engine) == []
        queued = item_ids(page, "queued")

        device.context.set_offline(False)  # the online event sends the queue
        expect(page.locator('#queue > li[data-state="sent"]')).to_have_count(3)
        entries = scan_entries(site.engine)
        assert sorted(entry["client_event_id"] for entry in entries) == sorted(queued)
        assert [entry["payload"]["quantity"] for entry in entries] == [1, 2, 3]  # oldest first
        seqs = {entry["client_event_id"]: entry["seq"] for entry in entries}
        assert {client_event_id: shown_seq(page, client_event_id) for client_event_id in queued} == seqs

        page.reload()
        wait_until_ready(page)
        expect(page.locator('#queue > li[data-state="sent"]')).to_have_count(3)  # kept on the device
        assert {client_event_id: shown_seq(page, client_event_id) for client_event_id in queued} == seqs
        assert len(scan_entries(site.engine)) == 3

        # The server records the fourth scan but its answer is lost: the page still has it queued.
        def lose_the_answer(route: Route) -> None:
            route.fetch()
            route.abort("connectionreset")

        page.route(SCANS_API, lose_the_answer)
        record(page, "store", "4")
        lost = page.locator("#queue > li").first
        expect(lost.locator(".scan-note")).to_contain_text("网络不通")
        assert attribute(lost, "data-state") == "queued"
        (recorded,) = [entry for entry in scan_entries(site.engine) if entry["client_event_id"] not in seqs]
        assert recorded["client_event_id"] == attribute(lost, "data-id")

        # After a reload the page resends it; the ledger answers with the entry it already has.
        page.unroute(SCANS_API)
        page.reload()
        wait_until_ready(page)
        resent = page.locator(f'#queue > li[data-id="{recorded["client_event_id"]}"]')
        expect(resent).to_have_attribute("data-state", "sent")
        assert shown_seq(page, recorded["client_event_id"]) == recorded["seq"]
        assert "此前已记录" in resent.inner_text()
        assert posted(device).count(recorded["client_event_id"]) >= 2
        assert len(scan_entries(site.engine)) == 4


def test_a_refused_scan_shows_the_reason_and_is_not_retried(site: Site) -> None:
    with phone() as device:
        page = device.page
        log_in(page, site.url)

        record(page, "sell", "1000000")
        expect(page.locator("#queue > li").first).to_have_attribute("data-state", "refused")
        refused_id = attribute(page.locator("#queue > li").first, "data-id")
        refused = page.locator(f'#queue > li[data-id="{refused_id}"]')
        detail = refused.locator(".scan-detail").inner_text()
        assert "you hold 400" in detail  # the server's own words
        assert "被拒绝" in refused.locator(".badge").inner_text()

        # What makes the sender try again: the network returning, a new scan.  "Send now" is for
        # queued scans only, so it is not even offered.
        expect(page.locator("#send-now")).to_be_hidden()
        device.context.set_offline(True)
        device.context.set_offline(False)
        record(page, "store", "5", temperature="-19")
        expect(page.locator("#queue > li").first).to_have_attribute("data-state", "sent")
        assert posted(device).count(refused_id) == 1
        expect(refused).to_have_attribute("data-state", "refused")
        assert refused.locator(".scan-detail").inner_text() == detail
        assert [entry["kind"] for entry in scan_entries(site.engine)] == ["scan.store"]
        assert refused.get_by_role("button", name="重新发送").is_visible()

        assert fits_the_screen(page)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOT, full_page=True)
        assert SCREENSHOT.read_bytes().startswith(b"\x89PNG")


def test_an_ended_login_pauses_sending_and_loses_nothing(site: Site) -> None:
    with phone() as device:
        page = device.page
        log_in(page, site.url)
        device.context.clear_cookies()  # the session is gone, as after eight hours

        record(page, "store", "7")
        expect(page.locator("#login-needed")).to_be_visible()  # 401: log in again, not a refusal
        item = page.locator("#queue > li").first
        expect(item.locator(".badge")).to_contain_text("待发送")
        assert attribute(item, "data-state") == "queued"
        client_event_id = attribute(item, "data-id")
        page.locator("#send-now").click()  # paused: nothing is sent until the page has a login again
        assert posted(device) == [client_event_id]

        page.get_by_role("link", name="重新登录").click()
        page.wait_for_url(f"{site.url}/login?next=/scan")
        page.get_by_label("邮箱").fill(EMAIL)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(f"{site.url}/scan")
        expect(page.locator(f'#queue > li[data-id="{client_event_id}"]')).to_have_attribute("data-state", "sent")
        assert [entry["client_event_id"] for entry in scan_entries(site.engine)] == [client_event_id]


def qr_video(path: Path, frames: int = 5, link: str = LINK) -> None:
    """A YUV4MPEG2 video of a QR code (the batch's label), centred on white, for Chromium's fake camera.

    Pillow's ``YCbCr`` is the full-range BT.601 conversion that the ``C420jpeg`` tag names; the
    chroma planes are halved in each direction for 4:2:0.
    """
    width, height = VIDEO_SIZE
    box = 10
    code = Image.open(io.BytesIO(qr_png(link, box_size=box)))
    while code.height > height - 40:  # the largest module size that fits, whole pixels per module
        box -= 1
        code = Image.open(io.BytesIO(qr_png(link, box_size=box)))
    frame = Image.new("RGB", VIDEO_SIZE, "white")
    frame.paste(code.convert("RGB"), ((width - code.width) // 2, (height - code.height) // 2))
    luma, blue, red = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = luma.tobytes() + blue.resize(half).tobytes() + red.resize(half).tobytes()
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            video.write(b"FRAME\n" + planes)


def test_the_camera_reads_the_batch_qr_code(site: Site, tmp_path: Path) -> None:
    video = tmp_path / "label.y4m"
    qr_video(video)
    camera = (
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    with phone(*camera) as device:
        page = device.page
        log_in(page, site.url)
        toggle = page.locator("#camera-toggle")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        toggle.focus()
        page.keyboard.press("Enter")

        expect(page.locator("#scan-code")).to_have_value(LINK, timeout=20_000)
        assert "已读取二维码" in page.locator("#camera-status").inner_text()
        expect(page.locator("#camera")).to_be_hidden()  # the camera stops once it has read a code
        expect(toggle).to_have_attribute("aria-expanded", "false")
        assert page.evaluate("document.activeElement.id") == "scan-code"

        page.locator("#action-store").check()
        page.locator("#scan-quantity").fill("2")
        page.locator("#scan-submit").click()
        expect(page.locator("#queue > li").first).to_have_attribute("data-state", "sent")
        (entry,) = scan_entries(site.engine)
        assert (entry["kind"], entry["payload"]["gtin"], entry["payload"]["lot"]) == ("scan.store", GTIN, LOT)
