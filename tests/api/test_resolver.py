"""The Digital Link resolver: one URL per batch, a page for people, JSON and a GS1 linkset for
programs, and a helpful answer for codes that resolve to nothing."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.coldchain import ColdChain

LOT = "NZ-2026/11-A"
PATH = "/01/09506000134352/10/NZ-2026%2F11-A"


@pytest.fixture
def chain(app: Flask, client: FlaskClient) -> ColdChain:
    chain = ColdChain(app, client)
    chain.batch(LOT, quantity=400)
    chain.hand_over(chain.importer, chain.carrier, LOT, 300)
    return chain


BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_a_browser_gets_the_public_page_in_chinese(chain: ColdChain, client: FlaskClient) -> None:
    page = client.get(PATH, headers=BROWSER)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for text in ("新西兰冷冻羊肉卷", "宁波进口肉类有限公司", "发货", "收货", "冷冻 ≤ -18 °C"):
        assert text in html, text
    assert "Frozen lamb rolls" not in html and "Shipped" not in html
    # The page differs by language, so a cache must key on what chooses it.
    assert {"Accept", "Cookie", "Accept-Language"} <= set(page.headers["Vary"].replace(" ", "").split(","))


def test_english_is_given_on_request_and_the_choice_is_remembered(chain: ColdChain, client: FlaskClient) -> None:
    preferred = client.get(PATH, headers={**BROWSER, "Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    assert "Frozen lamb rolls" in preferred.get_data(as_text=True)
    switched = client.get("/lang/en", query_string={"next": PATH})
    assert switched.status_code == 303 and switched.headers["Location"] == PATH
    html = client.get(PATH, headers={**BROWSER, "Accept-Language": "zh-CN"}).get_data(as_text=True)
    for text in ("Frozen lamb rolls", "Shipped", "Received", "Frozen ≤ -18 °C", '<html lang="en">'):
        assert text in html, text
    assert "新西兰冷冻羊肉卷" not in html
    client.get("/lang/zh")
    assert "新西兰冷冻羊肉卷" in client.get(PATH, headers=BROWSER).get_data(as_text=True)


def test_programs_get_the_same_data_as_the_public_api(chain: ColdChain, client: FlaskClient) -> None:
    resolved = client.get(PATH, headers={"Accept": "application/json"})
    direct = client.get(f"/api/v1/public/batches/09506000134352/{LOT}")
    assert resolved.status_code == 200 and resolved.get_json() == direct.get_json()
    assert resolved.get_json()["subject"] == "https://id.gs1.org/01/09506000134352/10/NZ-2026%2F11-A"


def test_the_linkset_names_the_batch_and_its_links(chain: ColdChain, client: FlaskClient) -> None:
    for response in (
        client.get(PATH, headers={"Accept": "application/linkset+json"}),
        client.get(PATH + "?linkType=all"),
    ):
        assert response.status_code == 200 and response.mimetype == "application/linkset+json"
        (links,) = response.get_json()["linkset"]
        assert links["anchor"] == "https://id.gs1.org/01/09506000134352/10/NZ-2026%2F11-A"
        assert len(links["https://gs1.org/voc/defaultLink"]) == 1
        hrefs = [link["href"] for values in links.values() if isinstance(values, list) for link in values]
        assert any(href.endswith("/api/v1/public/batches/09506000134352/NZ-2026%2F11-A") for href in hrefs)
        assert 'rel="linkset"' in response.headers["Link"] or "linkset" in response.headers["Link"]


def test_unknown_codes_get_a_helpful_page_or_a_problem(chain: ColdChain, client: FlaskClient) -> None:
    page = client.get("/01/09506000134352/10/NOPE", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "12315" in page.get_data(as_text=True) and "NOPE" in page.get_data(as_text=True)
    problem = client.get("/01/09506000134352/10/NOPE", headers={"Accept": "application/json"})
    assert problem.status_code == 404 and problem.mimetype == "application/problem+json"
    bad = client.get("/01/09506000134353/10/A", headers={"Accept": "text/html"})
    assert bad.status_code == 422 and "check digit" in bad.get_data(as_text=True)
