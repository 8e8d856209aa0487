"""The integrity badge and the public pages in a real browser (Debian's Chromium, driven by
Playwright) at a phone's size, under the real Content-Security-Policy.

The badge checks the page's facts with WebCrypto in the browser: it turns "verified" on an intact
ledger, "failed" naming the entry whose stored bytes were changed behind the ledger's back, and
says the history was rewritten when the same address later serves a forked ledger signed with the
same key (the browser remembers the checkpoint it verified).  The elevator page shows the unit,
takes a problem report without login and answers with its reference; both pages fit a 390 px
screen and read without JavaScript.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, ViewportSize, expect, sync_playwright
from sqlalchemy import text

from api import context as app_context
from ledger.db.engine import transaction
from ledger.services import checkpoints, orgs
from tests.coldchain import BEIJING, ColdChain
from tests.conftest import ORIGIN
from tests.e2e import live
from tests.e2e.test_login_browser import CHROMIUM, CHROMIUM_ARGS, CSP_LISTENER, PHONE, fits_the_screen, tab_to
from tests.elevators import UNIT, Elevators

LOT = "NZ-2026/11-A"
PRODUCT_PATH = "/01/09506000134352/10/NZ-2026%2F11-A"
SHIPPED = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
SCREENSHOTS = Path(__file__).parent / "screenshots"
MEMORY_KEY = f"anlian.checkpoint:{ORIGIN}"
# The carrier's truck warmed up for an hour on the way: an excursion for a frozen product.
TRANSIT = [-18.8, -18.4, -16.5, -13.0, -15.5, -18.2, -19.1]


# -- Servers -------------------------------------------------------------------------------------


class Switch:
    """A WSGI app forwarding to whichever app it holds: two ledgers served in turn at one
    address, so one browser origin and one localStorage see both."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)


@contextmanager
def serving(app: Flask) -> Iterator[tuple[str, Switch]]:
    switch = Switch(app)
    with live.serving(switch) as url:
        yield url, switch


def sign(app: Flask) -> int:
    """Sign a checkpoint of the current tree, as the job runner does every minute; its size."""
    with app.app_context():
        signer = app_context.signer()
    with transaction(app.extensions["ledger.engine"]) as db:
        row = checkpoints.sign_current(db, signer, ORIGIN)
        assert row is not None
        return row.tree_size


# -- Ledgers -------------------------------------------------------------------------------------


def move(chain: ColdChain, sender: orgs.CreatedOrg, receiver: orgs.CreatedOrg, shipped: datetime, hours: int) -> None:
    """A shipment and its receipt ``hours`` later; the truck's logger reads every half hour."""
    received = shipped + timedelta(hours=hours)
    readings = [
        {"time": (shipped + timedelta(minutes=30 * (i + 1))).isoformat(), "celsius": c}
        for i, c in enumerate(TRANSIT[: hours * 2 - 1])
    ]
    for who, action, moment, fields in (
        (sender, "ship", shipped, {"to_org_id": receiver.org_id, "temperature_c": -19.5}),
        (receiver, "receive", received, {"from_org_id": sender.org_id, "readings": readings, "temperature_c": -19.3}),
    ):
        site = chain.sites[who.org_id]
        response = chain.scan(
            who, action, LOT, 100, site_id=site, event_time=moment.astimezone(BEIJING).isoformat(), **fields
        )
        assert response.status_code == 201, response.get_json()


def cold_chain(app: Flask, sales: int = 0) -> ColdChain:
    """A frozen batch from the importer by way of a carrier (with an excursion) to a cold store;
    ``sales`` small sales at the cold store after that."""
    chain = ColdChain(app, app.test_client())
    chain.batch(LOT, quantity=400)
    move(chain, chain.importer, chain.carrier, SHIPPED, 1)
    move(chain, chain.carrier, chain.store, SHIPPED + timedelta(hours=2), 4)
    for n in range(sales):
        sold_at = SHIPPED + timedelta(hours=8, minutes=n)
        sold = chain.scan(chain.store, "sell", LOT, 1, event_time=sold_at.astimezone(BEIJING).isoformat())
        assert sold.status_code == 201, sold.get_json()
    return chain


# -- The browser ---------------------------------------------------------------------------------


@dataclass
class Phone:
    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    log: list[tuple[Any, ...]] = field(default_factory=list)  # what the test's listeners noted


# A test's own watch on the page: Playwright event name → handler(phone, payload).
Listeners = Mapping[str, Callable[[Phone, Any], None]]


@contextmanager
def phone(
    javascript: bool = True,
    allowed_errors: tuple[str, ...] = (),
    locale: str = "zh-CN",
    arguments: tuple[str, ...] = (),
    listeners: Listeners | None = None,
) -> Iterator[Phone]:
    """A phone-sized browser that collects console errors, CSP violations and requested URLs;
    a console error other than those ending in ``allowed_errors`` fails the test.  ``locale``
    sets the browser's preferred language, which the pages follow; ``arguments`` go to Chromium;
    ``listeners`` note what a test watches for in ``Phone.log``."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's browser with 'apt-get install -y chromium'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *arguments])
        try:
            context = browser.new_context(
                viewport=ViewportSize(width=PHONE["width"], height=PHONE["height"]),
                is_mobile=True,
                has_touch=True,
                locale=locale,
                timezone_id="Asia/Shanghai",
                java_script_enabled=javascript,
            )
            found = Phone(context, context.new_page())
            context.expose_function("reportCspViolation", lambda violation: found.violations.append(violation))
            context.add_init_script(CSP_LISTENER)
            found.page.on("console", lambda message: _on_console(found, message))
            found.page.on("pageerror", lambda error: found.errors.append(str(error)))
            found.page.on("request", lambda request: found.requests.append(request.url))
            for event, handler in (listeners or {}).items():
                found.page.on(event, lambda payload, handler=handler: handler(found, payload))
            yield found
        finally:
            browser.close()
    assert [error for error in found.errors if not error.endswith(allowed_errors or ("\0",))] == []
    assert found.violations == []


def _on_console(found: Phone, message: ConsoleMessage) -> None:
    if message.type == "error":
        found.errors.append(f"{message.text} ({message.location.get('url')})")


def badge_says(page: Page, state: str) -> str:
    badge = page.locator("#integrity")
    expect(badge).to_have_attribute("data-integrity", state, timeout=20_000)
    return badge.inner_text()


def attribute(page: Page, selector: str, name: str) -> str:
    value = page.locator(selector).get_attribute(name)
    assert value is not None, f"{selector} has no {name}"
    return value


def remembered_size(page: Page) -> int:
    size: int = page.evaluate(f"JSON.parse(localStorage.getItem({MEMORY_KEY!r})).size")
    return size


def screenshot(page: Page, name: str) -> None:
    """A full-page PNG for the README, reduced to a palette so that it stays small in git."""
    path = SCREENSHOTS / name
    path.parent.mkdir(exist_ok=True)
    page.screenshot(path=path, full_page=True)
    with Image.open(path) as shot:
        small = shot.convert("RGB").quantize(colors=96)
    small.save(path, optimize=True)
    assert path.read_bytes().startswith(b"\x89PNG")


# -- The product page ----------------------------------------------------------------------------


def test_the_badge_verifies_the_product_page_and_names_an_entry_changed_behind_the_ledger(app: Flask) -> None:
    cold_chain(app)
    size = sign(app)
    with serving(app) as (url, _), phone(locale="en-GB") as device:
        page = device.page
        page.goto(url + PRODUCT_PATH)
        said = badge_says(page, "verified")
        seqs = [int(s) for s in attribute(page, "#integrity", "data-seqs").split(",")]
        assert len(seqs) == 5  # the registration and four scans
        assert "Verified in your browser" in said
        assert f"of {size} in ledger {ORIGIN}" in said and ", ".join(f"#{s}" for s in seqs) in said
        assert all(
            f"/api/v1/ledger/proof/inclusion?seq={s}&tree_size={size}" in " ".join(device.requests) for s in seqs
        )
        assert remembered_size(page) == size

        chart = page.locator("figure.temperature-chart svg.chart")
        assert chart.locator("rect.band").count() == 1
        assert chart.locator("rect.excursion-span.too_warm").count() == 1
        assert chart.locator("circle.out").count() == 3  # -16.5, -13.0 and -15.5 in a frozen band
        assert chart.locator("circle.dot").count() == 4 + 1 + 7  # one reading per scan and the loggers'
        assert "-13 °C" in page.locator(".excursions").inner_text()
        assert fits_the_screen(page)

        # Someone with database access changes the temperature of one recorded scan.
        seq = int(attribute(page, ".journey li >> nth=1", "data-seq"))  # the carrier's receipt
        with transaction(app.extensions["ledger.engine"]) as db:
            stored = db.execute(text("SELECT entry FROM ledger_entries WHERE seq = :seq"), {"seq": seq}).scalar_one()
            changed = bytes(stored).replace(b"-19.3", b"-21.3")
            assert changed != bytes(stored)
            db.execute(
                text("UPDATE ledger_entries SET entry = :entry WHERE seq = :seq"), {"entry": changed, "seq": seq}
            )
        page.reload()
        said = badge_says(page, "failed")
        assert "Verification failed" in said
        assert f"entry #{seq}: its bytes do not hash to the ledger's leaf hash" in said
        assert page.locator("#integrity").evaluate("b => getComputedStyle(b).color") == "rgb(163, 17, 31)"  # red


def test_the_product_page_reads_without_javascript(app: Flask) -> None:
    cold_chain(app)
    sign(app)
    with serving(app) as (url, _), phone(javascript=False) as device:
        page = device.page
        page.goto(url + PRODUCT_PATH)
        badge = page.locator("#integrity")
        assert badge.get_attribute("data-integrity") == "unchecked"
        assert "需要 JavaScript" in badge.inner_text() and "RFC 9162" in badge.inner_text()
        assert page.locator("figure.temperature-chart svg[role=img]").is_visible()
        summary = page.locator("#temperature-summary").inner_text()
        assert "12 个读数" in summary and "最高 -13 °C" in summary
        assert page.locator(".journey li").count() == 4
        assert fits_the_screen(page)
        assert not any("/api/v1/ledger/" in request for request in device.requests)


def test_a_browser_that_saw_the_ledger_notices_when_its_history_is_rewritten(
    app: Flask, sqlite_template: Path, key_path: Path, tmp_path: Path
) -> None:
    chain = cold_chain(app)
    first = sign(app)
    # The fork: another ledger with the same batch, signed with the same key under the same
    # origin, and a little longer, as if the server had rewritten history and carried on.
    fork_file = tmp_path / "fork.db"
    shutil.copy(sqlite_template, fork_file)
    fork = live.ledger_app(f"sqlite:///{fork_file}", key_path)
    cold_chain(fork, sales=3)
    forked = sign(fork)
    try:
        with serving(app) as (url, switch), phone(locale="en-GB") as device:
            page = device.page
            page.goto(url + PRODUCT_PATH)
            badge_says(page, "verified")
            assert remembered_size(page) == first

            # The honest ledger grows: the new checkpoint is proved to extend the one seen.
            sold = chain.scan(chain.store, "sell", LOT, 1, event_time=(SHIPPED + timedelta(hours=9)).isoformat())
            assert sold.status_code == 201
            second = sign(app)
            assert first < second < forked
            page.reload()
            badge_says(page, "verified")
            assert f"{url}/api/v1/ledger/proof/consistency?first={first}&second={second}" in device.requests
            assert remembered_size(page) == second

            switch.app = fork
            page.reload()
            said = badge_says(page, "failed")
            assert f"{url}/api/v1/ledger/proof/consistency?first={second}&second={forked}" in device.requests
            assert "The history shown to this browser was rewritten" in said and "改写" not in said
            assert f"({second} entries) is not part of the one shown now ({forked} entries)" in said
            assert remembered_size(page) == second  # the fork is never remembered as the truth

            page.reload()  # and the warning stays
            assert "rewritten" in badge_says(page, "failed")
    finally:
        fork.extensions["ledger.engine"].dispose()


# -- The elevator page ---------------------------------------------------------------------------


@pytest.fixture
def lifts(app: Flask) -> Elevators:
    """The unit with its last half-monthly visit 20 days ago (5 days overdue: yellow)."""
    lifts = Elevators(app, app.test_client())
    assert lifts.visit("half_monthly", days_ago=20).status_code == 201
    sign(app)
    return lifts


def test_the_equipment_page_shows_the_unit_and_takes_a_problem_report(app: Flask, lifts: Elevators) -> None:
    with serving(app) as (url, _), phone(allowed_errors=("/e/NOPE123456)",)) as device:
        page = device.page
        page.goto(f"{url}/e/10001")  # the 96333 rescue code names the unit too
        said = badge_says(page, "verified")
        assert "已在您的浏览器中核验" in said
        assert page.locator("#unit-code").inner_text() == UNIT
        assert "西溪花园3幢1单元" in page.locator(".unit-address").inner_text()
        assert page.locator("#user-unit").inner_text() == "西溪花园物业管理有限公司"
        assert page.locator("#maintenance-company").inner_text() == "杭州快捷电梯维保有限公司"
        assert "半月维保" in page.locator("#last-maintenance").inner_text()
        assert page.locator("#next-maintenance .status").get_attribute("class") == "status yellow"
        assert "已超期" in page.locator("#next-maintenance").inner_text()
        assert page.locator("#inspection .status").get_attribute("class") == "status green"
        assert page.locator("#open-hazards").inner_text() == "0"
        call = page.locator("#call")
        assert call.get_attribute("href") == "tel:96333"
        box = call.bounding_box()
        assert box is not None and box["height"] >= 44 and box["width"] >= 300  # a big target
        assert page.locator("#rescue-code").inner_text() == "10001"
        assert fits_the_screen(page)
        screenshot(page, "equipment.png")

        tab_to(page, "description", most=20)  # the form by keyboard
        page.keyboard.type("电梯门关不严，运行时有异响")
        page.keyboard.press("Tab")
        page.keyboard.type("13900000000")
        with page.expect_navigation():
            page.locator("#report-submit").press("Enter")
        assert page.url == f"{url}/e/{UNIT}#report"
        reference = page.locator("#report-reference").inner_text()
        assert re.fullmatch(r"R[2-9A-HJ-NP-Z]{8}", reference)
        seq = int(re.findall(r"#(\d+)", page.locator("#report-made").inner_text())[-1])
        entry = page.request.get(f"{url}/api/v1/ledger/entries/{seq}").json()["entry"]
        assert entry["kind"] == "public.reported" and entry["payload"]["reference"] == reference
        assert entry["payload"]["description"] == "电梯门关不严，运行时有异响"
        assert "13900000000" not in str(entry)  # the contact is for the bureau only
        assert page.locator("#open-hazards").inner_text() == "1"
        # The report is newer than the last signed checkpoint: said so, not claimed verified.
        assert "较新的记录尚未进入签名检查点" in badge_says(page, "partial")

        page.reload()  # the reference is shown once, and a reload reports nothing twice
        expect(page.locator("#report-made")).to_have_count(0)
        assert page.locator("#open-hazards").inner_text() == "1"

        missing = page.goto(f"{url}/e/NOPE123456")
        assert missing is not None and missing.status == 404
        assert page.locator("main a[href='tel:96333']").count() == 1


def test_a_refused_report_keeps_what_was_typed(app: Flask, lifts: Elevators) -> None:
    with serving(app) as (url, _), phone(allowed_errors=(f"/e/{UNIT})",)) as device:
        page = device.page
        page.goto(f"{url}/e/{UNIT}")
        page.locator("#description").fill("门不关")
        page.locator("#contact").fill("x" * 200)
        page.locator("#contact").evaluate("input => { input.maxLength = 1000; input.value += 'y'; }")
        with page.expect_navigation():
            page.locator("#report-submit").click()
        assert "联系方式最多 200 字" in page.get_by_role("alert").inner_text()
        assert page.locator("#contact").get_attribute("aria-invalid") == "true"
        assert page.locator("#description").input_value() == "门不关"
        expect(page.locator("#report-made")).to_have_count(0)


def test_the_report_form_needs_its_csrf_token_and_is_rate_limited(app: Flask, lifts: Elevators) -> None:
    client = app.test_client()
    page = client.get(f"/e/{UNIT}")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token is not None
    before = lifts.size()
    forged = client.post(f"/e/{UNIT}", data={"description": "按钮不亮"})  # as another site's form would
    assert forged.status_code == 400 and forged.mimetype == "text/html"
    assert "页面已过期" in forged.get_data(as_text=True) and lifts.size() == before
    form = {"csrf_token": token[1], "description": "按钮不亮"}
    for _ in range(4):  # the refused one counted too: limits count before the CSRF check
        assert client.post(f"/e/{UNIT}", data=form).status_code == 303
    refused = client.post(f"/e/{UNIT}", data=form)
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert int(refused.headers["Retry-After"]) > 0 and "请立即拨打 96333" in refused.get_data(as_text=True)
    assert lifts.size() == before + 4 * 2  # each report: its entry and the hazard it opens
    assert client.get(f"/e/{UNIT}").status_code == 200  # reading the page is not limited with it
