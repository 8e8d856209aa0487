"""The inspector's recall view: a batch traced back to its sources and forward to every holder
with city, contact, quantities and dates; opening the recall from the page (once, however
often the form is sent); the FSMA 204 exports it links to; and who may see it."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from ledger.db.engine import transaction
from ledger.db.tables import Batch
from ledger.services import users
from tests.api.test_desk import PASSWORD, log_in
from tests.api.test_desk_hazards import form_fields
from tests.api.test_trace_api import DUMPLING_LOT, LAMB_A, LAMB_B, make_dumplings_and_sell_them
from tests.coldchain import DUMPLINGS, ColdChain

INSPECTOR, MANAGER = "desk@xihu.example.cn", "manager@lianhua.example.cn"
LAMB_CODE = f"(01)09506000134352(10){LAMB_A}"
DUMPLING_CODE = f"(01)0{DUMPLINGS['gtin']}(10){DUMPLING_LOT}"
HOLDERS = ("宁波进口肉类有限公司", "浙江冷链运输有限公司", "萧山冷链中心", "西溪中央厨房", "联华超市西溪店")


@pytest.fixture
def chain(app: Flask, client: FlaskClient) -> ColdChain:
    """Two lamb lots carried to a central kitchen, made into dumplings, sold at a supermarket."""
    chain = ColdChain(app, client)
    for lot in (LAMB_A, LAMB_B):
        chain.batch(lot, quantity=400)
        chain.hand_over(chain.importer, chain.carrier, lot, 300)
        chain.hand_over(chain.carrier, chain.store, lot, 300)
        chain.hand_over(chain.store, chain.kitchen, lot, 200)
    assert chain.post(chain.kitchen, "/api/v1/products", DUMPLINGS).status_code == 201
    make_dumplings_and_sell_them(chain)
    with transaction(chain.engine) as session:
        users.create_user(session, INSPECTOR, chain.inspector.org_id, PASSWORD)
        users.create_user(session, MANAGER, chain.market.org_id, PASSWORD)
    client.set_cookie("lang", "en")
    return chain


def holder(page: str, name: str) -> str:
    """The list item of one holder."""
    found = re.search(rf'<li class="alert" data-org="[^"]+">\s*<strong>{name}</strong>.*?</li>', page, re.S)
    assert found is not None, name
    return found[0]


def test_the_recall_view_traces_forward_to_every_holder_and_back_to_the_sources(
    chain: ColdChain, client: FlaskClient
) -> None:
    assert client.get("/desk/recall", query_string={"batch": LAMB_CODE}).status_code == 302  # log in first
    log_in(client, INSPECTOR)
    response = client.get("/desk/recall", query_string={"batch": LAMB_CODE})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="no-recall"' in page and 'id="open-recall"' in page
    assert all(f"<strong>{name}</strong>" in page for name in HOLDERS) and "5 holders" in page
    importer = holder(page, "宁波进口肉类有限公司")
    assert "杭州市市场监督管理局" in importer and "王经理" in importer and 'href="tel:0571-87000000"' in importer
    assert "宁波进口肉类有限公司仓库, 杭州市3301090101" in importer  # where it was held
    cold_store = holder(page, "萧山冷链中心")
    assert "Received 300.0 箱" in cold_store and '<span class="holds-now">100.0</span>' in cold_store
    assert re.search(r"First held <time datetime=\"2026-11-20T\d\d:\d\d:00\+08:00\">", cold_store)
    assert "JZ20261121" in holder(page, "联华超市西溪店") and '<span class="holds-now">990.0</span>' in page
    assert f"<code>{DUMPLING_LOT}</code>" in page.split('id="downstream"')[1].split("</ol>")[0]
    assert "Registered as is: no source batches." in page
    csv_link = "/api/v1/batches/09506000134352/NZ-2026%2F11-A/recall.csv"
    assert f'href="{csv_link}"' in page and 'href="/api/v1/batches/09506000134352/NZ-2026%2F11-A/recall.xlsx"' in page

    sheet = client.get(csv_link)  # the export the page links to, with the inspector's login
    assert sheet.status_code == 200 and sheet.mimetype == "text/csv"
    text = sheet.get_data(as_text=True).lstrip("\ufeff")
    assert all(name in text for name in HOLDERS)
    assert len(list(csv.DictReader(io.StringIO(text)))) > 5

    dumplings = client.get("/desk/recall", query_string={"batch": DUMPLING_CODE}).get_data(as_text=True)
    sources = dumplings.split('id="sources"')[1].split("</ol>")[0]
    assert f"<code>{LAMB_A}</code>" in sources and f"<code>{LAMB_B}</code>" in sources
    assert f"<code>{DUMPLING_LOT}</code> 50.0 箱" in sources and f"<code>{DUMPLING_LOT}</code> 30.0 箱" in sources

    with transaction(chain.engine, readonly=True) as session:
        batch_id = session.scalar(select(Batch.id).where(Batch.lot == LAMB_B))
    by_number = client.get("/desk/recall", query_string={"batch": str(batch_id)}).get_data(as_text=True)
    assert f"<code>{LAMB_B}</code></h2>" in by_number


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        ("9506000134352", 422, "names a product but no lot"),
        ("(01)09506000134352(10)NOPE", 404, "there is no batch NOPE"),
        ("987654321", 404, "there is no batch numbered 987654321"),
        ("not a code", 422, "a GS1 element string such as"),
    ],
)
def test_a_code_that_names_no_batch_is_said_so(
    chain: ColdChain, client: FlaskClient, code: str, status: int, message: str
) -> None:
    log_in(client, INSPECTOR)
    response = client.get("/desk/recall", query_string={"batch": code})
    page = response.get_data(as_text=True)
    assert response.status_code == status and message in page and 'id="lookup-error"' in page
    assert f'value="{code}"' in page  # the code typed stays in the box


def test_opening_the_recall_appends_one_entry_however_often_the_form_is_sent(
    chain: ColdChain, client: FlaskClient
) -> None:
    log_in(client, INSPECTOR)
    fields = form_fields(
        client.get("/desk/recall", query_string={"batch": LAMB_CODE}).get_data(as_text=True), "open-recall"
    )
    assert fields["batch"] == LAMB_CODE
    size = chain.size()
    reason = "进口冷链食品外包装核酸检测阳性"
    opened = client.post("/desk/recall", data={**fields, "reason": reason})
    assert opened.status_code == 303 and chain.size() == size + 1
    assert client.post("/desk/recall", data={**fields, "reason": reason}).status_code == 303  # sent twice
    assert chain.size() == size + 1
    entry = client.get(f"/api/v1/ledger/entries/{size}").get_json()["entry"]
    assert entry["kind"] == "recall.opened" and entry["payload"]["reason"] == reason

    page = client.get(opened.headers["Location"]).get_data(as_text=True)
    assert (
        f"The recall is open: ledger entry #{size}." in page and f'class="error recall-open" data-seq="{size}"' in page
    )
    assert reason in page and 'id="open-recall"' not in page
    downstream = client.get("/desk/recall", query_string={"batch": DUMPLING_CODE}).get_data(as_text=True)
    assert f'class="error recall-upstream" data-seq="{size}"' in downstream  # its lamb was recalled

    twice = client.post("/desk/recall", data={**fields, "client_event_id": str(uuid.uuid4()), "reason": "再次召回"})
    assert twice.status_code == 409 and "already under recall" in twice.get_data(as_text=True)
    assert chain.size() == size + 1


def test_a_refused_recall_appends_nothing_and_keeps_the_reason(chain: ColdChain, client: FlaskClient) -> None:
    log_in(client, INSPECTOR)
    fields = form_fields(
        client.get("/desk/recall", query_string={"batch": LAMB_CODE}).get_data(as_text=True), "open-recall"
    )
    size = chain.size()
    empty = client.post("/desk/recall", data={**fields, "reason": "   "})
    assert empty.status_code == 422 and "reason must be 1 to 2000 characters" in empty.get_data(as_text=True)
    nul = client.post("/desk/recall", data={**fields, "reason": "外包装\x00检出阳性"})
    assert nul.status_code == 422 and "must not contain NUL" in nul.get_data(as_text=True)
    forged = client.post("/desk/recall", data={**fields, "csrf_token": "forged", "reason": "外包装检出阳性"})
    page = forged.get_data(as_text=True)
    assert forged.status_code == 400 and "nothing was changed" in page and ">外包装检出阳性</textarea>" in page
    assert chain.size() == size


def test_only_inspectors_use_the_recall_view(chain: ColdChain, client: FlaskClient) -> None:
    log_in(client, MANAGER)
    assert client.get("/desk/recall", query_string={"batch": LAMB_CODE}).status_code == 403
    fields = {"batch": LAMB_CODE, "reason": "我要召回", "client_event_id": str(uuid.uuid4())}
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token is not None
    size = chain.size()
    assert client.post("/desk/recall", data={**fields, "csrf_token": token[1]}).status_code == 403
    assert chain.size() == size
