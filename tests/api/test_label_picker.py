"""A producer picks which of its own batches to print labels for (``/labels``); the form opens
the public A4 sheet with one ``batch`` per ticked box."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ledger.db.engine import transaction
from ledger.services import users
from tests.api.test_login import csrf_token, log_in
from tests.coldchain import ColdChain

IMPORTER_STAFF = ("label@importer.example.cn", "打印 标签 2026 冬")
STORE_STAFF = ("store@example.cn", "冷库 值班 2026 冬")


@pytest.fixture
def chain(app: Flask, client: FlaskClient) -> ColdChain:
    chain = ColdChain(app, client)
    chain.batch("NZ-2026/11-A")
    chain.batch("NZ-2026/11-B")
    with transaction(chain.engine) as session:
        users.create_user(session, IMPORTER_STAFF[0], chain.importer.org_id, IMPORTER_STAFF[1])
        users.create_user(session, STORE_STAFF[0], chain.store.org_id, STORE_STAFF[1])
    return chain


def boxes(html: str) -> list[str]:
    return re.findall(r'name="batch" value="([^"]+)"', html)


def test_a_producer_picks_its_own_batches_and_the_form_opens_their_sheet(chain: ColdChain, client: FlaskClient) -> None:
    assert client.get("/labels").status_code == 302  # not logged in: to the login page
    log_in(client, IMPORTER_STAFF[1], IMPORTER_STAFF[0])
    page = client.get("/labels")
    listed = boxes(page.get_data(as_text=True))
    assert page.status_code == 200 and listed == ["09506000134352/NZ-2026/11-B", "09506000134352/NZ-2026/11-A"]
    assert boxes(client.get("/labels", query_string={"q": "11-b"}).get_data(as_text=True)) == [listed[0]]
    assert boxes(client.get("/labels", query_string={"q": "100%"}).get_data(as_text=True)) == []  # % is literal
    # The form's GET, as a browser sends it: the ticked boxes and the copies.
    sheet = client.get("/labels/batches", query_string={"batch": listed, "copies": "2"})
    assert sheet.status_code == 200 and sheet.get_data(as_text=True).count('<article class="label">') == 4
    assert 'href="/labels"' in client.get("/account").get_data(as_text=True)


def test_an_organisation_that_codes_no_batches_is_told_so(chain: ColdChain, client: FlaskClient) -> None:
    log_in(client, STORE_STAFF[1], STORE_STAFF[0])
    refused = client.get("/labels")
    assert refused.status_code == 403 and "生产企业和加工企业" in refused.get_data(as_text=True)
    assert csrf_token(client, "/account")  # still logged in, on its own pages
