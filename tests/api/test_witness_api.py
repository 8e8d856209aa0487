"""``/api/v1/ledger/witnesses`` and ``/api/v1/ledger/cosignatures``: registering a witness is an
admin's ledger entry; a cosignature is accepted only when it is its own proof."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient

from api import context as app_context
from ledger.db import store
from ledger.db.engine import transaction
from ledger.domain.checkpoint import split_note, verifier_key
from ledger.domain.cosignature import Cosigner, cosigner_vkey
from ledger.services import checkpoints
from tests.api.test_grids_api import api_key, ledger_size
from tests.api.test_ledger_api import assert_problem
from tests.conftest import ORIGIN
from tests.factories import scan

NOW = int(datetime.now(UTC).timestamp())
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


@pytest.fixture
def admin(app: Flask) -> dict[str, str]:
    return api_key(app, ["admin"])


@pytest.fixture
def bureau() -> Cosigner:
    return Cosigner("witness.scjg.zj.example/anlian", Ed25519PrivateKey.generate())


def signed(app: Flask, entries: int = 4) -> str:
    """Append entries and sign a checkpoint; the checkpoint's body."""
    with app.app_context():
        signer = app_context.signer()
    with transaction(app.extensions["ledger.engine"]) as session:
        store.append(session, [scan(n + ledger_size(app)) for n in range(entries)])
        row = checkpoints.sign_current(session, signer, ORIGIN)
        assert row is not None
        return split_note(row.note)[0]


def cosigned(body: str, *lines: str) -> str:
    return body + "\n" + "".join(line + "\n" for line in lines)


def register(client: FlaskClient, admin: dict[str, str], who: Cosigner, organisation: str = "省市场监管局") -> int:
    response = client.post(
        "/api/v1/ledger/witnesses", json={"verifier_key": who.vkey, "organisation": organisation}, headers=admin
    )
    assert response.status_code in (200, 201), response.get_json()
    return response.status_code


def test_an_admin_registers_a_witness_once_as_a_ledger_entry(
    app: Flask, client: FlaskClient, admin: dict[str, str], bureau: Cosigner
) -> None:
    before = ledger_size(app)
    assert register(client, admin, bureau) == 201
    listed = client.get("/api/v1/ledger/witnesses").get_json()["witnesses"]
    assert [(w["name"], w["verifier_key"], w["organisation"]) for w in listed] == [
        (bureau.name, bureau.vkey, "省市场监管局")
    ]
    seq = listed[0]["registered_seq"]
    entry = client.get(f"/api/v1/ledger/entries/{seq}").get_json()["entry"]
    assert entry["kind"] == "witness.registered" and entry["payload"]["verifier_key"] == bureau.vkey
    assert entry["actor"]["org"]  # who registered it
    assert register(client, admin, bureau) == 200  # a retry appends nothing
    assert ledger_size(app) == before + 1


def test_registration_refuses_bad_keys_conflicts_and_non_admins(
    app: Flask, client: FlaskClient, admin: dict[str, str], bureau: Cosigner
) -> None:
    url = "/api/v1/ledger/witnesses"
    anyone = api_key(app, ["retailer"])
    before = ledger_size(app)
    assert_problem(client.post(url, json={"verifier_key": bureau.vkey, "organisation": "x"}, headers=anyone), 403)
    assert_problem(client.post(url, json={"verifier_key": bureau.vkey, "organisation": "x"}), 401)
    note_key = verifier_key(bureau.name, bureau.public_key_bytes)  # a note key (type 0x01) is no witness key
    problem = assert_problem(client.post(url, json={"verifier_key": note_key, "organisation": "x"}, headers=admin), 422)
    assert "verifier_key" in problem["detail"]
    with app.app_context():
        ledger_key = app_context.signer().public_key_bytes
    own = cosigner_vkey("operator.example/w", ledger_key)
    problem = assert_problem(client.post(url, json={"verifier_key": own, "organisation": "x"}, headers=admin), 422)
    assert "not the ledger's signing key" in problem["detail"]
    assert_problem(client.post(url, json={"verifier_key": bureau.vkey, "organisation": " "}, headers=admin), 422)
    assert_problem(client.post(url, json={"verifier_key": bureau.vkey}, headers=admin), 400)
    extra = {"verifier_key": bureau.vkey, "organisation": "x", "trusted": True}
    assert_problem(client.post(url, json=extra, headers=admin), 400)
    assert_problem(client.post(url, data="x", headers={**admin, **TEXT}), 415)
    assert ledger_size(app) == before  # nothing refused was written

    register(client, admin, bureau)
    impostor = Cosigner(bureau.name, Ed25519PrivateKey.generate())  # the same name, another key
    problem = assert_problem(
        client.post(url, json={"verifier_key": impostor.vkey, "organisation": "x"}, headers=admin), 409
    )
    assert "already registered with another key" in problem["detail"]


def test_a_cosignature_is_stored_and_served_with_the_checkpoint(
    app: Flask, client: FlaskClient, admin: dict[str, str], bureau: Cosigner
) -> None:
    register(client, admin, bureau)
    body = signed(app)
    response = client.post(
        "/api/v1/ledger/cosignatures", data=cosigned(body, bureau.sign(body, NOW).line), headers=TEXT
    )
    assert response.status_code == 200, response.get_json()
    size = int(body.split("\n")[1])
    assert response.get_json() == {"accepted": [{"witness": bureau.name, "tree_size": size, "timestamp": NOW}]}
    served = client.get("/api/v1/ledger/checkpoint").get_data(as_text=True)
    assert served.endswith(bureau.sign(body, NOW).line + "\n")
    # An older cosignature of the same checkpoint does not replace a newer one; a newer one does.
    client.post("/api/v1/ledger/cosignatures", data=cosigned(body, bureau.sign(body, NOW - 60).line), headers=TEXT)
    assert client.get("/api/v1/ledger/checkpoint").get_data(as_text=True) == served
    newer = bureau.sign(body, NOW + 60).line
    client.post("/api/v1/ledger/cosignatures", data=cosigned(body, newer), headers=TEXT)
    assert client.get("/api/v1/ledger/checkpoint").get_data(as_text=True).endswith(newer + "\n")
    latest = client.get("/api/v1/ledger/witnesses").get_json()["witnesses"][0]["latest_cosignature"]
    assert latest["tree_size"] == size and latest["timestamp"] == NOW + 60


def test_cosignatures_that_prove_nothing_are_refused(
    app: Flask, client: FlaskClient, admin: dict[str, str], bureau: Cosigner
) -> None:
    url = "/api/v1/ledger/cosignatures"
    register(client, admin, bureau)
    body = signed(app)
    stranger = Cosigner("witness.stranger.example/w", Ed25519PrivateKey.generate())
    problem = assert_problem(client.post(url, data=cosigned(body, stranger.sign(body, NOW).line), headers=TEXT), 403)
    assert "no cosignature by a registered witness" in problem["detail"]
    other_body = body.replace(body.split("\n")[2], "A" * 43 + "=")  # a root this ledger never signed
    problem = assert_problem(
        client.post(url, data=cosigned(other_body, bureau.sign(other_body, NOW).line), headers=TEXT), 422
    )
    assert "signed no checkpoint with this body" in problem["detail"]
    good = bureau.sign(body, NOW)
    forged = good.line[:-6] + ("AAAA==" if not good.line.endswith("AAAA==") else "BBBB==")
    problem = assert_problem(client.post(url, data=cosigned(body, forged), headers=TEXT), 403)
    assert "does not verify" in problem["detail"]
    future = bureau.sign(body, NOW + 3600)
    assert (
        "in the future"
        in assert_problem(client.post(url, data=cosigned(body, future.line), headers=TEXT), 422)["detail"]
    )
    assert_problem(client.post(url, data=cosigned(body, good.line), headers={"Content-Type": "application/json"}), 415)
    assert_problem(client.post(url, data="no note here", headers=TEXT), 400)
    assert_problem(client.post(url, data=b"\xff\xfe" + body.encode(), headers=TEXT), 400)
    assert_problem(client.post(url, data="x" * (64 * 1024 + 1), headers=TEXT), 400)
    assert client.get("/api/v1/ledger/witnesses").get_json()["witnesses"][0]["latest_cosignature"] is None
