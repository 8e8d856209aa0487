"""The public ledger API: what an outside verifier fetches and checks with its own code."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key
from flask import Flask
from flask.testing import FlaskClient

from api.context import signer as app_signer
from ledger.db import store
from ledger.db.engine import transaction
from ledger.domain.checkpoint import NoteVerifier, open_checkpoint, split_note
from ledger.domain.merkle import verify_consistency, verify_inclusion
from ledger.services import checkpoints
from tests.conftest import ORIGIN
from tests.factories import scan


def fill(app: Flask, count: int, sign_at: tuple[int, ...] = ()) -> None:
    engine = app.extensions["ledger.engine"]
    with app.app_context():
        signer = app_signer()
    for n in range(count):
        with transaction(engine) as session:
            store.append(session, [scan(n)])
            if n + 1 in sign_at:
                checkpoints.sign_current(session, signer, ORIGIN)


def assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["type"]
    return body


def test_an_outside_verifier_can_check_an_entry_end_to_end(app: Flask, client: FlaskClient) -> None:
    fill(app, 21, sign_at=(21,))
    key = client.get("/api/v1/ledger/key").get_json()
    verifier = NoteVerifier.from_verifier_key(key["verifier_key"])
    pem_key = load_pem_public_key(key["public_key_pem"].encode())
    assert isinstance(pem_key, Ed25519PublicKey)

    note = client.get("/api/v1/ledger/checkpoint")
    assert note.mimetype == "text/plain"
    checkpoint = open_checkpoint(note.get_data(as_text=True), verifier, ORIGIN)
    assert checkpoint.tree_size == 21
    # the PEM key checks the note's signature too
    body, [(_, blob)] = split_note(note.get_data(as_text=True))
    pem_key.verify(blob[4:], body.encode())

    raw = client.get("/api/v1/ledger/entries/13/raw").get_data()
    leaf = hashlib.sha256(b"\x00" + raw).digest()
    proof = client.get("/api/v1/ledger/proof/inclusion?seq=13&tree_size=21").get_json()
    assert proof["leaf_hash"] == leaf.hex()
    verify_inclusion(13, 21, leaf, [bytes.fromhex(h) for h in proof["hashes"]], checkpoint.root_hash)


def test_consistency_between_two_published_checkpoints(app: Flask, client: FlaskClient) -> None:
    fill(app, 9, sign_at=(9,))
    with app.app_context():
        verifier = app_signer().verifier()
    old = open_checkpoint(client.get("/api/v1/ledger/checkpoint").get_data(as_text=True), verifier)
    engine = app.extensions["ledger.engine"]
    with transaction(engine) as session:
        store.append(session, [scan(n) for n in range(100, 120)])
        with app.app_context():
            checkpoints.sign_current(session, app_signer(), ORIGIN)
    new = open_checkpoint(client.get("/api/v1/ledger/checkpoint").get_data(as_text=True), verifier)
    response = client.get(f"/api/v1/ledger/proof/consistency?first={old.tree_size}&second={new.tree_size}")
    hashes = [bytes.fromhex(h) for h in response.get_json()["hashes"]]
    verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, hashes)


def test_entry_json_and_raw_bytes_agree(app: Flask, client: FlaskClient) -> None:
    fill(app, 3)
    decoded = client.get("/api/v1/ledger/entries/2").get_json()
    raw = client.get("/api/v1/ledger/entries/2/raw")
    assert raw.mimetype == "application/json"
    assert decoded["leaf_hash"] == hashlib.sha256(b"\x00" + raw.get_data()).hexdigest()
    assert decoded["entry"]["seq"] == 2 and decoded["entry"]["payload"]["unit"] == "箱"


def test_entries_are_paged_in_order(app: Flask, client: FlaskClient) -> None:
    fill(app, 7)
    page = client.get("/api/v1/ledger/entries?from=2&limit=3").get_json()
    assert [e["seq"] for e in page["entries"]] == [2, 3, 4]
    assert page["next"] == 5 and page["tree_size"] == 7
    last = client.get("/api/v1/ledger/entries?from=5&limit=3").get_json()
    assert [e["seq"] for e in last["entries"]] == [5, 6] and last["next"] is None


@pytest.mark.parametrize(
    "url, status",
    [
        ("/api/v1/ledger/entries/99", 404),
        ("/api/v1/ledger/entries/99/raw", 404),
        ("/api/v1/ledger/entries/-1", 404),
        ("/api/v1/ledger/entries?limit=0", 400),
        ("/api/v1/ledger/entries?limit=5000", 400),
        ("/api/v1/ledger/entries?from=abc", 400),
        ("/api/v1/ledger/proof/inclusion?seq=1", 400),
        ("/api/v1/ledger/proof/inclusion?seq=1&tree_size=50", 400),
        ("/api/v1/ledger/proof/inclusion?seq=3&tree_size=2", 400),
        ("/api/v1/ledger/proof/inclusion?seq=40&tree_size=5", 404),
        ("/api/v1/ledger/proof/inclusion?seq=1&tree_size=1e3", 400),
        ("/api/v1/ledger/proof/consistency?first=0&second=3", 400),
        ("/api/v1/ledger/proof/consistency?first=4&second=3", 400),
        ("/api/v1/ledger/proof/consistency?first=1&second=99", 400),
        ("/api/v1/no/such/route", 404),
    ],
)
def test_bad_requests_get_problem_json_never_500(app: Flask, client: FlaskClient, url: str, status: int) -> None:
    fill(app, 5)
    body = assert_problem(client.get(url), status)
    assert body["instance"] == url.split("?")[0]


def test_checkpoint_before_any_is_signed_is_a_404_problem(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/ledger/checkpoint"), 404)


def test_openapi_document_lists_every_api_operation(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {(path, method) for path, operations in spec["paths"].items() for method in operations}
    routed = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json"
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    assert routed == documented


def test_key_endpoint_publishes_matching_pem_and_verifier_key(client: FlaskClient) -> None:
    key = client.get("/api/v1/ledger/key").get_json()
    pem = load_pem_public_key(key["public_key_pem"].encode())
    raw = pem.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert key["verifier_key"].split("+", 2)[2] == base64.b64encode(b"\x01" + raw).decode()
    assert key["verifier_key"].startswith(f"{ORIGIN}+{key['key_id']}+")
