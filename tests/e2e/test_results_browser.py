"""The public inspection results in a real browser (Debian's Chromium) at a phone's size, under
the real Content-Security-Policy: a member of the public opens the results, finds a business by
name, follows its grid to the draw and the businesses there, and reads one business's grade and
the reasons for it."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import expect

from tests.api.test_results_pages import FINDING, GRID, results_world
from tests.e2e.test_integrity_browser import phone, screenshot, serving
from tests.e2e.test_login_browser import fits_the_screen, tab_to


def test_the_public_follows_a_grid_to_a_business_and_reads_its_grade_on_a_phone(app: Flask) -> None:
    world = results_world(app)
    kitchen = world.chain.kitchen
    with serving(app) as (url, _), phone(locale="en-GB") as device:
        page = device.page
        page.goto(f"{url}/results")
        expect(page.locator("h1")).to_have_text("Inspection results")
        assert fits_the_screen(page)

        # Search by keyboard: the field is labelled and reachable, Enter sends it.
        tab_to(page, "q", most=15)
        page.keyboard.type("中央厨房")
        page.keyboard.press("Enter")
        page.wait_for_url("**/results?q=*")
        found = page.locator("#search-results li")
        expect(found).to_have_count(1)
        expect(found).to_contain_text("西溪中央厨房")
        expect(found.locator(".grade")).to_have_text("C Elevated risk")

        page.locator("#areas").get_by_role("link", name="西溪第一网格").click()
        page.wait_for_url(f"**/results/grids/{GRID}")
        draw = page.locator(f"#draw-{world.draw_seq}")
        expect(draw.locator("h3")).to_have_text(f"Draw #{world.draw_seq}")
        expect(draw.locator(".seed")).to_contain_text(f"tree size {world.seed_size}")
        expect(draw.locator(f'li[data-subject="org:{kitchen.org_id}"] .result')).to_have_text("Problems found")
        expect(draw.locator(f'li[data-subject="org:{kitchen.org_id}"] .drawn-note')).to_contain_text(FINDING)
        expect(draw.locator(".rerun code")).to_have_text(f"python -m ledger draw verify {world.draw_seq}")
        expect(page.locator("#businesses li")).to_have_count(3)
        assert fits_the_screen(page)
        screenshot(page, "results.png")

        page.locator("#businesses").get_by_role("link", name="西溪中央厨房").click()
        page.wait_for_url(f"**/results/orgs/{kitchen.org_id}")
        expect(page.locator("#grade .grade")).to_have_text("C Elevated risk")
        expect(page.locator("#reasons li")).to_have_text(
            "3 batches it held had a temperature reading outside the product's safe range in the last 365 days "
            "(15 points)"
        )
        expect(page.locator("#history li")).to_contain_text("Problems found")
        assert fits_the_screen(page)

        # And back up to the grid by the breadcrumb.
        page.locator("#business-grid").click()
        page.wait_for_url(f"**/results/grids/{GRID}")
