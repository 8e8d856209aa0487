"""The public inspection results (双随机、一公开) as a member of the public reads them, on SQLite and
PostgreSQL: a cold chain with real excursions and a stray receipt, graded; a draw announced,
seeded by the next signed checkpoint, performed and given results through the API; then the
pages: the areas, the area's draws and businesses, one business's grade in sentences and its
inspection history, the helpful 404, paging, search, and nothing private anywhere."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ledger.db.engine import transaction
from ledger.services import orgs
from tests.api.test_risk_api import POOL, grade, sign
from tests.coldchain import START, ColdChain
from tests.elevators import UNIT, Elevators, local_today

GRID = "3301060101"
WARM_LOTS = ["NZ-2026/11-A", "NZ-2026/11-B", "NZ-2026/11-C"]
CANTEEN = "西溪小学食堂"
# Private data that is in the database and must never reach a public page.
CONTACT = {"person": "赵安全", "phone": "13800000000", "email": "zhao.anquan@example.cn"}
HOME_ADDRESS = "杭州市西湖区文一西路 88 号 3 幢 201 室"
FINDING = "冷库温度记录缺失两天"


@dataclass
class World:
    chain: ColdChain
    canteen: orgs.CreatedOrg
    draw_seq: int
    seed_size: int
    performed_seq: int
    result_seqs: dict[str, int]  # subject → its draw.result entry
    graded_seq: int


def results_world(app: Flask) -> World:
    """The kitchen received three batches too warm (grade C), the supermarket a batch nobody
    shipped (B), the school canteen did nothing wrong (A); all three are drawn in their grid,
    the kitchen found wanting, the supermarket fine, the canteen's result still to come."""
    chain = ColdChain(app, app.test_client())
    with transaction(chain.engine) as session:
        canteen = orgs.create_organisation(session, orgs.OrgSpec(CANTEEN, ["canteen"], contact=CONTACT))
        orgs.register_site(session, {"org_id": canteen.org_id, "name": CANTEEN, "address": HOME_ADDRESS,
                                     "grid_code": GRID}, {"org": canteen.org_id})  # fmt: skip
    importer_site = chain.sites[chain.importer.org_id]
    for lot in WARM_LOTS:
        chain.batch(lot)
        shipped = chain.scan(chain.importer, "ship", lot, to_org_id=chain.kitchen.org_id, site_id=importer_site)
        assert shipped.status_code == 201, shipped.get_json()
        warm = chain.scan(chain.kitchen, "receive", lot, from_org_id=chain.importer.org_id,
                          site_id=chain.sites[chain.kitchen.org_id], temperature_c=-5)  # fmt: skip
        assert warm.status_code == 201, warm.get_json()
    stray = chain.scan(chain.market, "receive", "NEVER-SHIPPED", site_id=chain.sites[chain.market.org_id])
    assert stray.status_code == 201 and stray.get_json()["unexpected_receipt"]
    graded = grade(app, START.date() + timedelta(days=7))
    assert graded.seq is not None
    sign(app)  # a checkpoint from before the announcement is not the draw's seed

    announced = chain.post(chain.inspector, "/api/v1/draws", {"grid_code": GRID, "n": 3, "pool": POOL})
    assert announced.status_code == 201, announced.get_json()
    seq = announced.get_json()["announced_seq"]
    sign(app)
    performed = chain.post(chain.inspector, f"/api/v1/draws/{seq}/perform", {})
    assert performed.status_code == 200, performed.get_json()
    results = {}
    for who, result, note in ((chain.kitchen, "non_compliant", FINDING), (chain.market, "compliant", None)):
        body = {"subject": f"org:{who.org_id}", "result": result, **({"note": note} if note else {})}
        recorded = chain.post(chain.inspector, f"/api/v1/draws/{seq}/results", body)
        assert recorded.status_code == 201, recorded.get_json()
        results[f"org:{who.org_id}"] = recorded.get_json()["recorded_seq"]
    public = chain.get(None, f"/api/v1/public/draws/{seq}").get_json()
    return World(chain, canteen, seq, public["seed"]["tree_size"], public["drawn_seq"], results, graded.seq)


@pytest.fixture
def world(app: Flask) -> World:
    return results_world(app)


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    """The page in English (the Chinese catalogue may lag behind the English ids)."""
    client.set_cookie("lang", "en")
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def words(html: str) -> str:
    """The text a reader sees: tags dropped, entities decoded, white space collapsed (and none
    before punctuation, where a tag's end left some)."""
    text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()
    return re.sub(r" ([:.,)])", r"\1", text)


def block(html: str, element_id: str) -> str:
    """The words of the element with ``element_id`` (up to the end of its tag's kind)."""
    start = html.index(f'id="{element_id}"')
    tag = html.rfind("<", 0, start)
    name = re.match(r"<(\w+)", html[tag:])
    assert name is not None
    end = html.index(f"</{name.group(1)}>", start)
    return words(html[tag:end])


def assert_nothing_private(html: str, world: World) -> None:
    for secret in (*CONTACT.values(), HOME_ADDRESS, world.canteen.api_key, world.chain.kitchen.api_key,
                   world.chain.inspector.api_key, "0571-87000000", "王经理"):  # fmt: skip
        assert secret not in html


# --- what the public sees -------------------------------------------------------------------


def test_the_areas_page_counts_draws_and_graded_businesses_and_links_to_each_area(
    client: FlaskClient, world: World
) -> None:
    html = page(client, "/results")
    assert "<script" not in html  # readable without JavaScript: there is none
    areas = re.findall(r'<li class="area depth-(\d)" data-code="(\w+)">', html)
    # The tree in order, only where something was published; the district holds both grids.
    assert areas == [("0", "330100"), ("1", "330106"), ("2", "33010601"), ("3", GRID),
                     ("1", "330109"), ("2", "33010901"), ("3", "3301090101")]  # fmt: skip
    grid = block(html, "areas").split("西溪第一网格")[1].split("宁围")[0]
    assert "1 draw · 3 businesses: A 1 B 1 C 1 D 0" in grid  # the canteen, the supermarket, the kitchen
    assert f'href="/results/grids/{GRID}"' in html
    city = words(html).split("杭州市市场监督管理局")[1]
    assert city.startswith(" City bureau · 330100 1 draw · 6 businesses: A 4 B 1 C 1 D 0")  # and Xiaoshan's three
    assert_nothing_private(html, world)

    xiaoshan = page(client, "/results/grids/3301090101")
    assert block(xiaoshan, "no-draws") == "No draw has been announced for this area yet."
    assert "宁波进口肉类有限公司 A Low risk" in block(xiaoshan, "businesses")
    assert_nothing_private(xiaoshan, world)


def test_an_area_page_shows_each_draw_its_seed_results_and_how_to_rerun_it(client: FlaskClient, world: World) -> None:
    html = page(client, f"/results/grids/{GRID}")
    chain, seq = world.chain, world.draw_seq
    draw = block(html, f"draw-{seq}")
    assert f"Draw #{seq}" in draw
    assert "Announced" in draw and "西湖区市场监管局" in draw and f"Ledger entry #{seq}" in draw
    assert "3 of 3 candidates (businesses and equipment), weighted by grade: A ×1 B ×2 C ×4 D ×8" in draw
    assert "2 for each one drawn, from a pool of 4" in draw
    size = world.seed_size
    assert f"The root hash of the checkpoint signed at tree size {size} (ledger entries #0 to #{size - 1})" in draw
    assert size == seq + 1  # the first checkpoint signed after the announcement
    public = chain.get(None, f"/api/v1/public/draws/{seq}").get_json()
    assert public["seed"]["root_hash"] in draw
    assert "Performed" in draw and f"Ledger entry #{world.performed_seq}" in draw

    drawn = re.findall(r'<li data-subject="org:(\w+)" data-result="(\w+)">', html)
    assert sorted(drawn) == sorted([(chain.kitchen.org_id, "non_compliant"), (chain.market.org_id, "compliant"),
                                    (world.canteen.org_id, "pending")])  # fmt: skip
    kitchen = words(html.split(f'data-subject="org:{chain.kitchen.org_id}"')[1].split("</li>")[0])
    assert "西溪中央厨房" in kitchen and "grade C when drawn" in kitchen
    assert "Problems found" in kitchen and FINDING in kitchen
    assert f"Ledger entry #{world.result_seqs[f'org:{chain.kitchen.org_id}']}" in kitchen
    inspectors = {member["name"] for member in POOL}
    named = kitchen.split("Inspectors:")[1].split("Problems found")[0].replace(",", " ").split()
    assert len(named) == 2 and set(named) <= inspectors
    market = words(html.split(f'data-subject="org:{chain.market.org_id}"')[1].split("</li>")[0])
    assert "联华超市西溪店" in market and "No problems found" in market and "grade B when drawn" in market
    canteen = words(html.split(f'data-subject="org:{world.canteen.org_id}"')[1].split("</li>")[0])
    assert "Result not published yet" in canteen and "grade A when drawn" in canteen
    assert f'href="/results/orgs/{chain.kitchen.org_id}"' in html

    # Anyone can re-run it: the command and the address on the page, and the address agrees.
    assert f"python -m ledger draw verify {seq}" in draw
    assert f'href="/api/v1/public/draws/{seq}/verification"' in html
    assert client.get(f"/api/v1/public/draws/{seq}/verification").get_json()["matches"] is True

    businesses = block(html, "businesses")
    for name, letter, meaning in (("联华超市西溪店", "B", "Moderate risk"), ("西溪中央厨房", "C", "Elevated risk"),
                                  (CANTEEN, "A", "Low risk")):  # fmt: skip
        assert f"{name} {letter} {meaning} graded 2026-11-27" in businesses
    assert_nothing_private(html, world)


def test_a_business_page_says_its_grade_and_why_and_lists_its_inspections(client: FlaskClient, world: World) -> None:
    chain = world.chain
    html = page(client, f"/results/orgs/{chain.kitchen.org_id}")
    assert "<h1>西溪中央厨房</h1>" in html
    grade_block = block(html, "grade")
    assert "C Elevated risk" in grade_block
    assert "Score: 15 points. Grade B starts at 5 points, C at 15, D at 30." in grade_block
    assert block(html, "reasons") == (
        "3 batches it held had a temperature reading outside the product's safe range in the last 365 days (15 points)"
    )
    assert "Graded on 2026-11-27." in grade_block and f"Ledger entry #{world.graded_seq}" in grade_block
    assert client.get(f"/api/v1/ledger/entries/{world.graded_seq}").get_json()["entry"]["kind"] == "risk.graded"

    history = block(html, "history")
    assert f"Draw #{world.draw_seq} · 西溪第一网格 · Drawn:" in history
    assert "Problems found" in history and FINDING in history
    assert f'href="/results/grids/{GRID}#draw-{world.draw_seq}"' in html
    assert f'href="/results/grids/{GRID}"' in html  # the breadcrumb back to its grid
    assert_nothing_private(html, world)

    market = words(page(client, f"/results/orgs/{chain.market.org_id}"))
    assert "B Moderate risk" in market and "Score: 5 points." in market
    assert "1 receipt of uncoded goods, or of goods nobody recorded shipping to it, in the last 365 days" in market
    assert "No problems found" in market

    canteen = page(client, f"/results/orgs/{world.canteen.org_id}")
    assert "A Low risk" in words(canteen) and "Score: 0 points." in words(canteen)
    assert block(canteen, "reasons") == "Nothing counted against it in the last 365 days."
    assert "Result not published yet" in block(canteen, "history")
    assert_nothing_private(canteen, world)


def test_a_business_never_graded_or_drawn_says_so(app: Flask, client: FlaskClient, world: World) -> None:
    with transaction(world.chain.engine) as session:
        newcomer = orgs.create_organisation(session, orgs.OrgSpec("新开的面馆", ["canteen"], contact=CONTACT))
    html = page(client, f"/results/orgs/{newcomer.org_id}")
    assert "has not been graded yet" in block(html, "not-graded")
    assert block(html, "no-history") == "Not drawn for inspection yet."
    assert_nothing_private(html, world)


def test_unknown_areas_and_businesses_get_a_helpful_404(client: FlaskClient, world: World) -> None:
    bureau = world.chain.inspector.org_id
    for url, said in (
        ("/results/grids/999999", "There is no area with code 999999."),
        ("/results/orgs/org_0000000000000000", "There is no business with id org_0000000000000000."),
        # A bureau is not a business: it has no grade and no page here.
        (f"/results/orgs/{bureau}", f"There is no business with id {bureau}."),
    ):
        html = page(client, url, 404)
        assert said in block(html, "results-missing")
        assert 'href="/results"' in html and '<label for="q">Find a business by name</label>' in html
    html = page(client, "/results/grids/%3Cb%3Ex", 404)
    assert "<b>x" not in html and "There is no area with code &lt;b&gt;x." in html


def test_bad_page_numbers_are_refused_in_the_page(client: FlaskClient, world: World) -> None:
    for query in ("page=0", "page=abc", "business_page=-1", "page=%C2%B2"):  # the last is a superscript 2
        html = page(client, f"/results/grids/{GRID}?{query}", 400)
        assert "The page number must be a whole number from 1." in html
    for query in ("page=2", "business_page=2", f"page={'9' * 40}"):
        assert "fewer pages" in page(client, f"/results/grids/{GRID}?{query}", 404)
    # Characters no id or name holds are a miss (or a refused search), never a database error.
    assert "There is no business" in page(client, "/results/orgs/org%00x", 404)
    assert "There is no business" in page(client, f"/results/orgs/{'x' * 500}", 404)
    assert "without control characters" in page(client, "/results?q=%E8%A5%BF%00", 422)


def test_many_draws_are_paged_newest_first_and_a_business_links_to_the_right_page(
    client: FlaskClient, world: World
) -> None:
    chain = world.chain
    later = []
    for _ in range(11):  # announced, not yet performed: waiting for their checkpoint
        announced = chain.post(chain.inspector, "/api/v1/draws", {"grid_code": GRID, "n": 1, "pool": POOL})
        assert announced.status_code == 201, announced.get_json()
        later.append(announced.get_json()["announced_seq"])
    first = page(client, f"/results/grids/{GRID}")
    shown = [int(seq) for seq in re.findall(r'<article class="draw" id="draw-(\d+)"', first)]
    assert shown == sorted(later, reverse=True)[:10]
    assert "Waiting for the next signed checkpoint" in block(first, f"draw-{later[-1]}")
    assert "12 draws" in block(first, "area-summary")
    assert "Page 1 of 2" in first and f'href="/results/grids/{GRID}?page=2#draws"' in first
    second = page(client, f"/results/grids/{GRID}?page=2")
    shown = [int(seq) for seq in re.findall(r'<article class="draw" id="draw-(\d+)"', second)]
    assert shown == [later[0], world.draw_seq]
    assert f'rel="prev" href="/results/grids/{GRID}#draws"' in second
    # The performed draw is on page 2 now: the kitchen's history says so.
    kitchen = page(client, f"/results/orgs/{chain.kitchen.org_id}")
    assert f'href="/results/grids/{GRID}?page=2#draw-{world.draw_seq}"' in kitchen
    # The district lists its grids' draws as well, and links down to the grid.
    district = page(client, "/results/grids/330106")
    assert "12 draws" in block(district, "area-summary") and f'href="/results/grids/{GRID}"' in district


def test_searching_a_business_by_name(client: FlaskClient, world: World) -> None:
    chain = world.chain
    html = page(client, "/results?q=西溪")
    section = html.split('id="search-results"')[1].split("</section>")[0]
    found = re.findall(r'<li data-org="(\w+)">', section)
    assert set(found) == {chain.kitchen.org_id, chain.market.org_id, world.canteen.org_id}
    assert "3 businesses found" in block(html, "search-results")
    assert 'value="西溪"' in html
    # Bureaus are not businesses, and a % is a character, not a wildcard.
    assert "0 businesses found" in page(client, "/results?q=市场监管局")
    assert "0 businesses found" in page(client, "/results?q=%25")
    typed = "<script>alert(1)</script>" + "超" * 100
    refused = page(client, f"/results?q={typed}", 422)
    assert "Search with at most 100 characters of the name." in block(refused, "search-error")
    assert 'aria-invalid="true"' in refused and "&lt;script&gt;alert(1)&lt;/script&gt;" + "超" * 100 in refused
    assert "<script>" not in refused


def test_pages_follow_the_language_and_default_to_chinese(client: FlaskClient, world: World) -> None:
    html = client.get(f"/results/grids/{GRID}").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and f"账本记录 #{world.draw_seq}" in html
    english = page(client, f"/results/grids/{GRID}")
    assert '<html lang="en">' in english and f"Ledger entry #{world.draw_seq}" in english


# --- equipment and maintenance companies ----------------------------------------------------


def test_a_draw_of_elevators_links_to_their_public_page_and_the_maintainer_reads_why(
    app: Flask, client: FlaskClient
) -> None:
    lifts = Elevators(app, client)
    assert lifts.visit("half_monthly", days_ago=20).status_code == 201  # five days overdue
    grade(app, local_today())
    sign(app)
    announced = lifts.post(lifts.inspector, "/api/v1/draws",
                           {"grid_code": "330106", "n": 1, "pool": POOL, "kind": "equipment"})  # fmt: skip
    assert announced.status_code == 201, announced.get_json()
    seq = announced.get_json()["announced_seq"]
    sign(app)
    assert lifts.post(lifts.inspector, f"/api/v1/draws/{seq}/perform").status_code == 200
    recorded = lifts.post(lifts.inspector, f"/api/v1/draws/{seq}/results",
                          {"subject": f"equipment:{UNIT}", "result": "not_found"})  # fmt: skip
    assert recorded.status_code == 201

    html = page(client, "/results/grids/330106")
    draw = block(html, f"draw-{seq}")
    assert f"Equipment {UNIT}" in draw and f'href="/e/{UNIT}"' in html
    assert "1 of 1 candidates (equipment units)" in draw
    assert "Not found at the place on record" in draw
    maintainer = words(page(client, f"/results/orgs/{lifts.maintainer.org_id}"))
    assert "B Moderate risk" not in maintainer and "A Low risk" in maintainer  # 2.5 points: still A
    assert (
        "5 days of overdue maintenance, added up over the elevators it maintains, in the last 365 days (2.5 points)"
        in maintainer
    )
    for secret in ("赵安全", "13800000000", lifts.maintainer.api_key):
        assert secret not in html and secret not in maintainer
