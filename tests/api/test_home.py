"""The home page and its code box: any code a visitor has in hand leads to its page."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.coldchain import ColdChain


@pytest.fixture
def chain(app: Flask, client: FlaskClient) -> ColdChain:
    chain = ColdChain(app, client)
    chain.batch("NZ-2026/11-A", quantity=10)
    return chain


def test_the_home_page_explains_and_offers_the_code_box(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "一码可查" in html and 'name="code"' in html and "/login" in html


@pytest.mark.parametrize(
    "code, target",
    [
        (
            "https://scan.example.cn/01/09506000134352/10/NZ-2026%2F11-A?17=271001",
            "/01/09506000134352/10/NZ-2026%2F11-A",
        ),
        ("(01)09506000134352(10)NZ-2026/11-A", "/01/09506000134352/10/NZ-2026%2F11-A"),
        ("31103301062019000123", "/e/31103301062019000123"),
        ("10001", "/e/10001"),
        ("https://anlian.example/e/31103301062019000123", "/e/31103301062019000123"),
    ],
)
def test_a_code_leads_to_its_page(chain: ColdChain, code: str, target: str) -> None:
    response = chain.client.get("/lookup", query_string={"code": code})
    assert response.status_code == 303 and response.headers["Location"] == target


def test_a_code_that_names_nothing_says_why(client: FlaskClient) -> None:
    product_only = client.get("/lookup", query_string={"code": "09506000134352"})
    assert product_only.status_code == 422 and "批号" in product_only.get_data(as_text=True)
    garbage = client.get("/lookup", query_string={"code": "hello world"})
    assert garbage.status_code == 422 and 'aria-invalid="true"' in garbage.get_data(as_text=True)
    assert client.get("/lookup").status_code == 400


def test_static_files_carry_their_version_and_the_current_one_is_cached_for_a_year(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    found = re.search(r'href="(/static/css/app\.css\?v=([0-9a-f]{12}))"', page)
    assert found, "the stylesheet's address names no version"
    address, version = found.groups()
    assert version == hashlib.sha256((Path(__file__).parents[2] / "static/css/app.css").read_bytes()).hexdigest()[:12]
    current = client.get(address)
    assert current.status_code == 200
    assert current.cache_control.max_age == 365 * 24 * 3600 and current.cache_control.immutable
    # An address without the version, or with an old one, must be revalidated, never kept stale.
    for other in ("/static/css/app.css", "/static/css/app.css?v=000000000000"):
        response = client.get(other)
        assert response.status_code == 200 and response.cache_control.max_age is None, other
        assert response.headers.get("ETag")
