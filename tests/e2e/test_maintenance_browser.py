"""Elevator maintenance on the scanner page (``/scan``) in a real browser (Debian's Chromium,
driven by Playwright) at a phone's size, under the real Content-Security-Policy: a technician
checks in at a unit by reading its QR code with the camera, answers the half-monthly checklist
with one fault and records the visit; the ledger holds the check-in, the record with the answers
and the hazard the fault opened.  Offline, the check-in and the record wait on the phone and
are sent in order, the record only after its check-in is recorded.  A record the form knows the
server would refuse (one technician) is stopped in the form; one the server refuses (the
contract has ended) shows the server's reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Page,
    Request,
    Response,
    expect,
)
from sqlalchemy import Engine, select

from ledger.db.engine import transaction
from ledger.db.tables import Hazard, LedgerEntry
from ledger.domain import maintenance
from ledger.services import users
from tests.api.test_labels import PUBLIC_URL
from tests.e2e.live import serving, sqlite_app
from tests.e2e.test_integrity_browser import Phone
from tests.e2e.test_integrity_browser import phone as browser_phone
from tests.e2e.test_login_browser import fits_the_screen, tab_to
from tests.e2e.test_scanner_browser import attribute, qr_video
from tests.elevators import MEASURED, OTHER_UNIT, UNIT, Elevators, local_today

EMAIL = "wang.fang@kuaijie-lift.example.cn"
PASSWORD = "电梯 维保 2026 冬"
LINK = f"{PUBLIC_URL}/e/{UNIT}"  # what the QR code in the car says
ENDED_LINK = f"{PUBLIC_URL}/e/{OTHER_UNIT}"  # a unit whose maintenance contract has ended
FAULTY = "A1-20"  # the car door's protective device (light curtain)
TEAM = (("王芳", "330106198801011234"), ("李强", "T3301000456"))
SCREENSHOT = Path(__file__).parent / "screenshots" / "maintenance.png"


@dataclass
class Site:
    url: str
    engine: Engine


@pytest.fixture
def site(sqlite_template: Path, tmp_path: Path) -> Iterator[Site]:
    """The app on a free loopback port: the elevator world of the API tests (a property company,
    its unit, the maintenance company under contract), a second unit whose contract with the
    same company ended two days ago, and a technician's login."""
    app = sqlite_app(sqlite_template, tmp_path)
    lifts = Elevators(app, app.test_client())
    lifts.register(OTHER_UNIT, "3301060101", "10002", contract_end=(local_today() - timedelta(days=2)).isoformat())
    with transaction(lifts.engine) as session:
        users.create_user(session, EMAIL, lifts.maintainer.org_id, PASSWORD)
    with serving(app) as url:
        yield Site(url, lifts.engine)
    lifts.engine.dispose()


@contextmanager
def phone(url: str, *extra_args: str) -> Iterator[Phone]:
    """A phone-sized browser reading the pages at ``url`` in English (the tests read the English
    labels) that notes every POST to the equipment API and every answer to one, in order:
    ("post", id) and ("answer", id, status) in ``log``, id being the client_event_id.  The
    failed check-ins and records a test provokes on purpose (offline, a refusal) are the console
    errors allowed."""
    with browser_phone(
        allowed_errors=("/check-in)", "/maintenance)"),
        arguments=extra_args,
        listeners={"request": _on_request, "response": _on_response},
    ) as device:
        device.context.add_cookies([{"name": "lang", "value": "en", "url": url}])
        yield device


def _posted_id(request: Request) -> str | None:
    if request.method != "POST" or "/api/v1/equipment/" not in request.url:
        return None
    value: str | None = json.loads(request.post_data or "{}").get("client_event_id")
    return value


def _on_request(found: Phone, request: Request) -> None:
    posted = _posted_id(request)
    if posted is not None:
        found.log.append(("post", posted))


def _on_response(found: Phone, response: Response) -> None:
    posted = _posted_id(response.request)
    if posted is not None:
        found.log.append(("answer", posted, response.status))


def log_in(page: Page, url: str) -> None:
    page.goto(f"{url}/scan")
    assert page.url == f"{url}/login?next=/scan"  # staff only
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/scan")
    wait_until_ready(page)


def wait_until_ready(page: Page) -> None:
    expect(page.locator("#visit-form")).to_have_attribute("data-ready", "true")


def queue_item(page: Page, kind: str) -> Any:
    """The newest item of a kind in the list on the page."""
    return page.locator(f'#queue > li[data-kind="{kind}"]').first


def check_in(page: Page, link: str) -> str:
    """Type the unit's link and check in; the form turns to the check-out.  Returns the item's id."""
    before = page.locator("#queue > li").count()
    page.locator("#visit-code").fill(link)
    page.locator("#visit-action-check-in").check()
    page.locator("#visit-submit").click()
    expect(page.locator("#queue > li")).to_have_count(before + 1)
    expect(page.locator("#visit-action-check-out")).to_be_checked()
    return attribute(queue_item(page, "check-in"), "data-id")


def answer_checklist(page: Page, tier: str = "half_monthly", faults: tuple[str, ...] = ()) -> None:
    """Answer every item of the tier as a technician would: OK with the readings, or fault."""
    for item in maintenance.checklist(tier):
        page.locator(f"#r-{item.code}-{'fault' if item.code in faults else 'ok'}").check()
        if item.measured:
            page.locator(f"#value-{item.code}").fill(str(MEASURED[item.code]))


def name_the_team(page: Page, team: tuple[tuple[str, str], ...] = TEAM) -> None:
    for number, (name, certificate) in enumerate(team, start=1):
        page.locator(f"#technicians > li:nth-child({number}) [data-name=name]").fill(name)
        page.locator(f"#technicians > li:nth-child({number}) [data-name=certificate]").fill(certificate)


def record(page: Page) -> str:
    """Press "Record the visit"; returns the queued record's id."""
    before = page.locator("#queue > li").count()
    page.locator("#visit-submit").click()
    expect(page.locator("#queue > li")).to_have_count(before + 1)
    return attribute(queue_item(page, "maintenance"), "data-id")


def entries(engine: Engine, after_seq: int = -1) -> list[dict[str, Any]]:
    """The ledger's entries after a seq, decoded, with their client_event_id."""
    with transaction(engine, readonly=True) as db:
        rows = db.scalars(select(LedgerEntry).where(LedgerEntry.seq > after_seq).order_by(LedgerEntry.seq))
        return [{**json.loads(row.entry), "client_event_id": row.client_event_id} for row in rows]


def last_seq(engine: Engine) -> int:
    return max(int(entry["seq"]) for entry in entries(engine))


def test_a_technician_checks_in_by_camera_and_records_a_visit_with_a_fault(site: Site, tmp_path: Path) -> None:
    video = tmp_path / "car.y4m"
    qr_video(video, link=LINK)
    camera = (
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    start = last_seq(site.engine)
    with phone(site.url, *camera) as device:
        page = device.page
        log_in(page, site.url)
        assert "杭州快捷电梯维保有限公司" in page.locator(".scanner-org").inner_text()
        expect(page.locator("#scan-form")).to_have_count(0)  # a maintenance company scans no goods
        expect(page.locator("#visit-check-out")).to_be_hidden()  # check-in comes first

        toggle = page.locator("#visit-camera-toggle")
        toggle.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#visit-code")).to_have_value(LINK, timeout=20_000)
        expect(page.locator("#visit-camera")).to_be_hidden()  # stopped once it has read the code
        assert page.evaluate("document.activeElement.id") == "visit-code"
        expect(page.locator("#visit-submit")).to_have_text("Check in")
        page.keyboard.press("Enter")

        checked_in = queue_item(page, "check-in")
        expect(checked_in).to_have_attribute("data-state", "sent")
        assert UNIT in checked_in.inner_text()
        check_in_id = attribute(checked_in, "data-id")
        expect(page.locator("#visit-checked-in")).to_contain_text("Checked in at this unit on this device")
        expect(page.locator("#visit-check-in-field")).to_be_hidden()  # the time comes from the check-in
        expect(page.locator("#visit-submit")).to_have_text("Record the visit")

        # The half-monthly table only; no answer is given for the technician.
        expect(page.locator('.check-group[data-tier="half_monthly"]')).to_be_visible()
        expect(page.locator('.check-group[data-tier="quarterly"]')).to_be_hidden()
        assert page.locator(".check-group:not([disabled]) .result-choices input:checked").count() == 0
        answer_checklist(page, faults=(FAULTY,))
        fault = page.locator(f'.check-item[data-code="{FAULTY}"] .fault-details')
        expect(fault).to_be_visible()  # what the record must say about the fault
        page.get_by_label("The fault: what is wrong").fill("光幕左侧有遮挡时轿门仍关闭")
        page.locator(f"#fault-{FAULTY}-level-major").check()
        expect(page.locator(f"#fault-{FAULTY}-hazard")).to_be_checked()
        name_the_team(page)
        assert fits_the_screen(page)
        fault.scroll_into_view_if_needed()
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOT)
        assert SCREENSHOT.read_bytes().startswith(b"\x89PNG")

        record_id = record(page)
        recorded = page.locator(f'#queue > li[data-id="{record_id}"]')
        expect(recorded).to_have_attribute("data-state", "sent")
        expect(recorded.locator(".scan-hazards")).to_have_text("Hazards opened: 1")
        assert "Half-monthly maintenance record · 31 items answered · Faults: 1" in recorded.inner_text()
        assert page.evaluate("document.activeElement.id") == "visit-code"  # ready for the next unit
        expect(page.locator("#visit-code")).to_have_value("")
        expect(page.locator("#visit-check-out")).to_be_hidden()
        assert fits_the_screen(page)

        added = entries(site.engine, start)
        assert [entry["kind"] for entry in added] == ["maintenance.checked_in", "maintenance.recorded", "hazard.opened"]
        visit, written, hazard = added
        assert (visit["client_event_id"], written["client_event_id"]) == (check_in_id, record_id)
        assert attribute(checked_in, "data-seq") == str(visit["seq"])
        assert attribute(recorded, "data-seq") == str(written["seq"])
        payload = written["payload"]
        assert payload["equipment_code"] == UNIT and payload["tier"] == "half_monthly"
        assert datetime.fromisoformat(payload["check_in"]) == datetime.fromisoformat(visit["payload"]["check_in"])
        assert payload["check_in"].endswith("+08:00")  # the phone's own offset
        assert datetime.fromisoformat(payload["check_out"]) > datetime.fromisoformat(payload["check_in"])
        answers = {item["code"]: item for item in payload["items"]}
        assert list(answers) == [item.code for item in maintenance.checklist("half_monthly")]
        assert answers[FAULTY]["result"] == "fault"
        assert {code: item["result"] for code, item in answers.items() if code != FAULTY} == dict.fromkeys(
            set(answers) - {FAULTY}, "ok"
        )
        assert (answers["A1-29"]["value"], answers["A1-29"]["unit"]) == (9, "mm")
        assert payload["faults"] == [
            {"description": "光幕左侧有遮挡时轿门仍关闭", "level": "major", "item_code": FAULTY, "open_hazard": True}
        ]
        assert payload["technicians"] == [{"name": n, "certificate": c} for n, c in TEAM]
        with transaction(site.engine, readonly=True) as db:
            opened = db.scalars(select(Hazard)).one()
            assert (opened.source, opened.source_seq, opened.level) == ("maintenance", written["seq"], "major")
            assert opened.opened_seq == hazard["seq"]

        # The team is remembered on the phone for the next visit.
        page.reload()
        wait_until_ready(page)
        assert page.locator("#technicians [data-name=name]").evaluate_all("els => els.map(e => e.value)") == [
            name for name, _ in TEAM
        ]
        assert page.locator("#visit-open").is_hidden()  # the visit is closed: nothing open on the phone


def test_a_visit_made_offline_is_sent_in_order_when_the_network_returns(site: Site) -> None:
    start = last_seq(site.engine)
    with phone(site.url) as device:
        page = device.page
        log_in(page, site.url)
        device.context.set_offline(True)
        expect(page.locator(".connection-offline")).to_be_visible()

        tab_to(page, "visit-code")
        page.keyboard.type(LINK)
        page.keyboard.press("Enter")  # the default action is the check-in
        check_in_id = attribute(queue_item(page, "check-in"), "data-id")
        expect(queue_item(page, "check-in").locator(".badge")).to_have_text("Queued")
        expect(page.locator("#visit-checked-in")).to_be_visible()  # queued counts: made on this device

        answer_checklist(page)
        name_the_team(page)
        record_id = record(page)
        waiting = page.locator(f'#queue > li[data-id="{record_id}"]')
        expect(waiting).to_have_attribute("data-waiting", "true")
        assert "Sent once its check-in is recorded." in waiting.inner_text()
        assert entries(site.engine, start) == []

        expect(page.locator('#queue > li[data-state="queued"]')).to_have_count(2)

        device.context.set_offline(False)  # the online event sends the queue
        expect(page.locator('#queue > li[data-state="sent"]')).to_have_count(2)
        added = entries(site.engine, start)
        assert [(entry["kind"], entry["client_event_id"]) for entry in added] == [
            ("maintenance.checked_in", check_in_id),
            ("maintenance.recorded", record_id),
        ]
        # The record went only after the check-in's answer had come back as recorded.
        first_record_post = device.log.index(("post", record_id))
        assert ("answer", check_in_id, 201) in device.log[:first_record_post]
        assert page.locator(f'#queue > li[data-id="{record_id}"]').get_attribute("data-waiting") is None

        page.reload()  # sent once, recorded once: a reload sends nothing again
        wait_until_ready(page)
        expect(page.locator('#queue > li[data-state="sent"]')).to_have_count(2)
        assert len(entries(site.engine, start)) == 2


def test_a_record_with_one_technician_is_stopped_in_the_form(site: Site) -> None:
    with phone(site.url) as device:
        page = device.page
        log_in(page, site.url)
        check_in(page, LINK)
        answer_checklist(page)
        name_the_team(page, TEAM[:1])
        page.locator("#visit-submit").click()
        second = page.locator("#technicians > li:nth-child(2) [data-name=name]")
        expect(second).to_be_focused()
        message = second.evaluate("input => input.validationMessage")
        assert message == "A visit needs at least two certified technicians."
        expect(page.locator('#queue > li[data-kind="maintenance"]')).to_have_count(0)

        # The same person twice is no team either.
        name_the_team(page, (TEAM[0], ("王芳", TEAM[0][1].lower())))
        page.locator("#visit-submit").click()
        certificate = page.locator("#technicians > li:nth-child(2) [data-name=certificate]")
        expect(certificate).to_be_focused()
        assert "different people" in certificate.evaluate("input => input.validationMessage")
        expect(page.locator('#queue > li[data-kind="maintenance"]')).to_have_count(0)

        # A reading below the standard's minimum stands only as a fault.
        name_the_team(page)
        page.locator("#value-A1-29").fill("6")
        page.locator("#visit-submit").click()
        expect(page.locator("#value-A1-29")).to_be_focused()
        assert "answer Fault" in page.locator("#value-A1-29").evaluate("input => input.validationMessage")
        page.locator("#value-A1-29").fill("9")
        record_id = record(page)
        expect(page.locator(f'#queue > li[data-id="{record_id}"]')).to_have_attribute("data-state", "sent")


def test_a_unit_whose_contract_ended_is_refused_with_the_reason(site: Site) -> None:
    start = last_seq(site.engine)
    with phone(site.url) as device:
        page = device.page
        log_in(page, site.url)
        check_in(page, ENDED_LINK)
        refused = queue_item(page, "check-in")
        expect(refused).to_have_attribute("data-state", "refused")
        reason = refused.locator(".scan-detail").inner_text()
        assert f"holds no running maintenance contract for unit {OTHER_UNIT}" in reason
        assert "Refused" in refused.locator(".badge").inner_text()

        # The refused check-in opened no visit: the form asks when the technician checked in.
        expect(page.locator("#visit-checked-in")).to_be_hidden()
        expect(page.locator("#visit-check-in-field")).to_be_visible()
        answer_checklist(page)
        name_the_team(page)
        page.locator("#visit-submit").click()
        expect(page.locator("#visit-check-in-time")).to_be_focused()  # required without a check-in
        expect(page.locator('#queue > li[data-kind="maintenance"]')).to_have_count(0)
        arrived = page.evaluate(
            "() => { const d = new Date(Date.now() - 45 * 60000); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
            " return d.toISOString().slice(0, 16); }"
        )
        page.locator("#visit-check-in-time").fill(arrived)
        record_id = record(page)
        written = page.locator(f'#queue > li[data-id="{record_id}"]')
        expect(written).to_have_attribute("data-state", "refused")
        assert f"holds no running maintenance contract for unit {OTHER_UNIT}" in written.inner_text()
        assert written.get_by_role("button", name="Send again").is_visible()
        assert entries(site.engine, start) == []
        assert fits_the_screen(page)
